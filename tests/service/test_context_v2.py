"""Version-2 request context through the service, the client and `require(context_from=...)`.

The single and batch endpoints take every context key of the format, refuse
anything else with a 422 naming the field (AuthZEN: a 400), and decide as the
in-process decision point does, for any JSON context; the client sends the
context whole; a FastAPI route passes MFA, ticket and relationship through
`context_from`.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.client import PdpClient, cache_key
from pdp.core.decision import Decision
from pdp.decision_point import DecisionPoint
from pdp.service import ServiceConfig, create_app
from pdp.service.require import require
from tests.service.conftest import TestClient

V2_POLICY = Path(__file__).parents[1] / "cases" / "v2_policy.yaml"
NOON = datetime(2026, 6, 15, 4, tzinfo=UTC)  # 12:00 in Asia/Shanghai
RM = {"user": "u-rm", "info_class": "account", "purpose": "customer_service", "action": "use"}
GOOD = {"relationship": "own_customer", "mfa": True, "records": 3, "customer": "C-1"}


@pytest.fixture
def dp() -> DecisionPoint:
    return DecisionPoint.from_path(V2_POLICY, clock=lambda: NOON)


@pytest.fixture
def client(dp: DecisionPoint, tmp_path: Path) -> Iterator[TestClient]:
    config = ServiceConfig(log=f"sqlite:///{tmp_path / 'log.db'}", watch=False, log_writer="thread")
    with TestClient(create_app(dp, config)) as test_client:
        yield test_client


def test_the_single_endpoint_decides_on_the_v2_context(client: TestClient) -> None:
    allowed = client.post("/v1/decisions", json={**RM, "context": GOOD}).json()
    assert allowed["allowed"] is True and allowed["reasons"] == ["G-RM-OWN-CUSTOMERS"]
    no_mfa = client.post("/v1/decisions", json={**RM, "context": {**GOOD, "mfa": False}}).json()
    assert no_mfa["reasons"] == ["mfa_required"]
    late = {**GOOD, "time": "2026-06-15T21:00:00+08:00"}
    assert client.post("/v1/decisions", json={**RM, "context": late}).json()["reasons"] == [
        "outside_hours"
    ]


def test_the_batch_endpoint_decides_on_the_v2_context(
    client: TestClient, dp: DecisionPoint
) -> None:
    contexts = [
        GOOD,
        {**GOOD, "records": 51},
        {"relationship": "own_customer"},
        {**GOOD, "relationship": "cousin"},
    ]
    requests = [{**RM, "context": c} for c in contexts]
    data = client.post("/v1/decisions/batch", json={"requests": requests}).json()
    reasons = [r["reasons"] for r in data["results"]]
    assert reasons == [
        ["G-RM-OWN-CUSTOMERS"],
        ["bulk_limit_exceeded"],
        ["mfa_required"],
        ["invalid_context"],
    ]
    assert reasons == [list(dp.decide(**r).reasons) for r in requests]


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"mfa": "yes"}, "context.mfa"),
        ({"records": 0}, "context.records"),
        ({"records": True}, "context.records"),
        ({"ticket": ""}, "context.ticket"),
        ({"approver": 7}, "context.approver"),
        ({"time": "2026-06-15T10:00:00"}, "context.time"),
        ({"time": "tomorrow"}, "context.time"),
        ({"customer": "C\u0007"}, "context.customer"),
        ({"urgent": True}, "context.urgent"),
        ({"MFA": True}, "context.MFA"),
        ({"consent": "customer_service"}, "context.consent"),
        ({"consent": [7]}, "context.consent[0]"),
        ({"consent": ["customer_service", ""]}, "context.consent[1]"),
        ({"consent": None}, "context.consent"),
        ({"consent": ["customer_service"] * 65}, "context.consent"),
        ({"approver": ""}, "context.approver"),
        ({"ticket": 7}, "context.ticket"),
        ({"customer": 42}, "context.customer"),
        ({"customer": ""}, "context.customer"),
        ({"relationship": 1}, "context.relationship"),
        ({"relationship": ""}, "context.relationship"),
        ({"records": 2.5}, "context.records"),
        ({"records": 1.0}, "context.records"),
        ({"records": "3"}, "context.records"),
        ({"records": 2**60}, "context.records"),
        ({"time": 1781488800}, "context.time"),
        ({"time": "2026-06-15"}, "context.time"),
        ({"time": "2026-06-15 12:00:00"}, "context.time"),
        ({"mfa": 1}, "context.mfa"),
        ({"mfa": None}, "context.mfa"),
    ],
)
def test_invalid_context_is_a_422_naming_the_field(
    client: TestClient, context: dict[str, Any], field: str
) -> None:
    """Each on a request its valid context allows: refused whole, never decided, never a 5xx."""
    assert client.post("/v1/decisions", json={**RM, "context": GOOD}).json()["allowed"]
    single = client.post("/v1/decisions", json={**RM, "context": {**GOOD, **context}})
    assert single.status_code == 422, single.text
    error = single.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_request", field)
    assert error["message"].startswith(f"`{field}`: ") and "\n" not in error["message"]
    requests = [RM, {**RM, "context": {**GOOD, **context}}]
    batch = client.post("/v1/decisions/batch", json={"requests": requests})
    assert batch.status_code == 422 and batch.json()["error"]["field"] == f"requests[1].{field}"


def authzen(context: dict[str, Any]) -> dict[str, Any]:
    """An AuthZEN evaluation of RM's request with pdp's context beside the purpose."""
    return {
        "subject": {"type": "user", "id": RM["user"]},
        "resource": {"type": "info_class", "id": RM["info_class"]},
        "action": {"name": RM["action"]},
        "context": {"purpose": RM["purpose"], **context},
    }


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"mfa": "yes"}, "context.mfa"),
        ({"records": True}, "context.records"),
        ({"consent": [""]}, "context.consent[0]"),
        ({"approver": 7}, "context.approver"),
        ({"ticket": ""}, "context.ticket"),
        ({"relationship": 1}, "context.relationship"),
        ({"time": "2026-06-15T12:00:00"}, "context.time"),
        ({"urgent": True}, "context.urgent"),
    ],
)
def test_authzen_refuses_an_invalid_v2_context_with_a_400_naming_it(
    client: TestClient, context: dict[str, Any], field: str
) -> None:
    """AuthZEN's bad request is a 400 (its specification), in the service's error shape."""
    allowed = client.post("/access/v1/evaluation", json=authzen(GOOD))
    assert allowed.status_code == 200 and allowed.json()["decision"] is True
    single = client.post("/access/v1/evaluation", json=authzen({**GOOD, **context}))
    assert single.status_code == 400, single.text
    assert single.json()["error"]["field"] == field
    assert single.json()["error"]["message"].startswith(f"`{field}`")
    body = {
        **authzen(GOOD),
        "evaluations": [{}, {"context": authzen({**GOOD, **context})["context"]}],
    }
    boxcar = client.post("/access/v1/evaluations", json=body)
    assert boxcar.status_code == 400, boxcar.text
    assert boxcar.json()["error"]["field"] == f"evaluations[1].{field}"


def test_an_undeclared_relationship_is_a_deny_on_every_endpoint(client: TestClient) -> None:
    """Valid JSON, judged against the policy: a decided deny `invalid_context`, as in process."""
    context = {**GOOD, "relationship": "cousin"}
    single = client.post("/v1/decisions", json={**RM, "context": context})
    assert single.status_code == 200
    assert (single.json()["allowed"], single.json()["reasons"]) == (False, ["invalid_context"])
    answer = client.post("/access/v1/evaluation", json=authzen(context)).json()
    assert (answer["decision"], answer["context"]["reasons"]) == (False, ["invalid_context"])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**54)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)
PLAUSIBLE = {
    "consent": st.lists(st.sampled_from(["marketing", "customer_service", ""]), max_size=3),
    "mfa": st.booleans(),
    "ticket": st.sampled_from(["CHG-1", ""]),
    "approver": st.sampled_from(["u-boss", "u-rm", ""]),
    "relationship": st.sampled_from(["own_customer", "own_branch", "cousin"]),
    "records": st.integers(-1, 60),
    "time": st.sampled_from(["2026-06-15T21:00:00+08:00", "2026-06-15T12:00:00Z", "2026-06-15"]),
    "customer": st.sampled_from(["C-1", ""]),
}
CONTEXTS = st.dictionaries(
    st.sampled_from([*PLAUSIBLE, "urgent"]),
    st.just(None),
    max_size=4,
).flatmap(
    lambda keys: st.fixed_dictionaries(
        {k: st.one_of(PLAUSIBLE.get(k, JSON_VALUES), JSON_VALUES) for k in keys}
    )
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(context=CONTEXTS)
def test_any_context_is_decided_as_in_process_or_refused(
    client: TestClient, dp: DecisionPoint, context: dict[str, Any]
) -> None:
    """Any JSON context: a 200 whose decision is the in-process one, or a 422 where the
    decision point says `invalid_context`; never a 5xx, never an allow of an invalid one."""
    answer = client.post("/v1/decisions", json={**RM, "context": context})
    local = dp.decide(**RM, context=context)
    if answer.status_code == 422:
        assert local.reasons == ("invalid_context",), context
        return
    assert answer.status_code == 200, (context, answer.text)
    data = answer.json()
    assert (data["allowed"], data["reasons"]) == (local.allowed, list(local.reasons)), context


def test_explain_shows_each_requirement(client: TestClient) -> None:
    data = client.post(
        "/v1/explain", json={**RM, "context": {"relationship": "own_customer"}}
    ).json()
    (match,) = data["matched"]
    held = {r["requirement"]: r["held"] for r in match["requirements"]}
    assert held == {"mfa": False, "relationship": True, "max_records": True, "hours": True}
    assert match["in_window"] is True and match["applies"] is False
    assert data["reasons"] == ["mfa_required"] and data["time"].startswith("2026-06-15T04:00")


def test_the_client_sends_the_whole_context(client: TestClient) -> None:
    def forward(request: httpx.Request) -> httpx.Response:
        answer = client.post(
            request.url.path, content=request.content, headers=dict(request.headers)
        )
        return httpx.Response(answer.status_code, content=answer.content)

    with PdpClient("http://pdp", transport=httpx.MockTransport(forward)) as pdp:
        assert pdp.decide(**RM, context=GOOD).allowed
        late = {**GOOD, "time": datetime(2026, 6, 15, 13, tzinfo=UTC)}
        assert pdp.decide(**RM, context=late).reasons == ("outside_hours",)
        assert pdp.decide_many([{**RM, "context": {"mfa": True}}])[0].reasons == (
            "relationship_required",
        )


def test_the_client_cache_keys_on_the_whole_context() -> None:
    plain = cache_key({**RM, "context": {"consent": ["b", "a"]}})
    with_mfa = cache_key({**RM, "context": {"consent": ["a", "b"], "mfa": True}})
    assert plain[-1] == with_mfa[-1] == ("a", "b") and plain != with_mfa


def application(dp: DecisionPoint, context_from: Any) -> FastAPI:
    app = FastAPI()
    app.state.pdp = dp
    guard = require(
        info_class="account",
        purpose="customer_service",
        action="use",
        user_from="x-user",
        context_from=context_from,
        details=True,
    )

    @app.get("/customers/{cid}/accounts")
    async def accounts(cid: str, decision: Annotated[Decision, Depends(guard)]) -> dict[str, Any]:
        return {"customer": cid, "obligations": list(decision.obligations)}

    return app


def facts(request: Request) -> dict[str, Any]:
    """What the application knows: the session's MFA state and the customer relationship."""
    own = request.path_params["cid"] in request.headers.get("x-portfolio", "").split(",")
    return {
        "mfa": request.headers.get("x-mfa") == "done",
        "relationship": "own_customer" if own else None,
        "customer": request.path_params["cid"],
    }


