"""Policy changes: validate and compile a new policy beside the old one, then swap atomically.

A running service changes its policy only when someone asks for it: `POST
/v1/policy/reload` (admin scope), SIGHUP, or — as a development aid, opt-in
with `--watch` — `PolicyWatcher`, a thread that polls the policy files'
modification times. Editing a policy directory alone changes nothing: a file
moved away or cut short stays out of service until an explicit reload.

The source may be a sealed bundle (`pdp.store.bundle`); with a verify key,
only a signed, unaltered bundle is accepted. An invalid or refused policy is
rejected with its problems, and the last good policy keeps deciding. Every
attempt, applied or refused, is kept in a short history (shown by `GET
/v1/policy`), counted in the metrics and written to the decision log as a
`policy` record.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pdp.audit import DecisionLog
from pdp.audit.record import event_record, now_iso
from pdp.core.load import policy_files
from pdp.decision_point import DecisionPoint
from pdp.errors import Problem
from pdp.service.metrics import Metrics
from pdp.store.source import LoadedSource, load_source

log = logging.getLogger("pdp.service")

HISTORY = 20


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """The result of one reload attempt."""

    ok: bool
    trigger: str
    version: str
    previous_version: str
    problems: tuple[Problem, ...] = ()
    time: str = field(default_factory=now_iso)
    source_kind: str = ""
    signed: bool = False

    @property
    def changed(self) -> bool:
        """True when a different policy now decides."""
        return self.ok and self.version != self.previous_version

    def to_dict(self, problems: bool = True) -> dict[str, Any]:
        """The outcome as JSON (`ReloadStatusV1`); `problems=False` leaves their text out."""
        return {
            "time": self.time,
            "ok": self.ok,
            "trigger": self.trigger,
            "version": self.version,
            "previous_version": self.previous_version,
            "changed": self.changed,
            "source_kind": self.source_kind,
            "signed": self.signed,
            "problem_count": len(self.problems),
            "problems": [p.to_dict() for p in self.problems] if problems else [],
        }


class Reloader:
    """Changes the decision point's policy on request; one change at a time, all recorded."""

    def __init__(
        self,
        dp: DecisionPoint,
        decision_log: DecisionLog,
        metrics: Metrics,
        on_swap: Callable[[DecisionPoint], None] = lambda dp: None,
        verify_key: Ed25519PublicKey | None = None,
        loader: Callable[[], LoadedSource] | None = None,
    ) -> None:
        self.dp = dp
        self.log = decision_log
        self.metrics = metrics
        self.on_swap = on_swap
        self.verify_key = verify_key
        self.loader = loader
        self.loaded_at = time.time()
        self.history: deque[ReloadOutcome] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()
        metrics.policy(dp.version, self.loaded_at)

    @property
    def last(self) -> ReloadOutcome | None:
        """The latest change attempt, if any."""
        return self.history[-1] if self.history else None

    def reload(self, trigger: str, caller: str) -> ReloadOutcome:
        """Load, verify, validate and compile the source; swap it in when usable (never raises)."""
        source = self.dp.source
        if self.loader is not None:
            return self.apply(self.loader(), trigger, caller)
        if source is None:
            problem = Problem("no_source", "the policy was not loaded from a path")
            return self.apply(LoadedSource("file", None, (problem,)), trigger, caller)
        try:
            loaded = load_source(source, self.verify_key)
        except Exception as exc:  # a reload never takes the service down
            log.exception("policy reload failed")
            problem = Problem("reload_failed", f"reload failed: {type(exc).__name__}")
            loaded = LoadedSource("file", None, (problem,))
        return self.apply(loaded, trigger, caller)

    def apply(self, loaded: LoadedSource, trigger: str, caller: str) -> ReloadOutcome:
        """Swap in a loaded policy when it is usable; record the attempt either way."""
        with self._lock:
            previous = self.dp.version
            if loaded.compiled is None:
                outcome = ReloadOutcome(
                    False,
                    trigger,
                    previous,
                    previous,
                    loaded.problems,
                    source_kind=loaded.kind,
                )
            else:
                self.dp.swap(loaded.compiled)
                self.loaded_at = time.time()
                self.on_swap(self.dp)
                outcome = ReloadOutcome(
                    True,
                    trigger,
                    loaded.compiled.version,
                    previous,
                    source_kind=loaded.kind,
                    signed=loaded.signed,
                )
            self._record(outcome, caller)
            self.history.append(outcome)
            return outcome

    def _record(self, outcome: ReloadOutcome, caller: str) -> None:
        self.metrics.reloads.labels("success" if outcome.ok else "failure", outcome.trigger).inc()
        if outcome.ok:
            self.metrics.policy(outcome.version, self.loaded_at)
        else:
            self.metrics.reload_failures.inc()
            log.warning(
                "policy reload rejected (%s): %s",
                outcome.trigger,
                "; ".join(str(p) for p in outcome.problems[:5]),
            )
        self.log.append(
            event_record(
                "policy",
                caller=caller,
                policy_version=outcome.version,
                allowed=outcome.ok,
                reasons=("reloaded",) if outcome.ok else ("policy_invalid",),
                detail={
                    "event": "reload",
                    "trigger": outcome.trigger,
                    "previous_version": outcome.previous_version,
                    "changed": outcome.changed,
                    "source_kind": outcome.source_kind,
                    "signed": outcome.signed,
                    "problems": [p.to_dict() for p in outcome.problems],
                },
            )
        )


Signature = tuple[tuple[str, int, int], ...]


def policy_signature(source: Path) -> Signature:
    """The names, modification times and sizes of a policy's files (empty when unreadable)."""
    try:
        files = policy_files(source)
        entries = []
        for path in files:
            stat = path.stat()
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(entries)
    except OSError:
        return ()


class PolicyWatcher:
    """A daemon thread that reloads when the policy files change (polling, debounced)."""

    def __init__(self, reloader: Reloader, interval: float = 1.0) -> None:
        self.reloader = reloader
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (no-op when the policy has no source path)."""
        source = self.reloader.dp.source
        if source is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(source,), name="pdp-policy-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self, source: Path) -> None:
        seen = policy_signature(source)
        while not self._stop.wait(self.interval):
            current = policy_signature(source)
            if current == seen:
                continue
            # Debounce: an editor may write in steps; reload once the files hold still.
            while not self._stop.wait(min(self.interval, 0.25)):
                settled = policy_signature(source)
                if settled == current:
                    break
                current = settled
            seen = current
            if not self._stop.is_set():
                self.reloader.reload("watch", "watcher")


def reload_on_sighup(reloader: Reloader) -> Callable[[], None]:
    """Reload (in a worker thread) on SIGHUP; returns the undo. A no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        loop.run_in_executor(None, reloader.reload, "signal", "sighup")

    try:
        loop.add_signal_handler(signal.SIGHUP, on_signal)
    except (NotImplementedError, RuntimeError, ValueError):  # no signals on this platform/loop
        return lambda: None

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo
