"""Authentication: no token, a wrong token and a wrong scope; admin off without an admin token."""

from __future__ import annotations

import pytest

from pdp.service.auth import Authenticator, AuthFailure, Caller, hash_token
from pdp.service.config import ServiceConfig
from tests.service.conftest import TELLER_OPENING, TestClient, bearer, token_config

ENDPOINTS = [
    ("post", "/v1/decisions", TELLER_OPENING, "decide"),
    ("post", "/v1/decisions/batch", {"requests": [TELLER_OPENING]}, "decide"),
    ("post", "/v1/explain", TELLER_OPENING, "explain"),
    ("get", "/v1/subjects/role/teller/permissions", None, "review"),
    ("get", "/v1/access?info_class=identity&purpose=account_opening&action=use", None, "review"),
    ("post", "/v1/policy/reload", None, "admin"),
]
TOKEN_OF = {
    "decide": "app-token",
    "explain": "explain-token",
    "review": "review-token",
    "admin": "admin-token",
}


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_no_token_and_wrong_token_are_401_with_challenge(
    secured: TestClient, method: str, path: str, body: object, scope: str
) -> None:
    for headers in ({}, bearer("not-a-token"), {"authorization": "Basic dTpw"}):
        response = secured.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] in {"unauthenticated", "invalid_token"}


@pytest.mark.parametrize(("method", "path", "body", "scope"), ENDPOINTS)
def test_scopes(secured: TestClient, method: str, path: str, body: object, scope: str) -> None:
    for held, token in TOKEN_OF.items():
        response = secured.request(method, path, json=body, headers=bearer(token))
        if held in (scope, "admin"):
            assert response.status_code == 200, (held, response.text)
        else:
            assert response.status_code == 403, (held, response.text)
            assert response.json()["error"]["code"] == "forbidden"


def test_caller_name_goes_into_the_log(secured: TestClient) -> None:
    data = secured.post("/v1/decisions", json=TELLER_OPENING, headers=bearer("app-token")).json()
    log = secured.app.state.service.log  # type: ignore[attr-defined]
    log.flush()
    (record,) = [r for r in log.query() if r.decision_id == data["decision_id"]]
    assert record.caller == "core-banking"


def test_health_is_open_and_metrics_and_policy_need_a_token(secured: TestClient) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/readyz").status_code == 200
    assert secured.get("/metrics").status_code == 401
    assert secured.get("/metrics", headers=bearer("app-token")).status_code == 200
    assert secured.get("/v1/policy").status_code == 401
    assert secured.get("/v1/policy", headers=bearer("review-token")).status_code == 200


def test_open_service_has_admin_off(client: TestClient) -> None:
    response = client.post("/v1/policy/reload")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_disabled"
    assert client.post("/v1/decisions", json=TELLER_OPENING).status_code == 200


def test_authenticator_compares_hashes() -> None:
    auth = Authenticator(ServiceConfig(tokens=token_config()))
    assert auth.identify("Bearer app-token") == Caller("core-banking", frozenset({"decide"}))
    assert auth.identify("bearer  app-token ") == Caller("core-banking", frozenset({"decide"}))
    assert isinstance(auth.identify("Bearer app-token2"), AuthFailure)
    assert isinstance(auth.identify(""), AuthFailure)
    assert hash_token("test") == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
