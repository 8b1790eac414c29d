"""The request guard: JSON bodies only (415), allowed `Host` names only (421)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdp.service.config import Limits
from tests.service.conftest import TELLER_OPENING, TestClient, build_app


@pytest.mark.parametrize(
    "media",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        None,
    ],
)
def test_a_post_body_that_is_not_json_by_its_type_is_415(
    client: TestClient, media: str | None
) -> None:
    headers = {} if media is None else {"content-type": media}
    body = b'{"role": "teller", "info_class": "identity.id_number", "purpose": "x", "action": "y"}'
    for path in ("/v1/decisions", "/v1/decisions/batch", "/v1/explain"):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 415, (path, media)
        assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "media", ["application/json", "application/json; charset=utf-8", "application/vnd.pdp+json"]
)
def test_json_media_types_are_decided(client: TestClient, media: str) -> None:
    response = client.post(
        "/v1/decisions",
        content=str(TELLER_OPENING).replace("'", '"'),
        headers={"content-type": media},
    )
    assert response.status_code == 200


def test_only_allowed_hosts_are_served(policy_dir: Path, log_url: str) -> None:
    app = build_app(policy_dir, log_url, allowed_hosts=("localhost", "127.0.0.1", "::1"))
    with TestClient(app, base_url="http://localhost:8181") as c:
        assert c.post("/v1/decisions", json=TELLER_OPENING).status_code == 200
        for host in ("127.0.0.1:8181", "[::1]:8181", "LOCALHOST"):
            response = c.post("/v1/decisions", json=TELLER_OPENING, headers={"host": host})
            assert response.status_code == 200, host
        for host in ("evil.example", "localhost.evil.example:8181", ""):
            response = c.post("/v1/decisions", json=TELLER_OPENING, headers={"host": host})
            assert response.status_code == 421, host
            assert response.json()["error"]["code"] == "host_not_allowed"
            assert c.get("/v1/policy", headers={"host": host}).status_code == 421
        assert c.get("/healthz", headers={"host": "evil.example"}).status_code == 200


def test_the_request_id_is_echoed_on_the_guards_refusals(policy_dir: Path, log_url: str) -> None:
    app = build_app(
        policy_dir, log_url, allowed_hosts=("testserver",), limits=Limits(max_body_bytes=512)
    )
    rid = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"
    body = str(TELLER_OPENING).replace("'", '"').encode()
    json_type = {"content-type": "application/json", "x-request-id": rid}
    refusals = {
        415: {"content": body, "headers": {"content-type": "text/plain", "x-request-id": rid}},
        421: {"content": body, "headers": {**json_type, "host": "evil.example"}},
        413: {"content": b"[" + b"1," * 600 + b"1]", "headers": json_type},
        400: {"content": body, "headers": {**json_type, "content-length": "x"}},
    }
    with TestClient(app) as c:
        for status, request in refusals.items():
            for path in ("/v1/decisions", "/access/v1/evaluation"):
                response = c.post(path, **request)
                assert response.status_code == status, (path, response.text)
                assert response.headers.get_list("x-request-id") == [rid], (path, status)
        decided = c.post("/v1/decisions", content=body, headers=json_type)
        assert decided.status_code == 200
        assert decided.headers.get_list("x-request-id") == [rid]
        assert "x-request-id" not in c.post("/v1/decisions", json=TELLER_OPENING).headers
