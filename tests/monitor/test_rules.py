"""The accountability alerts: break-glass use, bulk access, access outside office hours."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pdp.decision_point import DecisionPoint
from pdp.errors import ConfigError
from pdp.monitor import (
    BREAK_GLASS_USED,
    BULK_ACCESS,
    OFF_HOURS,
    AlertConfig,
    BreakGlass,
    BulkAccess,
    Monitor,
    Observation,
    OffHours,
)
from pdp.service.config import config_from_mapping

POLICY = Path(__file__).with_name("policy.yaml")
COMPILED = DecisionPoint.from_path(POLICY).compiled
SHANGHAI = ZoneInfo("Asia/Shanghai")


def obs(
    info_class: str = "account",
    allowed: bool = True,
    obligations: tuple[str, ...] = (),
    records: int = 1,
    subject: str = "u1",
    caller: str = "crm",
) -> Observation:
    return Observation(
        caller,
        "user",
        subject,
        info_class,
        "customer_service",
        "use",
        allowed,
        obligations,
        records,
        "INC-7",
    )


def at(text: str) -> float:
    """A Shanghai wall-clock time as a timestamp (2026-12-07 is a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def rules(alerts: list[object]) -> list[str]:
    return [a.rule for a in alerts]  # type: ignore[attr-defined]


def test_every_break_glass_allow_alerts() -> None:
    monitor = Monitor(AlertConfig(), COMPILED)
    glass = obs(obligations=("break_glass",), subject="u9")
    first = monitor.observe(glass, now=1000.0)
    again = monitor.observe(glass, now=1001.0)  # never suppressed
    assert rules(first) == rules(again) == [BREAK_GLASS_USED]
    assert first[0].key == "user:u9" and first[0].detail == {"count": 1, "ticket": "INC-7"}
    batch = monitor.observe_many([glass, glass, glass], now=1002.0)
    assert rules(batch) == [BREAK_GLASS_USED] and batch[0].detail["count"] == 3
    assert monitor.observe(obs(obligations=("break_glass",), allowed=False), now=1003.0) == []
    assert monitor.observe(obs(obligations=("mask",)), now=1004.0) == []
    off = Monitor(AlertConfig(break_glass=BreakGlass(enabled=False)), COMPILED)
    assert off.observe(glass, now=1000.0) == []


def test_bulk_access_counts_records_per_caller_and_subject() -> None:
    monitor = Monitor(AlertConfig(bulk_access=BulkAccess(True, 60, 100)), COMPILED)
    assert monitor.observe(obs(records=60), now=1000.0) == []
    assert monitor.observe(obs(records=40), now=1001.0) == []  # 100: not above
    assert monitor.observe(obs(records=5, allowed=False), now=1002.0) == []  # denies touch nothing
    fired = monitor.observe(obs(records=1), now=1003.0)
    assert sorted(a.key for a in fired) == ["caller:crm", "user:u1"]
    assert all(a.rule == BULK_ACCESS and a.detail["records"] == 101 for a in fired)
    assert monitor.observe(obs(records=500), now=1004.0) == []  # once per key and window
    other = monitor.observe(obs(records=101, subject="u2", caller="batch"), now=1005.0)
    assert sorted(a.key for a in other) == ["caller:batch", "user:u2"]
    assert Monitor(AlertConfig(), COMPILED).observe(obs(records=5000), now=1.0) == []


@pytest.mark.parametrize(
    ("when", "info_class", "alerts"),
    [
        ("2026-12-07T02:30", "account", True),  # Monday night, C2
        ("2026-12-07T02:30", "credential", True),  # C3 is above C2
        ("2026-12-07T02:30", "public_info", False),  # C1 is below
        ("2026-12-07T08:00", "account", False),  # the first office minute
        ("2026-12-07T17:59", "account", False),
        ("2026-12-07T18:00", "account", True),  # the end is exclusive
        ("2026-12-06T10:00", "account", True),  # a Sunday
    ],
)
def test_off_hours_in_the_configured_zone(when: str, info_class: str, alerts: bool) -> None:
    config = OffHours(enabled=True, hours="08:00-18:00", timezone="Asia/Shanghai")
    monitor = Monitor(AlertConfig(off_hours=config), COMPILED)
    found = monitor.observe(obs(info_class), now=at(when))
    assert rules(found) == ([OFF_HOURS] if alerts else [])
    if alerts:
        assert found[0].detail["hours"] == "08:00-18:00"
        assert monitor.observe(obs(info_class), now=at(when) + 1) == []  # once per window


def test_off_hours_wrap_past_midnight_and_default_to_the_policy_zone() -> None:
    night = OffHours(enabled=True, hours="22:00-06:00", weekdays=("mon",), window_seconds=1)
    monitor = Monitor(AlertConfig(off_hours=night), COMPILED)  # policy zone: UTC
    utc = ZoneInfo("UTC")

    def alerts(text: str) -> bool:
        stamp = datetime.fromisoformat(text).replace(tzinfo=utc).timestamp()
        return bool(monitor.observe(obs(), now=stamp))

    assert not alerts("2026-12-07T23:00")  # Monday's night shift
    assert not alerts("2026-12-08T05:59")  # ... continues into Tuesday
    assert alerts("2026-12-08T06:00")
    assert alerts("2026-12-08T23:00")  # Tuesday has no night shift
    assert alerts("2026-12-07T12:00")
    assert not Monitor(AlertConfig(), COMPILED).observe(obs(), now=at("2026-12-07T02:30"))


@pytest.mark.parametrize(
    ("off_hours", "message"),
    [
        ({"hours": "8-18"}, "must be `HH:MM-HH:MM`"),
        ({"hours": "08:00-08:00"}, "empty"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone `Mars/Olympus`"),
        ({"weekdays": ["monday"]}, "unknown weekday `monday`"),
        ({"threshold": 3}, "unknown key `alerts.off_hours.threshold`"),
    ],
)
def test_bad_alert_settings_are_config_errors(off_hours: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping({"alerts": {"off_hours": off_hours}})


def test_alert_settings_are_read_from_the_config() -> None:
    config = config_from_mapping(
        {
            "alerts": {
                "bulk_access": {"window_seconds": 600, "threshold": 50},
                "off_hours": {"enabled": True, "hours": "09:00-17:30", "min_level": "C3"},
                "break_glass": {"enabled": False},
            }
        }
    )
    assert config.alerts.bulk_access == BulkAccess(True, 600.0, 50)
    assert config.alerts.off_hours.hours == "09:00-17:30"
    assert config.alerts.off_hours.min_level == "C3"
    assert config.alerts.break_glass == BreakGlass(False)
