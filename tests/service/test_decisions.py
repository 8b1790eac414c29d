"""The decision endpoints: answers, batch order and version, logging of every decision."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.service.conftest import TELLER_OPENING, TestClient


def test_decision_allows_with_obligations_version_and_id(client: TestClient) -> None:
    response = client.post("/v1/decisions", json=TELLER_OPENING)
    assert response.status_code == 200
    data = response.json()
    assert data["allowed"] is True
    assert data["reasons"] == ["G-TELLER-ID"]
    assert data["obligations"] == ["mask:partial"]
    assert data["policy_version"] == client.app.state.service.dp.version  # type: ignore[attr-defined]
    assert len(data["decision_id"]) == 32
    int(data["decision_id"], 16)


def test_deny_reasons_unknown_and_default_and_explicit(client: TestClient) -> None:
    def ask(**changes: Any) -> dict[str, Any]:
        return client.post("/v1/decisions", json={**TELLER_OPENING, **changes}).json()

    assert ask(role="nobody")["reasons"] == ["unknown_role"]
    assert ask(action="disclose")["reasons"] == ["default_deny"]
    assert ask(info_class="identity.biometric")["reasons"] == ["D-NO-BIOMETRIC"]
    assert ask(role=None, user="u1")["allowed"] is True


def test_consent_comes_from_context(client: TestClient) -> None:
    request = {**TELLER_OPENING, "info_class": "account.balance", "purpose": "marketing"}
    assert client.post("/v1/decisions", json=request).json()["reasons"] == ["consent_required"]
    request["context"] = {"consent": ["marketing"]}
    assert client.post("/v1/decisions", json=request).json()["allowed"] is True


def test_batch_answers_in_order_with_one_version(client: TestClient) -> None:
    requests = [TELLER_OPENING, {**TELLER_OPENING, "role": "nobody"}, TELLER_OPENING]
    response = client.post("/v1/decisions/batch", json={"requests": requests})
    assert response.status_code == 200
    data = response.json()
    assert [r["allowed"] for r in data["results"]] == [True, False, True]
    assert {r["policy_version"] for r in data["results"]} == {data["policy_version"]}
    assert len({r["decision_id"] for r in data["results"]}) == 3


def test_explain_shows_matches_and_is_logged(app: FastAPI, client: TestClient) -> None:
    response = client.post("/v1/explain", json={**TELLER_OPENING, "role": None, "user": "u1"})
    data = response.json()
    assert response.status_code == 200
    assert data["matched"][0]["grant"] == "G-TELLER-ID"
    assert data["matched"][0]["path"] == ["u1", "teller"]
    assert "identity" in data["class_ancestors"]
    log = app.state.service.log
    log.flush()
    assert [r.decision_id for r in log.query()] == [data["decision_id"]]


def test_every_decision_is_logged_with_caller_and_id(app: FastAPI, client: TestClient) -> None:
    one = client.post("/v1/decisions", json=TELLER_OPENING).json()
    batch = client.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 4}).json()
    log = app.state.service.log
    log.flush()
    records = [r for r in log.query() if r.kind == "decision"]
    ids = [one["decision_id"]] + [r["decision_id"] for r in batch["results"]]
    assert sorted(r.decision_id for r in records) == sorted(ids)
    first = next(r for r in records if r.decision_id == one["decision_id"])
    assert (first.caller, first.subject_kind, first.subject) == ("anonymous", "role", "teller")
    assert (first.info_class, first.purpose, first.action) == (
        "identity.id_number",
        "account_opening",
        "use",
    )
    assert first.allowed and first.reasons == ("G-TELLER-ID",)
    assert first.policy_version == one["policy_version"]


def test_batch_limit_from_config_is_413(policy_dir: Any, log_url: str) -> None:
    from pdp.service.config import Limits
    from tests.service.conftest import build_app

    with TestClient(build_app(policy_dir, log_url, limits=Limits(max_batch=2))) as c:
        response = c.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 3})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert response.json()["error"]["field"] == "requests"


def test_ids_are_uuid8_unique_and_times_are_in_the_log_format() -> None:
    import time
    import uuid
    from datetime import UTC, datetime

    from pdp.audit.record import TIME_FORMAT
    from pdp.service.deciding import DecisionIds, log_time, new_ids

    ids = new_ids(500) + new_ids(1)
    assert len(set(ids)) == 501
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 8 and parsed.variant == uuid.RFC_4122 and parsed.hex == value
    other = DecisionIds()  # another process (or a fork): another random prefix
    assert not set(other.take(500)) & set(ids)
    now = 1_790_000_000.25
    assert log_time(now) == datetime.fromtimestamp(now, UTC).strftime(TIME_FORMAT)
    assert log_time(now + 1.5) == datetime.fromtimestamp(now + 1.5, UTC).strftime(TIME_FORMAT)
    assert abs(datetime.strptime(log_time(time.time()), TIME_FORMAT).year - 2026) < 100


class SlowLog:
    """A log that is `backlog` records behind and stores 20,000 per check."""

    def __init__(self, backlog: int, healthy: bool = True) -> None:
        self._backlog = backlog
        self.healthy = healthy
        self.checks = 0

    @property
    def backlog(self) -> int:
        self.checks += 1
        self._backlog = max(0, self._backlog - 20_000)
        return self._backlog + 20_000


def test_requests_wait_for_a_healthy_log_that_is_behind_but_not_for_a_failing_one() -> None:
    import asyncio

    from pdp.service.deciding import LOG_HIGH_WATER, wait_for_log

    behind = SlowLog(LOG_HIGH_WATER + 100_000)
    asyncio.run(wait_for_log(behind))  # type: ignore[arg-type]
    assert behind.checks > 3 and behind.backlog < LOG_HIGH_WATER + 20_000
    failing = SlowLog(LOG_HIGH_WATER + 100_000, healthy=False)
    asyncio.run(wait_for_log(failing))  # type: ignore[arg-type]
    assert failing.checks == 1
    keeping_up = SlowLog(10)
    asyncio.run(wait_for_log(keeping_up))  # type: ignore[arg-type]
    assert keeping_up.checks == 1


def test_remembered_answers_follow_a_reload(app: FastAPI, client: TestClient) -> None:
    from pdp.core.compile import compile_policy
    from pdp.core.load import load_policy_text

    first = client.post("/v1/decisions", json=TELLER_OPENING).json()
    dp = app.state.service.dp
    text = (dp.source / "policy.yaml").read_text()
    renamed = text.replace("G-TELLER-ID", "G-TELLER-ID-2")
    dp.swap(compile_policy(load_policy_text(renamed, "policy.yaml")))
    second = client.post("/v1/decisions", json=TELLER_OPENING).json()
    assert first["policy_version"] != second["policy_version"] == dp.version
    assert (first["reasons"], second["reasons"]) == (["G-TELLER-ID"], ["G-TELLER-ID-2"])
    batch = client.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 3}).json()
    assert {r["policy_version"] for r in batch["results"]} == {dp.version}


def test_the_default_writer_process_logs_every_decision(policy_dir: Any, log_url: str) -> None:
    from pdp.audit.process_writer import ProcessDecisionLog
    from tests.service.conftest import build_app

    app = build_app(policy_dir, log_url, log_writer="process")
    with TestClient(app) as c:
        assert isinstance(app.state.service.log, ProcessDecisionLog)
        one = c.post("/v1/decisions", json=TELLER_OPENING).json()
        batch = c.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 300}).json()
        assert c.get("/readyz").status_code == 200
    # the lifespan closed the log: everything is stored
    from pdp.audit import read_records

    ids = [one["decision_id"]] + [r["decision_id"] for r in batch["results"]]
    assert [r.decision_id for r in read_records(log_url) if r.kind == "decision"] == ids
