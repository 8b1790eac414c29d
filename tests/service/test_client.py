"""The Python client: decisions through the ASGI app, batching, the version-keyed cache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pdp.client import AsyncPdpClient, DecisionCache, PdpClient, PdpClientError, cache_key
from pdp.core.decision import Decision
from tests.service.conftest import TELLER_OPENING, bearer, build_app, token_config

ARGS = dict(TELLER_OPENING)


@pytest.fixture
def secured_app(policy_dir: Any, log_url: str) -> Iterator[FastAPI]:
    app = build_app(policy_dir, log_url, tokens=token_config())
    yield app
    app.state.service.log.close()


def test_async_client_decides_through_the_app(secured_app: FastAPI) -> None:
    async def run() -> tuple[Decision, list[Decision]]:
        transport = httpx.ASGITransport(app=secured_app)
        async with AsyncPdpClient("http://pdp", token="app-token", transport=transport) as pdp:
            one = await pdp.decide(**ARGS)
            many = await pdp.decide_many(
                [ARGS, {**ARGS, "role": None, "user": "u1"}, {**ARGS, "action": "disclose"}]
            )
            return one, many

    one, many = asyncio.run(run())
    assert one.allowed and one.reasons == ("G-TELLER-ID",) and len(one.decision_id) == 32
    assert [d.allowed for d in many] == [True, True, False]
    assert many[2].reasons == ("default_deny",)


def test_async_client_raises_on_refusal(secured_app: FastAPI) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=secured_app)
        async with AsyncPdpClient("http://pdp", token="wrong", transport=transport) as pdp:
            await pdp.decide(**ARGS)

    with pytest.raises(PdpClientError) as info:
        asyncio.run(run())
    assert info.value.status == 401 and info.value.error_code == "invalid_token"


class FakeService:
    """A transport standing in for the service: counts calls, answers with a set version."""

    def __init__(self) -> None:
        self.version = "v1"
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        body = json.loads(request.content)
        items = body.get("requests", [body])
        results = [
            {
                "allowed": item.get("role") == "teller",
                "reasons": ["G"],
                "obligations": [],
                "policy_version": self.version,
                "decision_id": f"id{self.calls}",
            }
            for item in items
        ]
        if "requests" in body:
            return httpx.Response(200, json={"policy_version": self.version, "results": results})
        return httpx.Response(200, json=results[0])


def test_cache_is_keyed_by_version_and_expires() -> None:
    service = FakeService()
    with PdpClient("http://pdp", transport=httpx.MockTransport(service), cache_ttl=60) as pdp:
        first = pdp.decide(**ARGS)
        assert pdp.decide(**ARGS) == first and service.calls == 1
        assert pdp.decide(**{**ARGS, "role": "x"}).allowed is False and service.calls == 2
        # a response with a new version drops every cached decision
        service.version = "v2"
        pdp.decide(**{**ARGS, "action": "collect"})
        assert len(pdp.cache) == 1 and pdp.cache.version == "v2"
        assert pdp.decide(**ARGS).policy_version == "v2" and service.calls == 4
        # batches use and fill the cache; only the missing requests are sent
        many = pdp.decide_many([ARGS, {**ARGS, "purpose": "p2"}])
        assert service.calls == 5 and [d.allowed for d in many] == [True, True]
        assert pdp.decide(**{**ARGS, "purpose": "p2"}) == many[1] and service.calls == 5


def test_cache_off_by_default_and_ttl() -> None:
    service = FakeService()
    with PdpClient("http://pdp", transport=httpx.MockTransport(service)) as pdp:
        pdp.decide(**ARGS)
        pdp.decide(**ARGS)
    assert service.calls == 2
    now = [0.0]
    cache = DecisionCache(ttl=10, clock=lambda: now[0])
    key = cache_key({**ARGS, "context": {"consent": ["b", "a"]}})
    assert key[-1] == ("a", "b")
    cache.put(key, Decision(True, (), (), "v", "id"))
    assert cache.get(key) is not None
    now[0] = 11.0
    assert cache.get(key) is None


def test_big_batches_are_split() -> None:
    service = FakeService()
    with PdpClient("http://pdp", transport=httpx.MockTransport(service)) as pdp:
        decisions = pdp.decide_many([ARGS] * 2500)
    assert len(decisions) == 2500 and service.calls == 3


def test_unreachable_service_raises() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        PdpClient("http://pdp", transport=httpx.MockTransport(refuse)) as pdp,
        pytest.raises(PdpClientError, match="unreachable"),
    ):
        pdp.decide(**ARGS)
    with (
        PdpClient(
            "http://pdp",
            transport=httpx.MockTransport(lambda r: httpx.Response(500, text="oops")),
        ) as pdp,
        pytest.raises(PdpClientError, match="500"),
    ):
        pdp.decide(**ARGS)


def test_bearer_header() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return FakeService()(request)

    with PdpClient("http://pdp", token="t0k", transport=httpx.MockTransport(record)) as pdp:
        pdp.decide(**ARGS)
    assert seen == [bearer("t0k")["authorization"]]
