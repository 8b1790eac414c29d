"""Version-2 context through the service: logged facts, the customer HMAC, and the alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdp.audit import read_records
from pdp.cli.app import app as cli
from pdp.decision_point import DecisionPoint
from pdp.monitor import AlertConfig, BulkAccess
from pdp.monitor.delivery import DeliveryConfig, Syslog
from pdp.service import ServiceConfig, create_app
from tests.monitor.receivers import udp_receiver

with warnings.catch_warnings():  # starlette warns about httpx at import time
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

POLICY = Path(__file__).with_name("policy_v2.yaml")
SECRET = "c" * 40
OWN = {"relationship": "own_customer", "mfa": True, "customer": "CIF-000123"}
RM = {"user": "u1", "info_class": "account", "purpose": "customer_service", "action": "use"}
GLASS = {"user": "u9", "info_class": "account", "purpose": "risk_control.fraud", "action": "use"}


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PDP_CUSTOMER_KEY", "PDP_CUSTOMER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


def service(tmp_path: Path, keyed: bool = True, **config: Any) -> TestClient:
    if keyed:
        keys = tmp_path / "keys"
        keys.write_text(f"k1 {SECRET}\n", encoding="utf-8")
        config["customer_key_file"] = str(keys)
    settings = ServiceConfig(log=str(tmp_path / "d.db"), log_writer="thread", **config)
    return TestClient(create_app(DecisionPoint.from_path(POLICY), settings))


def decide(client: TestClient, body: dict[str, Any], **context: Any) -> dict[str, Any]:
    answer = client.post("/v1/decisions", json={**body, "context": context})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def records_of(tmp_path: Path, kind: str) -> list[Any]:
    return [r for r in read_records(str(tmp_path / "d.db")) if r.kind == kind]


def test_the_facts_that_decided_are_logged_and_the_customer_only_as_hmac(tmp_path: Path) -> None:
    with service(tmp_path) as client:
        allowed = decide(client, RM, records=3, ticket="CRM-9", **OWN)
        denied = decide(client, RM, relationship="own_customer", customer="CIF-000123")
        assert (allowed["allowed"], denied["reasons"]) == (True, ["mfa_required"])
        client.app.state.service.log.flush()  # type: ignore[attr-defined]
    first, second = records_of(tmp_path, "decision")
    digest = hmac.new(SECRET.encode(), b"CIF-000123", hashlib.sha256).hexdigest()
    assert first.detail == {
        "mfa": True,
        "ticket": "CRM-9",
        "relationship": "own_customer",
        "records": 3,
        "customer": digest,
        "customer_key": "k1",
    }
    assert second.detail["customer"] == digest and "mfa" not in second.detail
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("d.db*"))  # WAL included
    assert b"CIF-000123" not in stored and digest.encode() in stored
    result = CliRunner().invoke(
        cli,
        ["log", "query", str(tmp_path / "d.db"), "--customer", "CIF-000123", "--format", "json"],
        env={"PDP_CUSTOMER_KEY": f"k1:{SECRET}", "PDP_CUSTOMER_KEY_FILE": ""},
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["subject"], r["purpose"], r["allowed"]) for r in rows] == [
        ("u1", "customer_service", True),
        ("u1", "customer_service", False),
    ]


def test_without_a_key_the_customer_is_dropped_and_counted(tmp_path: Path) -> None:
    with service(tmp_path, keyed=False) as client:
        decide(client, RM, **OWN)
        decide(client, RM, **OWN)
        decide(client, RM, relationship="own_customer", mfa=True)  # no customer named
        metrics = client.get("/metrics").text
        client.app.state.service.log.flush()  # type: ignore[attr-defined]
    assert "pdp_customer_refs_dropped_total 2.0" in metrics
    details = [r.detail for r in records_of(tmp_path, "decision")]
    assert [d.get("customer_dropped") for d in details] == [True, True, None]
    assert not any("customer" in d for d in details)


def test_a_break_glass_allow_alerts_with_its_ticket_and_reaches_syslog(tmp_path: Path) -> None:
    with udp_receiver() as sock:
        delivery = DeliveryConfig(syslog=Syslog("127.0.0.1", sock.getsockname()[1]))
        with service(tmp_path, alert_delivery=delivery) as client:
            used = decide(client, GLASS, ticket="FRAUD-77")
            refused = decide(client, GLASS)  # no ticket: no break-glass
            ordinary = decide(client, RM, **OWN)
            datagram = sock.recvfrom(65536)[0]
            client.app.state.service.log.flush()  # type: ignore[attr-defined]
    assert used["obligations"] == ["break_glass"] and used["allowed"]
    assert refused["reasons"] == ["ticket_required"] and ordinary["allowed"]
    (alert,) = records_of(tmp_path, "alert")
    assert alert.reasons == ("break_glass_used",) and alert.subject == "u9"
    assert alert.detail["ticket"] == "FRAUD-77"
    sent = json.loads(datagram.partition(b"\xef\xbb\xbf")[2])
    assert sent["decision_id"] == alert.decision_id


def test_bulk_export_alerts_on_the_records_of_allowed_requests(tmp_path: Path) -> None:
    alerts = AlertConfig(bulk_access=BulkAccess(True, 3600, 1000))
    with service(tmp_path, alerts=alerts) as client:
        for _ in range(2):
            assert decide(client, RM, records=500, **OWN)["allowed"]
        assert decide(client, RM, records=501, **OWN)["reasons"] == ["bulk_limit_exceeded"]
        assert decide(client, RM, records=1, **OWN)["allowed"]
        client.app.state.service.log.flush()  # type: ignore[attr-defined]
    fired = records_of(tmp_path, "alert")
    assert sorted(a.detail["key"] for a in fired) == ["caller:anonymous", "user:u1"]
    assert {a.reasons for a in fired} == {("bulk_access",)}
    assert {a.detail["records"] for a in fired} == {1001}
