"""Thresholds of the abnormal-access rules, read from the service configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pdp.errors import ConfigError


@dataclass(frozen=True, slots=True)
class DenialBurst:
    """Alert when a caller or a subject collects `threshold` denials within the window."""

    window_seconds: float = 60.0
    threshold: int = 20


@dataclass(frozen=True, slots=True)
class ClassSpread:
    """Alert when a subject reaches many more distinct classes in a window than its baseline."""

    window_seconds: float = 300.0
    factor: float = 3.0
    min_classes: int = 5
    baseline_weight: float = 0.2


@dataclass(frozen=True, slots=True)
class SensitiveOutsideDuties:
    """Alert on an allowed use of a class at one of `levels` for a purpose outside duties."""

    enabled: bool = True
    levels: tuple[str, ...] = ("C3",)
    window_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """Alert on every allow given by break-glass grants only (obligation `break_glass`)."""

    enabled: bool = True


@dataclass(frozen=True, slots=True)
class BulkAccess:
    """Alert when a caller, or a subject, touches more than `threshold` customers' records.

    Each allowed decision counts its `context.records` (default 1) within a
    sliding window; once per key and window.
    """

    enabled: bool = True
    window_seconds: float = 3600.0
    threshold: int = 5000


@dataclass(frozen=True, slots=True)
class OffHours:
    """Alert on an allowed use of a class at `min_level` or above outside office hours.

    `hours` is `HH:MM-HH:MM` (start > end wraps past midnight) on `weekdays`
    (`mon`..`sun`), read in `timezone` (empty: the policy's `timezone`). Once
    per (caller, subject, class) and window. Off unless enabled: office hours
    are the bank's to state.
    """

    enabled: bool = False
    hours: str = "08:00-18:00"
    timezone: str = ""
    weekdays: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    min_level: str = "C2"
    window_seconds: float = 3600.0

    def __post_init__(self) -> None:
        office_hours(self.hours)
        if self.timezone:
            zone_of(self.timezone)
        unknown = [d for d in self.weekdays if d not in WEEKDAYS]
        if unknown:
            raise ConfigError(f"unknown weekday `{unknown[0]}`: use {', '.join(WEEKDAYS)}")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def office_hours(text: str) -> tuple[int, int]:
    """`HH:MM-HH:MM` as minutes after midnight (start, end); raises `ConfigError`."""
    match = _HOURS.match(text)
    if match is None:
        raise ConfigError(f"office hours `{text}` must be `HH:MM-HH:MM`")
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start == end or end > 24 * 60:
        raise ConfigError(f"office hours `{text}` are empty or end after 24:00")
    return start, end


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone named; raises `ConfigError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone `{name}`") from None


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Thresholds of the abnormal-access rules of `pdp.monitor`."""

    denial_burst: DenialBurst = field(default_factory=DenialBurst)
    class_spread: ClassSpread = field(default_factory=ClassSpread)
    sensitive_outside_duties: SensitiveOutsideDuties = field(default_factory=SensitiveOutsideDuties)
    break_glass: BreakGlass = field(default_factory=BreakGlass)
    bulk_access: BulkAccess = field(default_factory=BulkAccess)
    off_hours: OffHours = field(default_factory=OffHours)
    max_tracked_keys: int = 100_000
