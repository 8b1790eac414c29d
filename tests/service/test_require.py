"""The FastAPI dependency `require`: allow passes the decision on, deny is 403, no PDP 503.

No `from __future__ import annotations`: the endpoints below are defined in a function.
"""

from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from pdp.client import AsyncPdpClient, PdpClient
from pdp.core.decision import Decision
from pdp.decision_point import DecisionPoint
from pdp.service.require import require
from tests.service.conftest import POLICY, TestClient, build_app


def application(decider: Any) -> FastAPI:
    """An application protecting one endpoint with `require`."""
    app = FastAPI()
    app.state.pdp = decider
    opening = require(
        info_class="identity.id_number",
        purpose="account_opening",
        action="use",
        user_from="x-user",
    )

    @app.get("/customers/{cid}/id-number")
    async def id_number(
        cid: str, decision: Annotated[Decision, Depends(opening)]
    ) -> dict[str, Any]:
        return {"customer": cid, "obligations": list(decision.obligations)}

    def role_of(request: Request) -> str | None:
        return request.headers.get("x-role")

    @app.get(
        "/balance",
        dependencies=[
            Depends(
                require(
                    info_class="account.balance",
                    purpose="account_opening",
                    action="use",
                    role_from=role_of,
                )
            )
        ],
    )
    async def balance() -> dict[str, str]:
        return {"balance": "masked"}

    return app


def check(app: FastAPI) -> None:
    with TestClient(app) as c:
        allowed = c.get("/customers/c1/id-number", headers={"x-user": "u1"})
        assert allowed.status_code == 200 and allowed.json()["obligations"] == ["mask:partial"]
        denied = c.get("/customers/c1/id-number", headers={"x-user": "u2"})
        assert denied.status_code == 403
        assert denied.json()["detail"]["code"] == "access_denied"
        assert "default_deny" not in denied.text  # reasons stay in the log by default
        assert c.get("/customers/c1/id-number").status_code == 403
        assert c.get("/balance", headers={"x-role": "teller"}).status_code == 200
        assert c.get("/balance", headers={"x-role": "analyst"}).status_code == 403


def test_in_process_decision_point() -> None:
    check(application(DecisionPoint.from_path(POLICY)))


@pytest.fixture
def service(policy_dir: Any, log_url: str) -> Iterator[FastAPI]:
    app = build_app(policy_dir, log_url)
    yield app
    app.state.service.log.close()


def test_async_client_to_the_service(service: FastAPI) -> None:
    check(application(AsyncPdpClient("http://pdp", transport=httpx.ASGITransport(app=service))))


def test_unreachable_service_is_503_never_allow() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = application(PdpClient("http://pdp", transport=httpx.MockTransport(refuse)))
    with TestClient(app) as c:
        assert c.get("/customers/c1/id-number", headers={"x-user": "u1"}).status_code == 503
    with TestClient(application(None)) as c:
        assert c.get("/customers/c1/id-number", headers={"x-user": "u1"}).status_code == 503


def test_require_needs_one_subject_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        require(info_class="a", purpose="b", action="c")


def marketing(decider: Any, details: bool = False) -> FastAPI:
    """An application whose endpoint needs the customer's consent to marketing."""
    app = FastAPI()
    guard = require(
        info_class="account.balance",
        purpose="marketing",
        action="use",
        role_from="x-role",
        consent_from=lambda request: request.headers.get("x-consent", "").split(","),
        decider=decider,
        details=details,
    )

    @app.get("/offers", dependencies=[Depends(guard)])
    async def offers() -> dict[str, str]:
        return {"offer": "savings"}

    return app


@pytest.mark.parametrize("kind", ["in-process", "async client", "sync client"])
def test_no_or_empty_consent_is_none_and_a_403_consent_required(
    service: FastAPI, kind: str
) -> None:
    deciders = {
        "in-process": lambda: DecisionPoint.from_path(POLICY),
        "async client": lambda: AsyncPdpClient(
            "http://pdp", transport=httpx.ASGITransport(app=service)
        ),
        "sync client": lambda: PdpClient("http://pdp", transport=TestClient(service)._transport),
    }
    with TestClient(marketing(deciders[kind]())) as c:
        for headers in ({"x-role": "teller"}, {"x-role": "teller", "x-consent": ""}):
            denied = c.get("/offers", headers=headers)
            assert denied.status_code == 403, denied.text
            assert denied.json()["detail"]["code"] == "consent_required"
        given = c.get("/offers", headers={"x-role": "teller", "x-consent": "marketing, "})
        assert given.status_code == 200
        assert c.get("/offers", headers={"x-role": "", "x-consent": "marketing"}).status_code == 403


def test_the_403_names_the_decision_and_reasons_only_when_asked(service: FastAPI) -> None:
    client = AsyncPdpClient("http://pdp", transport=httpx.ASGITransport(app=service))
    with TestClient(marketing(client)) as c:
        body = c.get("/offers", headers={"x-role": "analyst"}).json()["detail"]
        assert body["message"] == "access denied" and len(body["decision_id"]) == 32
        assert "reasons" not in body
    with TestClient(marketing(client, details=True)) as c:
        body = c.get("/offers", headers={"x-role": "analyst"}).json()["detail"]
        assert body["reasons"] == ["default_deny"]
