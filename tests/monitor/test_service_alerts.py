"""Alerts through the running service: logged, counted, delivered, and never in a decision's way."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from pdp.audit import read_records
from pdp.decision_point import DecisionPoint
from pdp.monitor.delivery import DeliveryConfig, Syslog, Webhook
from pdp.service import ServiceConfig, create_app
from tests.monitor.receivers import udp_receiver, webhook

with warnings.catch_warnings():  # starlette warns about httpx at import time
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

POLICY = Path(__file__).with_name("policy.yaml")
BREAK_GLASS = {"user": "u9", "info_class": "account", "purpose": "risk_control", "action": "use"}
ORDINARY = {"user": "u1", "info_class": "account", "purpose": "customer_service", "action": "use"}


def service(tmp_path: Path, delivery: DeliveryConfig) -> TestClient:
    config = ServiceConfig(log=str(tmp_path / "d.db"), log_writer="thread", alert_delivery=delivery)
    return TestClient(create_app(DecisionPoint.from_path(POLICY), config))


def metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


def test_a_hanging_webhook_never_holds_a_decision(tmp_path: Path) -> None:
    with webhook("hang") as server:
        delivery = DeliveryConfig(webhook=Webhook(server.url, 30.0), queue_size=4, retries=0)
        with service(tmp_path, delivery) as client:
            first = client.post("/v1/decisions", json=BREAK_GLASS).json()
            assert first["obligations"] == ["break_glass"]
            server.wait_for(1)  # delivery is now stuck on the first alert
            answers = [client.post("/v1/decisions", json=BREAK_GLASS) for _ in range(30)]
            answers += [client.post("/v1/decisions", json=ORDINARY) for _ in range(5)]
            assert [a.status_code for a in answers] == [200] * 35
            assert all(a.json()["allowed"] for a in answers)
            assert len(server.bodies) == 1  # nothing got through while it hangs
            assert metric(client, "pdp_alerts_overflow_total") == 30 - 4
            assert metric(client, "pdp_alerts_queued") == 4
            assert metric(client, 'pdp_alerts_total{rule="break_glass_used"}') == 31
            state = client.app.state.service  # type: ignore[attr-defined]
            state.log.flush()
            server.release.set()
    records = list(read_records(str(tmp_path / "d.db")))
    decisions = [r for r in records if r.kind == "decision"]
    alerts = [r for r in records if r.kind == "alert"]
    assert len(decisions) == 36 and len(alerts) == 31  # every alert is logged all the same
    assert {a.reasons for a in alerts} == {("break_glass_used",)}
    assert server.bodies[0]["decision_id"] == alerts[0].decision_id


def test_alerts_reach_syslog_and_the_webhook_in_order(tmp_path: Path) -> None:
    with webhook("ok") as server, udp_receiver() as sock:
        port = sock.getsockname()[1]
        delivery = DeliveryConfig(
            webhook=Webhook(server.url, 5.0), syslog=Syslog("127.0.0.1", port, "udp")
        )
        with service(tmp_path, delivery) as client:
            for _ in range(3):
                assert client.post("/v1/decisions", json=BREAK_GLASS).json()["allowed"]
            client.post("/v1/decisions", json=ORDINARY)  # no alert
            datagrams = [sock.recvfrom(65536)[0] for _ in range(3)]
            server.wait_for(3)
        assert metric(client, 'pdp_alerts_delivered_total{channel="syslog"}') == 3
    alerts = [r for r in read_records(str(tmp_path / "d.db")) if r.kind == "alert"]
    ids = [a.decision_id for a in alerts]
    assert [b["decision_id"] for b in server.bodies] == ids
    sent = [json.loads(d.partition(b"\xef\xbb\xbf")[2]) for d in datagrams]
    assert [s["decision_id"] for s in sent] == ids
    assert sent[0] == alerts[0].to_dict()
    assert sent[0]["detail"]["rule"] == "break_glass_used"
