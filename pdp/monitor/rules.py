"""The abnormal-access rules: each sees the decisions made at one time and may raise alerts.

A rule takes `Counted` decisions: each distinct observation once, with how many
times it was made (a batch repeats the same questions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pdp.monitor.duties import DutyIndex
from pdp.monitor.thresholds import (
    WEEKDAYS,
    BreakGlass,
    BulkAccess,
    ClassSpread,
    DenialBurst,
    OffHours,
    SensitiveOutsideDuties,
    office_hours,
    zone_of,
)
from pdp.monitor.windows import SlidingCounter, WindowTable

DENIAL_BURST = "denial_burst"
CLASS_SPREAD = "class_spread"
SENSITIVE_OUTSIDE_DUTIES = "sensitive_outside_duties"
BREAK_GLASS_USED = "break_glass_used"
BULK_ACCESS = "bulk_access"
OFF_HOURS = "off_hours"
RULES = (
    DENIAL_BURST,
    CLASS_SPREAD,
    SENSITIVE_OUTSIDE_DUTIES,
    BREAK_GLASS_USED,
    BULK_ACCESS,
    OFF_HOURS,
)
BREAK_GLASS = "break_glass"  # the obligation of an allow only break-glass grants give


class Observation(NamedTuple):
    """One decision as the monitor sees it: who asked, about whom, what, and the result.

    `obligations` are the decision's; `records` (how many customers' records
    the action touches) and `ticket` come from the request's context.
    """

    caller: str
    subject_kind: str
    subject: str
    info_class: str
    purpose: str
    action: str
    allowed: bool
    obligations: tuple[str, ...] = ()
    records: int = 1
    ticket: str = ""


Counted = Sequence[tuple[Observation, int]]


@dataclass(frozen=True, slots=True)
class Alert:
    """An abnormal-access alert: the rule, the key it is about, a message and figures."""

    rule: str
    key: str
    message: str
    observation: Observation
    detail: dict[str, Any] = field(default_factory=dict)


def _spread_state() -> list[Any]:
    """A subject's spread: classes of the current window, baseline (-1: none), window fired."""
    return [set(), -1.0, -1]


def _fired_state() -> list[int]:
    """The window a key last fired in (-1: never)."""
    return [-1]


class DenialBurstRule:
    """Denials per caller and per subject within a sliding window above a threshold."""

    def __init__(self, thresholds: DenialBurst, max_keys: int) -> None:
        self.threshold = thresholds.threshold
        self.window = thresholds.window_seconds
        self._counter = SlidingCounter(thresholds.window_seconds, max_keys)

    def observe(self, batch: Counted, now: float) -> list[Alert]:
        """Count the denials of decisions made at `now`; alert once per key and window."""
        callers: dict[str, tuple[int, Observation]] = {}
        subjects: dict[tuple[str, str], tuple[int, Observation]] = {}
        for obs, times in batch:
            if not obs.allowed:
                callers[obs.caller] = (callers.get(obs.caller, (0,))[0] + times, obs)
                subject = (obs.subject_kind, obs.subject)
                subjects[subject] = (subjects.get(subject, (0,))[0] + times, obs)
        if not callers:
            return []
        counted = [(f"caller:{c}", n, obs) for c, (n, obs) in callers.items()]
        counted += [(f"{k}:{s}", n, obs) for (k, s), (n, obs) in subjects.items()]
        alerts = []
        for key, n, obs in counted:
            used, count, may_fire = self._counter.add(key, now, n)
            if may_fire and count >= self.threshold:
                self._counter.fired(used, now)
                alerts.append(
                    Alert(
                        DENIAL_BURST,
                        used,
                        f"{round(count)} denials for `{used}` within {self.window:g}s",
                        obs,
                        {"count": round(count), "threshold": self.threshold},
                    )
                )
        return alerts

    def __len__(self) -> int:
        return len(self._counter)


