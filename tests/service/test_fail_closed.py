"""Fail closed: bad input is a 4xx naming the field; an internal error is a deny, not a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from pdp.service.config import Limits
from tests.service.conftest import TELLER_OPENING, TestClient, build_app

LONG = "x" * 257


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {k: v for k, v in TELLER_OPENING.items() if k != "info_class"},
            422,
            "invalid_request",
            "info_class",
        ),
        ({**TELLER_OPENING, "extra": 1}, 422, "invalid_request", "extra"),
        ({**TELLER_OPENING, "action": 7}, 422, "invalid_request", "action"),
        ({**TELLER_OPENING, "purpose": ["a"]}, 422, "invalid_request", "purpose"),
        ({**TELLER_OPENING, "user": "u1"}, 422, "invalid_request", "role"),
        ({k: v for k, v in TELLER_OPENING.items() if k != "role"}, 422, "invalid_request", "role"),
        ({**TELLER_OPENING, "info_class": LONG}, 422, "invalid_request", "info_class"),
        ({**TELLER_OPENING, "info_class": ""}, 422, "invalid_request", "info_class"),
        ({**TELLER_OPENING, "role": "teller\u001b[2J"}, 422, "invalid_request", "role"),
        ({**TELLER_OPENING, "purpose": "a\u0085b"}, 422, "invalid_request", "purpose"),
        ({**TELLER_OPENING, "action": "use\u202e"}, 422, "invalid_request", "action"),
        (
            {**TELLER_OPENING, "context": {"consent": ["ok", "bad\n"]}},
            422,
            "invalid_request",
            "context.consent[1]",
        ),
        (
            {**TELLER_OPENING, "context": {"consent": "marketing"}},
            422,
            "invalid_request",
            "context.consent",
        ),
        (
            {**TELLER_OPENING, "context": {"customer_name": "c1"}},
            422,
            "invalid_request",
            "context.customer_name",
        ),
        ({**TELLER_OPENING, "context": []}, 422, "invalid_request", "context"),
        ([TELLER_OPENING], 422, "invalid_request", "body"),
        ("just a string", 422, "invalid_request", "body"),
    ],
)
def test_bad_decision_requests_name_the_field(
    client: TestClient, body: Any, status: int, code: str, field: str
) -> None:
    response = client.post("/v1/decisions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"] and "\n" not in error["message"]


def test_batch_errors_name_the_item(client: TestClient) -> None:
    body = {"requests": [TELLER_OPENING, {**TELLER_OPENING, "action": None}]}
    error = client.post("/v1/decisions/batch", json=body).json()["error"]
    assert error["field"] == "requests[1].action"
    assert client.post("/v1/decisions/batch", json={"requests": []}).status_code == 422
    assert client.post("/v1/decisions/batch", json={"requests": {}}).status_code == 422


@pytest.mark.parametrize(
    ("content", "headers", "code"),
    [
        (b"{not json", {"content-type": "application/json"}, "malformed_json"),
        (b'{"role": "teller",', {"content-type": "application/json"}, "malformed_json"),
        (b"", {"content-type": "application/json"}, "invalid_request"),
        (b"\xff\xfe", {"content-type": "application/json"}, "malformed_json"),
        (b"[" * 50_000, {"content-type": "application/json"}, "malformed_json"),
        (b'{"requests": ' + b"[" * 50_000, {"content-type": "application/json"}, "malformed_json"),
    ],
)
def test_malformed_bodies_are_4xx(
    client: TestClient, content: bytes, headers: dict[str, str], code: str
) -> None:
    for path in ("/v1/decisions", "/v1/decisions/batch", "/v1/explain"):
        response = client.post(path, content=content, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.json()["error"]["code"] == code


def test_oversized_bodies_are_413_by_header_and_by_stream(policy_dir: Any, log_url: str) -> None:
    app = build_app(policy_dir, log_url, limits=Limits(max_body_bytes=512))
    with TestClient(app) as c:
        big = {**TELLER_OPENING, "role": "r" * 200, "purpose": "p" * 200, "action": "a" * 200}
        response = c.post("/v1/decisions", json=big)
        assert response.status_code == 413
        assert response.json()["error"] == {
            "code": "body_too_large",
            "message": "the body exceeds 512 bytes",
            "field": "body",
        }

        def chunks() -> Any:  # no content-length: chunked transfer, counted as it streams
            yield b'{"role": "teller", "info_class": "'
            yield b"x" * 1000
            yield b'"}'

        response = c.post(
            "/v1/decisions", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert c.post("/v1/decisions", json=TELLER_OPENING).status_code == 200


def test_internal_error_while_deciding_is_a_logged_counted_deny(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    dp = app.state.service.dp

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(dp, "decide_many", broken)
    response = client.post("/v1/decisions", json=TELLER_OPENING)
    assert response.status_code == 200
    data = response.json()
    assert (data["allowed"], data["reasons"]) == (False, ["error"])
    batch = client.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING] * 2}).json()
    assert [r["reasons"] for r in batch["results"]] == [["error"], ["error"]]
    monkeypatch.setattr(dp, "explain", broken)
    assert client.post("/v1/explain", json=TELLER_OPENING).json()["reasons"] == ["error"]
    metrics = client.get("/metrics").text
    assert "pdp_decision_errors_total 4.0" in metrics
    log = app.state.service.log
    log.flush()
    denied = [r for r in log.query() if r.kind == "decision"]
    assert len(denied) == 4
    assert all(not r.allowed and r.reasons == ("error",) for r in denied)


def test_unknown_routes_and_methods_are_json_4xx(client: TestClient) -> None:
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"
    response = client.get("/v1/decisions")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_remembered_question_lets_no_wrong_type_through(client: TestClient) -> None:
    consented = {**TELLER_OPENING, "context": {"consent": ["ma", "rk"]}}
    assert client.post("/v1/decisions", json=consented).status_code == 200
    assert client.post("/v1/decisions", json=TELLER_OPENING).status_code == 200
    for body, field in [
        ({**TELLER_OPENING, "context": {"consent": "mark"}}, "context.consent"),
        ({**TELLER_OPENING, "context": {"consent": ["ma", ["rk"]]}}, "context.consent[1]"),
        ({**TELLER_OPENING, "role": ["teller"]}, "role"),
        ({**TELLER_OPENING, "action": True}, "action"),
        ({**TELLER_OPENING, "extra": None}, "extra"),
    ]:
        response = client.post("/v1/decisions", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == field
        batch = client.post("/v1/decisions/batch", json={"requests": [TELLER_OPENING, body]})
        assert batch.status_code == 422
        assert batch.json()["error"]["field"] == f"requests[1].{field}"


def test_an_invalid_item_anywhere_logs_nothing_of_its_batch(
    app: FastAPI, client: TestClient
) -> None:
    good = [TELLER_OPENING, {**TELLER_OPENING, "role": "nobody"}]
    body = {"requests": [*good, {**TELLER_OPENING, "info_class": 3}, *good]}
    response = client.post("/v1/decisions/batch", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "requests[2].info_class"
    log = app.state.service.log
    log.flush()
    assert log.query() == []