async def async_facts(request: Request) -> dict[str, Any]:
    return facts(request)


@pytest.mark.parametrize("source", [facts, async_facts])
def test_require_takes_the_context_from_the_application(dp: DecisionPoint, source: Any) -> None:
    with TestClient(application(dp, source)) as c:
        headers = {"x-user": "u-rm", "x-mfa": "done", "x-portfolio": "C1,C2"}
        allowed = c.get("/customers/C1/accounts", headers=headers)
        assert allowed.status_code == 200 and allowed.json()["obligations"] == ["mask:partial"]
        other = c.get("/customers/C9/accounts", headers=headers)
        assert other.status_code == 403 and other.json()["detail"]["code"] == "access_denied"
        assert other.json()["detail"]["reasons"] == ["relationship_required"]
        step_up = c.get("/customers/C1/accounts", headers={**headers, "x-mfa": "no"})
        assert step_up.status_code == 403 and step_up.json()["detail"]["code"] == "mfa_required"


def test_a_failing_context_from_is_a_503_never_an_allow(dp: DecisionPoint) -> None:
    def broken(request: Request) -> dict[str, Any]:
        raise RuntimeError("session store down")

    with TestClient(application(dp, broken)) as c:
        assert c.get("/customers/C1/accounts", headers={"x-user": "u-rm"}).status_code == 503
