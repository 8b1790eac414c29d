"""Hot reload: validate and compile a new policy beside the old one, then swap atomically.

A reload comes from `POST /v1/policy/reload` or from `PolicyWatcher`, a
thread that polls the policy files' modification times. An invalid policy is
rejected with its problems — returned, written to the decision log as a
`policy` record and counted — and the last good policy keeps deciding.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdp.audit.log import DecisionLog
from pdp.audit.record import event_record, now_iso
from pdp.core.compile import compile_policy
from pdp.core.load import check_policy, policy_files
from pdp.decision_point import DecisionPoint
from pdp.errors import Problem
from pdp.service.metrics import Metrics

log = logging.getLogger("pdp.service")


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """The result of one reload attempt."""

    ok: bool
    trigger: str
    version: str
    previous_version: str
    problems: tuple[Problem, ...] = ()
    time: str = field(default_factory=now_iso)

    @property
    def changed(self) -> bool:
        """True when a different policy now decides."""
        return self.ok and self.version != self.previous_version

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON (`ReloadStatusV1`)."""
        return {
            "time": self.time,
            "ok": self.ok,
            "trigger": self.trigger,
            "version": self.version,
            "problems": [p.to_dict() for p in self.problems],
        }


class Reloader:
    """Reloads the decision point's policy from its source; one reload at a time."""

    def __init__(
        self,
        dp: DecisionPoint,
        decision_log: DecisionLog,
        metrics: Metrics,
        on_swap: Callable[[DecisionPoint], None] = lambda dp: None,
    ) -> None:
        self.dp = dp
        self.log = decision_log
        self.metrics = metrics
        self.on_swap = on_swap
        self.loaded_at = time.time()
        self.last: ReloadOutcome | None = None
        self._lock = threading.Lock()
        metrics.policy(dp.version, self.loaded_at)

    def reload(self, trigger: str, caller: str) -> ReloadOutcome:
        """Load, validate and compile the source; swap it in when valid (never raises)."""
        with self._lock:
            previous = self.dp.version
            source = self.dp.source
            if source is None:
                problem = Problem("no_source", "the policy was not loaded from a path")
                outcome = ReloadOutcome(False, trigger, previous, previous, (problem,))
            else:
                outcome = self._load(source, trigger, previous)
            self._record(outcome, caller)
            self.last = outcome
            return outcome

    def _load(self, source: Path, trigger: str, previous: str) -> ReloadOutcome:
        try:
            result = check_policy(source)
            if result.policy is None:
                return ReloadOutcome(False, trigger, previous, previous, tuple(result.errors))
            compiled = compile_policy(result.policy)
        except Exception as exc:  # a reload never takes the service down
            log.exception("policy reload failed")
            problem = Problem("reload_failed", f"reload failed: {type(exc).__name__}")
            return ReloadOutcome(False, trigger, previous, previous, (problem,))
        self.dp.swap(compiled)
        self.loaded_at = time.time()
        self.on_swap(self.dp)
        return ReloadOutcome(True, trigger, compiled.version, previous)

    def _record(self, outcome: ReloadOutcome, caller: str) -> None:
        self.metrics.reloads.labels("success" if outcome.ok else "failure").inc()
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
