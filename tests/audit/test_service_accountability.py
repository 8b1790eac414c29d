"""Accountability end to end: `require_user`, and the context facts the service logs."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdp.audit import read_records
from pdp.cli.app import app as cli
from pdp.decision_point import DecisionPoint
from pdp.errors import ConfigError, outcome_of
from pdp.service import ServiceConfig, create_app
from pdp.service.deciding import USER_REQUIRED

with warnings.catch_warnings():  # starlette warns about httpx at import time
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

POLICY = Path(__file__).parents[1] / "service" / "policy" / "policy.yaml"
SECRET = "s" * 40
TELLER = {
    "role": "teller",
    "info_class": "identity.id_number",
    "purpose": "account_opening",
    "action": "use",
}
U1 = {**{k: v for k, v in TELLER.items() if k != "role"}, "user": "u1"}
NO_KEY_ENV = ("PDP_CUSTOMER_KEY", "PDP_CUSTOMER_KEY_FILE")


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NO_KEY_ENV:
        monkeypatch.delenv(name, raising=False)


def serve(tmp_path: Path, **config: Any) -> TestClient:
    log = tmp_path / "decisions.db"
    settings = ServiceConfig(log=str(log), log_writer="thread", **config)
    return TestClient(create_app(DecisionPoint.from_path(POLICY), settings))


@pytest.fixture
def production(tmp_path: Path) -> Iterator[TestClient]:
    keys = tmp_path / "keys"
    keys.write_text(f"k1 {SECRET}\n", encoding="utf-8")
    with serve(tmp_path, require_user=True, customer_key_file=str(keys)) as client:
        yield client


def logged(tmp_path: Path) -> list[Any]:
    return [r for r in read_records(str(tmp_path / "decisions.db")) if r.kind == "decision"]


def test_require_user_denies_role_only_requests_and_logs_them(
    production: TestClient, tmp_path: Path
) -> None:
    role = production.post("/v1/decisions", json=TELLER)
    assert role.status_code == 200
    assert (role.json()["allowed"], role.json()["reasons"]) == (False, [USER_REQUIRED])
    user = production.post("/v1/decisions", json=U1)
    assert user.json()["allowed"] is True
    batch = production.post("/v1/decisions/batch", json={"requests": [U1, TELLER, U1]})
    assert [r["reasons"] for r in batch.json()["results"]] == [
        ["G-TELLER-ID"],
        [USER_REQUIRED],
        ["G-TELLER-ID"],
    ]
    explained = production.post("/v1/explain", json=TELLER)
    assert explained.status_code == 200 and explained.json()["reasons"] == [USER_REQUIRED]
    authzen = production.post(
        "/access/v1/evaluation",
        json={
            "subject": {"type": "role", "id": "teller"},
            "resource": {"type": "info_class", "id": "identity.id_number"},
            "action": {"name": "use"},
            "context": {"purpose": "account_opening"},
        },
    )
    assert authzen.json()["decision"] is False
    assert authzen.json()["context"]["reasons"] == [USER_REQUIRED]
    production.app.state.service.log.flush()  # type: ignore[attr-defined]
    records = logged(tmp_path)
    assert [(r.subject_kind, r.reasons) for r in records] == [
        ("role", (USER_REQUIRED,)),
        ("user", ("G-TELLER-ID",)),
        ("user", ("G-TELLER-ID",)),
        ("role", (USER_REQUIRED,)),
        ("user", ("G-TELLER-ID",)),
        ("role", (USER_REQUIRED,)),
        ("role", (USER_REQUIRED,)),
    ]
    assert not any(r.allowed for r in records if r.subject_kind == "role")


def test_without_require_user_role_requests_are_decided(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        assert client.post("/v1/decisions", json=TELLER).json()["allowed"] is True


def test_require_user_without_a_customer_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a customer key") as caught:
        serve(tmp_path, require_user=True)
    assert outcome_of(caught.value).exit_code == 2
    config = tmp_path / "pdp.yaml"
    config.write_text("require_user: true\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["serve", str(POLICY), "--config", str(config), "--log", str(tmp_path / "d.db")]
    )
    assert result.exit_code == 2 and "needs a customer key" in result.stderr


def test_the_consent_claimed_is_logged(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        body = {**TELLER, "context": {"consent": ["account_opening", "marketing"]}}
        assert client.post("/v1/decisions", json=body).status_code == 200
        client.app.state.service.log.flush()  # type: ignore[attr-defined]
    (record,) = logged(tmp_path)
    assert record.detail == {"consent": ["account_opening", "marketing"]}
    assert json.loads(json.dumps(record.to_dict()))["detail"]["consent"] == [
        "account_opening",
        "marketing",
    ]
