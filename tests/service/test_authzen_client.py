"""The AuthZEN clients and `require` over AuthZEN: to pdp's endpoints and to another PDP.

Every evaluation a client sends, and every answer it reads, is checked against
the working group's schemas.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pdp.authzen_client import (
    AsyncAuthzenClient,
    AuthzenClient,
    AuthzenMapping,
    async_client_for,
    client_for,
)
from pdp.client import AsyncPdpClient, PdpClient, PdpClientError
from pdp.core.decision import Decision
from tests.service.authzen_spec import checked
from tests.service.conftest import TELLER_OPENING, TestClient, build_app, token_config
from tests.service.test_require import application, check

ARGS = dict(TELLER_OPENING)
REQUESTS = [
    ARGS,
    {**ARGS, "role": None, "user": "u1"},
    {**ARGS, "action": "disclose"},
    {**ARGS, "info_class": "account.balance", "purpose": "marketing"},
    {**ARGS, "info_class": "account.balance", "purpose": "marketing"}
    | {"context": {"consent": ["marketing"]}},
]


@pytest.fixture
def service(policy_dir: Any, log_url: str) -> Iterator[FastAPI]:
    app = build_app(policy_dir, log_url, tokens=token_config())
    yield app
    app.state.service.log.close()


class Checked(httpx.AsyncBaseTransport):
    """An ASGI transport that checks AuthZEN evaluations and answers against the schemas."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        single = request.url.path.endswith("/evaluation")
        if request.method == "POST":
            checked(
                "evaluation-request" if single else "evaluations-request",
                json.loads(request.content),
            )
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if request.method == "POST" and response.status_code == 200:
            checked("evaluation-response" if single else "evaluations-response", response.json())
        return response


def key(d: Decision) -> tuple[Any, ...]:
    return (d.allowed, d.reasons, d.obligations, d.policy_version)


def test_the_authzen_client_answers_as_the_native_client(service: FastAPI) -> None:
    transport = Checked(service)

    async def run() -> tuple[list[Decision], list[Decision], Decision]:
        async with AsyncAuthzenClient(
            "http://pdp", token="app-token", discover=True, transport=transport
        ) as authzen:
            via_authzen = await authzen.decide_many(REQUESTS)
            one = await authzen.decide(**ARGS)
        async with AsyncPdpClient(
            "http://pdp", token="app-token", transport=httpx.ASGITransport(app=service)
        ) as native:
            via_native = await native.decide_many(REQUESTS)
        return via_authzen, via_native, one

    via_authzen, via_native, one = asyncio.run(run())
    assert [key(d) for d in via_authzen] == [key(d) for d in via_native]
    assert [d.allowed for d in via_authzen] == [True, True, False, False, True]
    assert len(one.decision_id) == 32 and one.obligations == ("mask:partial",)
    assert transport.paths == [
        "/.well-known/authzen-configuration",
        "/access/v1/evaluations",
        "/access/v1/evaluation",
    ]


class OtherPdp:
    """Another vendor's AuthZEN PDP: its own entity types, no boxcars, a bare decision."""

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata or {
            "policy_decision_point": "https://other.example",
            "access_evaluation_endpoint": "https://other.example/authz/eval",
        }
        self.seen: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.path == "/.well-known/authzen-configuration"
            return httpx.Response(200, json=self.metadata)
        assert str(request.url) == "https://other.example/authz/eval"
        body = checked("evaluation-request", json.loads(request.content))
        self.seen.append(body)
        allowed = body["subject"]["id"] == "alice" and body["action"]["name"] == "GET"
        return httpx.Response(200, json=checked("evaluation-response", {"decision": allowed}))


ROUTES = AuthzenMapping(role_type="group", user_type="identity", resource_type="route")


def test_the_client_speaks_to_another_pdp_with_its_mapping() -> None:
    other = OtherPdp()
    with AuthzenClient(
        "https://other.example", mapping=ROUTES, discover=True, transport=httpx.MockTransport(other)
    ) as pdp:
        decisions = pdp.decide_many(
            [
                {"user": "alice", "info_class": "/todos", "purpose": "work", "action": "GET"},
                {"user": "bob", "info_class": "/todos", "purpose": "work", "action": "GET"},
            ]
        )
    assert [d.allowed for d in decisions] == [True, False]
    assert decisions[0] == Decision(True, (), (), "", "")
    assert other.seen[0] == {
        "subject": {"type": "identity", "id": "alice"},
        "resource": {"type": "route", "id": "/todos"},
        "action": {"name": "GET"},
        "context": {"purpose": "work"},
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(401, json={"error": {"code": "unauthenticated", "message": "no"}}), "401"),
        (httpx.Response(500, text="boom"), "500"),
        (httpx.Response(200, json={"decision": "yes"}), "malformed"),
        (httpx.Response(200, json=[True]), "malformed"),
        (httpx.Response(200, text="not json"), "malformed"),
    ],
)
def test_anything_but_a_decision_is_an_error(answer: httpx.Response, message: str) -> None:
    transport = httpx.MockTransport(lambda request: answer)
    with (
        AuthzenClient("https://x", transport=transport) as pdp,
        pytest.raises(PdpClientError, match=message),
    ):
        pdp.decide(role="r", info_class="c", purpose="p", action="a")


def test_metadata_naming_another_pdp_is_refused() -> None:
    other = OtherPdp({"policy_decision_point": "https://evil.example"})
    with (
        AuthzenClient(
            "https://other.example", discover=True, transport=httpx.MockTransport(other)
        ) as pdp,
        pytest.raises(PdpClientError, match="another PDP"),
    ):
        pdp.decide(role="r", info_class="c", purpose="p", action="a")
    assert other.seen == []


def test_an_unreachable_pdp_is_an_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    pdp = AuthzenClient("https://x", transport=httpx.MockTransport(refuse))
    with pdp, pytest.raises(PdpClientError, match="unreachable"):
        pdp.decide(role="r", info_class="c", purpose="p", action="a")


def test_configuration_chooses_the_protocol() -> None:
    assert isinstance(client_for("http://pdp", protocol="authzen"), AuthzenClient)
    assert isinstance(client_for("http://pdp"), PdpClient)
    assert isinstance(async_client_for("http://pdp", protocol="authzen"), AsyncAuthzenClient)
    assert isinstance(async_client_for("http://pdp", protocol="native"), AsyncPdpClient)
    with pytest.raises(ValueError, match="unknown protocol"):
        client_for("http://pdp", protocol="grpc")  # type: ignore[arg-type]


def test_require_speaks_authzen_to_pdp(policy_dir: Any, log_url: str) -> None:
    app = build_app(policy_dir, log_url)
    try:
        check(application(AsyncAuthzenClient("http://pdp", transport=httpx.ASGITransport(app=app))))
    finally:
        app.state.service.log.close()


def test_require_speaks_authzen_to_another_pdp_and_fails_closed() -> None:
    other = OtherPdp()
    pdp = AuthzenClient(
        "https://other.example", mapping=ROUTES, discover=True, transport=httpx.MockTransport(other)
    )
    with TestClient(application(pdp)) as c:
        assert c.get("/customers/c1/id-number", headers={"x-user": "alice"}).status_code == 403
    assert other.seen[0]["subject"] == {"type": "identity", "id": "alice"}
    assert other.seen[0]["resource"] == {"type": "route", "id": "identity.id_number"}

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    broken = AuthzenClient("https://x", transport=httpx.MockTransport(refuse))
    with TestClient(application(broken)) as c:
        assert c.get("/customers/c1/id-number", headers={"x-user": "u1"}).status_code == 503
