"""`on_log_failure`: when nothing more can be logged, deny (`audit_unavailable`) or keep deciding.

The log says so with `DecisionLog.accepting` (False: the store fails and the
spool is full); these tests make it False on a real log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pdp.errors import ConfigError
from pdp.service.config import config_from_mapping
from tests.service.conftest import TELLER_OPENING, build_app


def not_accepting(app: object, monkeypatch: pytest.MonkeyPatch) -> None:
    log = app.state.service.log  # type: ignore[attr-defined]
    monkeypatch.setattr(type(log), "accepting", property(lambda self: False))


def test_deny_answers_audit_unavailable_while_the_log_accepts_nothing(
    policy_dir: Path, log_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(policy_dir, log_url)  # on_log_failure: deny, the default
    with TestClient(app) as client:
        assert client.post("/v1/decisions", json=TELLER_OPENING).json()["allowed"] is True
        not_accepting(app, monkeypatch)
        one = client.post("/v1/decisions", json=TELLER_OPENING).json()
        batch = client.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 3})
        assert one["allowed"] is False and one["reasons"] == ["audit_unavailable"]
        assert [r["reasons"] for r in batch.json()["results"]] == [["audit_unavailable"]] * 3
        metrics = client.get("/metrics").text
        assert "pdp_log_accepting 0.0" in metrics


def test_allow_keeps_deciding_and_counts_what_is_lost(
    policy_dir: Path, log_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(policy_dir, log_url, on_log_failure="allow")
    with TestClient(app) as client:
        not_accepting(app, monkeypatch)
        answer = client.post("/v1/decisions", json=TELLER_OPENING).json()
        assert answer["allowed"] is True and answer["reasons"] == ["G-TELLER-ID"]
        metrics = client.get("/metrics").text
        assert "pdp_log_records_dropped" in metrics and "pdp_log_spooled" in metrics


def test_spool_and_on_log_failure_come_from_the_config(tmp_path: Path) -> None:
    config = config_from_mapping(
        {"log_spool": str(tmp_path / "spool"), "log_spool_max_mb": 64, "on_log_failure": "allow"}
    )
    assert (config.log_spool, config.log_spool_max_mb, config.on_log_failure) == (
        str(tmp_path / "spool"),
        64,
        "allow",
    )
    assert config_from_mapping({}).on_log_failure == "deny"
    for bad in ({"on_log_failure": "maybe"}, {"log_spool_max_mb": 0}, {"log_spool": ""}):
        with pytest.raises(ConfigError):
            config_from_mapping(bad)
