"""The abnormal-access monitor: denial bursts, class spread, sensitive use outside duties."""

from __future__ import annotations

from pdp.decision_point import DecisionPoint
from pdp.monitor import (
    CLASS_SPREAD,
    DENIAL_BURST,
    SENSITIVE_OUTSIDE_DUTIES,
    AlertConfig,
    ClassSpread,
    DenialBurst,
    Monitor,
    Observation,
)
from pdp.monitor.windows import OVERFLOW, SlidingCounter
from tests.service.conftest import POLICY, TELLER_OPENING, TestClient, build_app

COMPILED = DecisionPoint.from_path(POLICY).compiled


def obs(
    allowed: bool = True,
    subject: str = "teller",
    info_class: str = "identity",
    purpose: str = "account_opening",
    caller: str = "crm",
    kind: str = "role",
) -> Observation:
    return Observation(caller, kind, subject, info_class, purpose, "use", allowed)


def test_denial_burst_fires_once_per_key_and_window() -> None:
    monitor = Monitor(AlertConfig(denial_burst=DenialBurst(60, 5)), COMPILED)
    alerts = [a for n in range(12) for a in monitor.observe(obs(False), now=1000.0 + n)]
    assert sorted(a.key for a in alerts) == ["caller:crm", "role:teller"]
    assert all(a.rule == DENIAL_BURST and a.detail["count"] == 5 for a in alerts)
    assert monitor.observe(obs(True), now=1020.0) == []  # allows do not count


def test_denial_burst_window_slides() -> None:
    monitor = Monitor(AlertConfig(denial_burst=DenialBurst(10, 5)), COMPILED)
    # 4 denials in each of many windows, spread out: never 5 within any 10 s
    alerts = [
        a
        for w in range(10)
        for n in range(4)
        for a in monitor.observe(obs(False), now=100.0 * w + n)
    ]
    assert alerts == []


def test_sliding_counter_estimate_and_overflow() -> None:
    counter = SlidingCounter(10, max_keys=2)
    for n in range(10):
        counter.add("a", 0.5 + n * 0.9)
    _, count, _ = counter.add("a", 15.0)  # half of the previous window still counts
    assert 5.0 < count < 7.0
    counter.add("b", 15.0)
    used, _, _ = counter.add("c", 15.0)
    assert used == OVERFLOW
    counter.add("z", 100.0)  # a later window sweeps the idle keys
    assert len(counter) == 1


def test_class_spread_needs_a_baseline_then_fires_once() -> None:
    config = AlertConfig(class_spread=ClassSpread(60, factor=2.0, min_classes=3))
    monitor = Monitor(config, COMPILED)
    classes = [f"c0{n}" for n in range(1, 9)]
    newcomer = [
        a
        for c in classes
        for a in monitor.observe(obs(kind="user", subject="u2", info_class=c), now=10.0)
    ]
    assert newcomer == []  # no baseline yet
    for window in (0, 1, 2, 3):  # a usual of 2 classes per window
        for c in classes[:2]:
            assert monitor.observe(obs(subject="analyst", info_class=c), now=60.0 * window) == []
    spread = [
        a for c in classes for a in monitor.observe(obs(subject="analyst", info_class=c), now=250.0)
    ]
    assert [a.rule for a in spread] == [CLASS_SPREAD]
    assert spread[0].key == "role:analyst"
    assert spread[0].detail["classes"] > spread[0].detail["limit"]


def test_class_spread_ignores_undeclared_classes() -> None:
    monitor = Monitor(AlertConfig(class_spread=ClassSpread(60, 1.0, 1)), COMPILED)
    monitor.observe(obs(info_class="identity"), now=1.0)
    alerts = [a for n in range(50) for a in monitor.observe(obs(info_class=f"x{n}"), now=61.0)]
    assert alerts == []