class ClassSpreadRule:
    """A subject reaching many more distinct classes in a window than its usual.

    The usual is an exponential moving average of the distinct classes per
    window over the subject's past active windows; a subject alerts when its
    current window exceeds `max(min_classes, factor * baseline)`. A subject
    without a finished window has no baseline and does not alert.
    """

    def __init__(self, thresholds: ClassSpread, max_keys: int) -> None:
        self.t = thresholds
        keep = max(2, math.ceil(3 / thresholds.baseline_weight))
        # state: [classes of the current window, baseline or -1.0, window it fired in]
        self._table: WindowTable[list[Any]] = WindowTable(thresholds.window_seconds, keep, max_keys)

    def observe(self, batch: Counted, now: float, duties: DutyIndex | None) -> list[Alert]:
        """Add each decision's class to its subject's window; alert on a spread beyond the usual."""
        grouped: dict[tuple[str, str], tuple[set[str], Observation]] = {}
        for obs, _ in batch:
            if duties is not None and not duties.known_class(obs.info_class):
                continue
            subject = (obs.subject_kind, obs.subject)
            entry = grouped.get(subject)
            if entry is None:
                grouped[subject] = ({obs.info_class}, obs)
            else:
                entry[0].add(obs.info_class)
        alerts = []
        for (kind, name), (seen, obs) in grouped.items():
            alerts += self._add(f"{kind}:{name}", seen, obs, now)
        return alerts

    def _add(self, key: str, seen: set[str], obs: Observation, now: float) -> list[Alert]:
        table = self._table
        index = table.index(now)
        key, last, state = table.get(key, index, _spread_state)
        classes: set[str] = state[0]
        if last != index:
            if last >= 0 and classes:
                w = self.t.baseline_weight
                count = float(len(classes))
                state[1] = count if state[1] < 0 else state[1] * (1 - w) + count * w
            classes = state[0] = set()
            table.touch(key, index, state)
        if seen <= classes:
            return []
        classes |= seen
        baseline: float = state[1]
        if baseline < 0 or state[2] == index:
            return []
        limit = max(self.t.min_classes, self.t.factor * baseline)
        if len(classes) <= limit:
            return []
        state[2] = index
        return [
            Alert(
                CLASS_SPREAD,
                key,
                f"`{key}` reached {len(classes)} classes within {self.t.window_seconds:g}s "
                f"(usual {baseline:.1f})",
                obs,
                {"classes": len(classes), "baseline": round(baseline, 2), "limit": limit},
            )
        ]

    def __len__(self) -> int:
        return len(self._table)


class SensitiveUseRule:
    """An allowed use of a sensitive (C3) class for a purpose outside the subject's duties.

    Fires once per (caller, subject, class, purpose) and window, so a repeated
    use is one alert per window, not one per request.
    """

    def __init__(self, thresholds: SensitiveOutsideDuties, max_keys: int) -> None:
        self.t = thresholds
        self._table: WindowTable[list[int]] = WindowTable(thresholds.window_seconds, 1, max_keys)

    def observe(self, batch: Counted, now: float, duties: DutyIndex | None) -> list[Alert]:
        """Alert on allowed sensitive uses outside duties (once per key and window)."""
        if not self.t.enabled or duties is None:
            return []
        sensitive = duties.sensitive
        alerts = []
        for obs, _ in batch:
            if (
                obs.allowed
                and obs.info_class in sensitive
                and duties.outside_duties(
                    obs.subject_kind, obs.subject, obs.info_class, obs.purpose
                )
            ):
                alerts += self._fire(obs, now, duties)
        return alerts

    def _fire(self, obs: Observation, now: float, duties: DutyIndex) -> list[Alert]:
        index = self._table.index(now)
        key = f"{obs.subject_kind}:{obs.subject}|{obs.info_class}|{obs.purpose}|{obs.caller}"
        key, _, state = self._table.get(key, index, _fired_state)
        if state[0] == index:
            return []
        state[0] = index
        self._table.touch(key, index, state)
        level = duties.levels.get(obs.info_class, "")
        return [
            Alert(
                SENSITIVE_OUTSIDE_DUTIES,
                f"{obs.subject_kind}:{obs.subject}",
                f"`{obs.subject}` used {level} class `{obs.info_class}` for `{obs.purpose}`, "
                "outside its duties",
                obs,
                {"level": level},
            )
        ]

    def __len__(self) -> int:
        return len(self._table)


