"""A replica of the policy store: serve the active version, follow every change, fail static.

`open_replica` gives the decision point a replica starts with: the store's
active version, or — when the store cannot be reached — the local cached copy
of the last version this replica saw (a bundle file, hash-checked), saying
so. `StoreFollower` is a daemon thread that LISTENs on the `pdp_policy`
channel and polls the active row every `poll_interval` seconds as a fallback;
on a change it fetches, validates and compiles the new version beside the
running one and hands it to the reloader, which swaps it in atomically and
records the change. While the store is down the replica keeps deciding with
the version it holds (fail static), reports itself degraded, and retries;
when the store returns it catches up with whatever was activated meanwhile.
Decisions never wait on the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from pdp.decision_point import DecisionPoint
from pdp.errors import PdpError, PolicyError, Problem, StorageError
from pdp.store.bundle import write_bundle
from pdp.store.db import CONNECT_TIMEOUT_S, STATEMENT_TIMEOUT_MS, store_url
from pdp.store.policy_store import PDP_CHANNEL, PolicyStore, StoredVersion
from pdp.store.source import LoadedSource, load_source

log = logging.getLogger("pdp.store")

POLL_INTERVAL_S = 5.0
RETRY_S = 1.0
NO_ACTIVE = "the policy store holds no active version: push one with `pdp policy push`"


@dataclass(frozen=True, slots=True)
class ReplicaStart:
    """How a replica started: its decision point, the store event it serves, and from where."""

    dp: DecisionPoint
    event_seq: int
    from_cache: bool


def write_cache(cache: Path, version: StoredVersion) -> None:
    """Keep a local copy of a store version (a bundle, replaced atomically); errors are logged."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_bundle(cache, list(version.sources), version.version)
    except (OSError, PdpError) as exc:
        log.warning("cannot write the policy cache: %s", exc)


def open_replica(url: str, cache: Path | None) -> ReplicaStart:
    """The store's active version, or the cached copy when the store is unreachable.

    Raises `StorageError` when neither is available, `PolicyError` when the
    version is invalid.
    """
    store = PolicyStore.open(url)
    try:
        current = store.active()
    except (StorageError, SQLAlchemyError) as exc:
        if cache is None or not cache.is_file():
            reason = exc if isinstance(exc, StorageError) else type(exc).__name__
            raise StorageError(f"the policy store is unreachable ({reason}) and no cache") from None
        loaded = replace(load_source(cache), kind="cache")
        if loaded.compiled is None:
            raise PolicyError(list(loaded.problems)) from None
        log.warning(
            "policy store unreachable: serving the cached version %s", loaded.compiled.version
        )
        return ReplicaStart(DecisionPoint(loaded.compiled), -1, True)
    finally:
        store.close()
    if current.version is None:
        raise StorageError(NO_ACTIVE)
    loaded = current.version.load()
    if loaded.compiled is None:
        raise PolicyError(list(loaded.problems))
    if cache is not None:
        write_cache(cache, current.version)
    return ReplicaStart(DecisionPoint(loaded.compiled), current.event_seq, False)


def listen_conninfo(url: str) -> str:
    """The libpq connection string psycopg's LISTEN connection uses."""
    return (
        make_url(store_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
    )


Apply = Callable[[LoadedSource, str, str], object]


class StoreFollower:
    """Keeps a replica on the store's active version (LISTEN/NOTIFY, poll fallback, fail static)."""

    def __init__(
        self,
        url: str,
        start: ReplicaStart,
        apply: Apply,
        cache: Path | None = None,
        poll_interval: float = POLL_INTERVAL_S,
    ) -> None:
        self.url = url
        self.apply = apply
        self.cache = cache
        self.poll_interval = poll_interval
        self.event_seq = start.event_seq
        self.from_cache = start.from_cache
        self.healthy = not start.from_cache
        self.problem = (
            "serving the cached version; the store is unreachable" if start.from_cache else ""
        )
        self.store = PolicyStore.open(url)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following the store."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pdp-store-follow", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following and close the store's connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.store.close()

    def load_active(self) -> LoadedSource:
        """The store's active version, loaded (for an explicit reload); never raises."""
        try:
            current = self.store.active()
        except (StorageError, SQLAlchemyError):
            return LoadedSource(
                "store", None, (Problem("store_unreachable", "the policy store is unreachable"),)
            )
        if current.version is None:
            return LoadedSource("store", None, (Problem("store_empty", NO_ACTIVE),))
        loaded = current.version.load()
        if loaded.compiled is not None:
            self._served(current.event_seq, current.version)
        return loaded

    def refresh(self) -> None:
        """Apply the active version when it changed since the last look (raises on store errors)."""
        with self._lock:
            seq = self.store.active_seq()
            if seq == self.event_seq:
                return
            current = self.store.active()
            if current.version is None:
                self.event_seq = current.event_seq
                return
            loaded = current.version.load()
            self.apply(loaded, "store", current.version.author)
            if loaded.compiled is not None:
                self._served(current.event_seq, current.version)
            else:
                self.event_seq = current.event_seq  # refused once, recorded; do not retry it

    def _served(self, seq: int, version: StoredVersion) -> None:
        self.event_seq = seq
        self.from_cache = False
        if self.cache is not None:
            write_cache(self.cache, version)

    def _run(self) -> None:
        retry = RETRY_S
        while not self._stop.is_set():
            try:
                self._follow()
                retry = RETRY_S
            except (psycopg.Error, SQLAlchemyError, PdpError, OSError) as exc:
                if self.healthy:
                    log.warning(
                        "policy store unreachable (%s): serving the version held",
                        type(exc).__name__,
                    )
                self.healthy = False
                self.problem = f"the policy store is unreachable ({type(exc).__name__})"
            except Exception:  # the follower must outlive any surprise
                log.exception("policy store follower failed")
                self.healthy = False
                self.problem = "the policy store follower failed"
            self._stop.wait(retry)
            retry = min(retry * 2, 5.0)

    def _follow(self) -> None:
        options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
        with psycopg.connect(
            listen_conninfo(self.url),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            options=options,
            application_name="pdp-replica",
        ) as conn:
            conn.execute(f"LISTEN {PDP_CHANNEL}")
            self.refresh()
            self.healthy, self.problem = True, ""
            last_poll = time.monotonic()
            while not self._stop.is_set():
                notified = False
                for _ in conn.notifies(timeout=0.5, stop_after=1):
                    notified = True
                if notified or time.monotonic() - last_poll >= self.poll_interval:
                    self.refresh()
                    last_poll = time.monotonic()
                    if not notified:
                        conn.execute("SELECT 1")  # a dead connection shows here, not only in a poll
