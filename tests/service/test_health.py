"""Health, readiness, policy info and metrics."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.service.conftest import TELLER_OPENING, TestClient


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "policy_version": None, "reasons": []}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_when_the_log_is_unhealthy(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        healthy = False

    monkeypatch.setattr(app.state.service, "log", Broken())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["decision log is not writable"]


def test_policy_info(client: TestClient) -> None:
    data = client.get("/v1/policy").json()
    assert data["counts"]["roles"] == 3 and data["counts"]["users"] == 2
    assert data["source"].endswith("policy") and data["last_reload"] is None


def test_metrics_count_decisions_by_result_and_reason(client: TestClient) -> None:
    client.post("/v1/decisions", json=TELLER_OPENING)
    client.post("/v1/decisions/batch", json={"requests": [{**TELLER_OPENING, "role": "x"}] * 3})
    client.post("/v1/decisions", json={"role": 1})
    text = client.get("/metrics").text
    assert 'pdp_decisions_total{result="allow"} 1.0' in text
    assert 'pdp_decisions_total{result="deny"} 3.0' in text
    assert 'pdp_decision_reasons_total{reason="unknown_role",result="deny"} 3.0' in text
    assert 'pdp_request_duration_seconds_count{endpoint="batch"} 1.0' in text
    assert 'pdp_requests_rejected_total{code="invalid_request"} 1.0' in text
    assert "pdp_log_write_failures_total 0.0" in text
    assert "pdp_policy_info{version=" in text