def test_sensitive_use_outside_duties() -> None:
    monitor = Monitor(AlertConfig(), COMPILED)
    # teller: duties account_opening, customer_service; credential is C3, risk_control outside
    (alert,) = monitor.observe(obs(info_class="credential", purpose="risk_control"), now=1.0)
    assert alert.rule == SENSITIVE_OUTSIDE_DUTIES
    assert alert.detail["level"] == "C3" and "credential" in alert.message
    assert monitor.observe(obs(info_class="credential", purpose="risk_control"), now=2.0) == []
    again = monitor.observe(obs(info_class="credential", purpose="risk_control"), now=400.0)
    assert [a.rule for a in again] == [SENSITIVE_OUTSIDE_DUTIES]
    # a user is judged by the duties of its roles
    assert monitor.observe(
        obs(kind="user", subject="u1", info_class="credential", purpose="risk_control"), now=3.0
    )
    # inside duties, C2, a denial, or a role without duties: no alert
    assert monitor.observe(obs(info_class="credential", purpose="account_opening"), now=4.0) == []
    assert monitor.observe(obs(info_class="account", purpose="risk_control"), now=4.0) == []
    assert (
        monitor.observe(
            obs(False, info_class="credential", purpose="risk_control", caller="x"), now=4.0
        )
        == []
    )
    assert (
        monitor.observe(
            obs(subject="staff", info_class="credential", purpose="risk_control"), now=4.0
        )
        == []
    )


def test_memory_is_bounded_by_max_tracked_keys() -> None:
    monitor = Monitor(AlertConfig(max_tracked_keys=100), COMPILED)
    for n in range(5000):
        monitor.observe(obs(False, subject=f"ghost{n}", caller=f"c{n}"), now=1.0)
    assert monitor.tracked_keys() <= 300


def test_service_logs_and_counts_alerts(policy_dir: object, log_url: str) -> None:
    from pathlib import Path

    app = build_app(
        Path(str(policy_dir)), log_url, alerts=AlertConfig(denial_burst=DenialBurst(60, 3))
    )
    with TestClient(app) as client:
        body = {"requests": [{**TELLER_OPENING, "action": "disclose"}] * 3}
        client.post("/v1/decisions/batch", json=body)
        client.post(
            "/v1/decisions",
            json={**TELLER_OPENING, "info_class": "credential", "purpose": "risk_control"},
        )
        text = client.get("/metrics").text
        assert 'pdp_alerts_total{rule="denial_burst"} 2.0' in text
        assert 'pdp_alerts_total{rule="sensitive_outside_duties"} 1.0' in text
        log = app.state.service.log
        log.flush()
        alerts = log.query(kind="alert")
    assert sorted(a.detail["key"] for a in alerts) == [
        "caller:anonymous",
        "role:teller",
        "role:teller",
    ]
    assert {a.reasons for a in alerts} == {("denial_burst",), ("sensitive_outside_duties",)}


def test_a_batch_counts_like_single_decisions() -> None:
    config = AlertConfig(denial_burst=DenialBurst(60, 5), class_spread=ClassSpread(60, 2.0, 3))
    batched, single = Monitor(config, COMPILED), Monitor(config, COMPILED)
    stream = [obs(False, subject=f"r{n % 3}") for n in range(30)]
    stream += [obs(subject="analyst", info_class=f"c0{n}") for n in range(1, 9)]
    for window in (0.0, 60.0):  # a baseline of 8 classes, then the same again: no spread alert
        from_batch = batched.observe_many(stream, now=window + 1)
        from_single = [a for o in stream for a in single.observe(o, now=window + 1)]
        assert sorted((a.rule, a.key) for a in from_batch) == sorted(
            (a.rule, a.key) for a in from_single
        )
    assert {a.key for a in from_batch} == {"caller:crm", "role:r0", "role:r1", "role:r2"}


def test_counted_observations_act_like_repeated_ones() -> None:
    config = AlertConfig(denial_burst=DenialBurst(60, 5))
    counted, repeated = Monitor(config, COMPILED), Monitor(config, COMPILED)
    assert counted.observe_counted([(obs(False), 4)], now=10.0) == []
    (a, b) = counted.observe_counted([(obs(False), 1), (obs(True), 9)], now=11.0)
    assert {a.key, b.key} == {"caller:crm", "role:teller"} and a.detail["count"] == 5
    batch = [obs(False)] * 4
    assert repeated.observe_many(batch, now=10.0) == []
    assert len(repeated.observe_many([obs(False), *[obs(True)] * 9], now=11.0)) == 2