class BreakGlassRule:
    """Every allow that carries the `break_glass` obligation: one alert per distinct decision.

    Never suppressed: a batch repeating the same break-glass question is one
    alert with its `count`.
    """

    def __init__(self, thresholds: BreakGlass) -> None:
        self.enabled = thresholds.enabled

    def observe(self, batch: Counted) -> list[Alert]:
        """Alert on each break-glass allow of the batch."""
        if not self.enabled:
            return []
        return [
            Alert(
                BREAK_GLASS_USED,
                f"{obs.subject_kind}:{obs.subject}",
                f"`{obs.subject}` used break-glass access to `{obs.info_class}` for "
                f"`{obs.purpose}` (ticket `{obs.ticket}`)",
                obs,
                {"count": times, "ticket": obs.ticket},
            )
            for obs, times in batch
            if obs.allowed and BREAK_GLASS in obs.obligations
        ]


class BulkAccessRule:
    """Customers' records touched by allowed decisions per caller and per subject in a window."""

    def __init__(self, thresholds: BulkAccess, max_keys: int) -> None:
        self.t = thresholds
        self._counter = SlidingCounter(thresholds.window_seconds, max_keys)

    def observe(self, batch: Counted, now: float) -> list[Alert]:
        """Add the records of the batch's allows; alert once per key and window beyond it."""
        if not self.t.enabled:
            return []
        totals: dict[str, tuple[int, Observation]] = {}
        for obs, times in batch:
            if obs.allowed:
                records = obs.records * times
                for key in (f"caller:{obs.caller}", f"{obs.subject_kind}:{obs.subject}"):
                    totals[key] = (totals.get(key, (0,))[0] + records, obs)
        alerts = []
        for key, (records, obs) in totals.items():
            used, count, may_fire = self._counter.add(key, now, records)
            if may_fire and count > self.t.threshold:
                self._counter.fired(used, now)
                alerts.append(
                    Alert(
                        BULK_ACCESS,
                        used,
                        f"`{used}` touched {round(count)} customers' records within "
                        f"{self.t.window_seconds:g}s (threshold {self.t.threshold})",
                        obs,
                        {"records": round(count), "threshold": self.t.threshold},
                    )
                )
        return alerts

    def __len__(self) -> int:
        return len(self._counter)


class OffHoursRule:
    """An allowed use of a class at `min_level` or above outside office hours.

    Office hours are read at the decision's wall-clock time (the service's
    clock, not `context.time`, which the caller chooses) in the configured zone,
    else the policy's. Once per (caller, subject, class) and window.
    """

    def __init__(self, thresholds: OffHours, max_keys: int) -> None:
        self.t = thresholds
        self.start, self.end = office_hours(thresholds.hours)
        self.days = frozenset(WEEKDAYS.index(d) for d in thresholds.weekdays)
        self._table: WindowTable[list[int]] = WindowTable(thresholds.window_seconds, 1, max_keys)

    def in_office(self, now: float, zone: str) -> bool:
        """True when `now` falls on an office day within office hours in `zone`."""
        local = datetime.fromtimestamp(now, zone_of(self.t.timezone or zone))
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        if minute >= self.start:  # the evening part of a shift past midnight
            return local.weekday() in self.days
        return minute < self.end and (local.weekday() - 1) % 7 in self.days

    def observe(self, batch: Counted, now: float, duties: DutyIndex | None) -> list[Alert]:
        """Alert on allowed uses of high-level classes when out of office."""
        if not self.t.enabled or duties is None:
            return []
        high = duties.at_or_above(self.t.min_level)
        hits = [obs for obs, _ in batch if obs.allowed and obs.info_class in high]
        if not hits or self.in_office(now, duties.timezone):
            return []
        index = self._table.index(now)
        alerts = []
        for obs in hits:
            key = f"{obs.subject_kind}:{obs.subject}|{obs.info_class}|{obs.caller}"
            key, _, state = self._table.get(key, index, _fired_state)
            if state[0] == index:
                continue
            state[0] = index
            self._table.touch(key, index, state)
            level = duties.levels.get(obs.info_class, "")
            alerts.append(
                Alert(
                    OFF_HOURS,
                    f"{obs.subject_kind}:{obs.subject}",
                    f"`{obs.subject}` used {level} class `{obs.info_class}` outside office "
                    f"hours ({self.t.hours})",
                    obs,
                    {"level": level, "hours": self.t.hours},
                )
            )
        return alerts

    def __len__(self) -> int:
        return len(self._table)
