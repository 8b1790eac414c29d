"""The monitor: feeds each decision to the abnormal-access rules and returns their alerts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from pdp.core.compile import CompiledPolicy
from pdp.monitor.duties import DutyIndex
from pdp.monitor.rules import (
    Alert,
    BreakGlassRule,
    BulkAccessRule,
    ClassSpreadRule,
    Counted,
    DenialBurstRule,
    Observation,
    OffHoursRule,
    SensitiveUseRule,
)
from pdp.monitor.thresholds import AlertConfig


class Monitor:
    """Watches the decision stream; O(1) amortised work and bounded memory per decision."""

    def __init__(
        self,
        thresholds: AlertConfig | None = None,
        compiled: CompiledPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.thresholds = thresholds or AlertConfig()
        keys = self.thresholds.max_tracked_keys
        self.denials = DenialBurstRule(self.thresholds.denial_burst, keys)
        self.spread = ClassSpreadRule(self.thresholds.class_spread, keys)
        self.sensitive = SensitiveUseRule(self.thresholds.sensitive_outside_duties, keys)
        self.break_glass = BreakGlassRule(self.thresholds.break_glass)
        self.bulk = BulkAccessRule(self.thresholds.bulk_access, keys)
        self.off_hours = OffHoursRule(self.thresholds.off_hours, keys)
        self.clock = clock
        self._duties: DutyIndex | None = None
        self._lock = threading.Lock()
        if compiled is not None:
            self.set_policy(compiled)

    def set_policy(self, compiled: CompiledPolicy) -> None:
        """Use a new policy's class levels and duties (after a reload)."""
        duties = DutyIndex(compiled, self.thresholds.sensitive_outside_duties.levels)
        self._duties = duties

    def observe(self, obs: Observation, now: float | None = None) -> list[Alert]:
        """Feed one decision to every rule; return the alerts it raised (usually none)."""
        return self.observe_many((obs,), now)

    def observe_many(self, batch: Sequence[Observation], now: float | None = None) -> list[Alert]:
        """Feed decisions made at one time (a batch) to every rule; return their alerts."""
        counted: dict[Observation, int] = {}
        for obs in batch:
            counted[obs] = counted.get(obs, 0) + 1
        return self.observe_counted(list(counted.items()), now)

    def observe_counted(self, batch: Counted, now: float | None = None) -> list[Alert]:
        """Feed distinct decisions made at one time, each with how many times it was made.

        Each rule groups the batch by key first, so a batch costs one state
        update per distinct caller or subject, not one per decision.
        """
        when = self.clock() if now is None else now
        duties = self._duties
        with self._lock:
            alerts = self.denials.observe(batch, when)
            alerts += self.spread.observe(batch, when, duties)
            alerts += self.sensitive.observe(batch, when, duties)
            alerts += self.break_glass.observe(batch)
            alerts += self.bulk.observe(batch, when)
            alerts += self.off_hours.observe(batch, when, duties)
        return alerts

    def tracked_keys(self) -> int:
        """How many keys the rules hold now (bounded by `max_tracked_keys` per rule)."""
        rules = (self.denials, self.spread, self.sensitive, self.bulk, self.off_hours)
        return sum(len(rule) for rule in rules)
