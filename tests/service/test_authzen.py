"""The AuthZEN endpoints: mapping, boxcars, search and paging, metadata, errors, scopes, log.

Every request meant to be answered, and every answer, is checked against
the working group's schemas and the specification's envelopes
(`tests.service.authzen_spec`); the error tests send invalid requests on
purpose.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pdp.errors import RequestError
from pdp.service.authzen import (
    SEMANTICS,
    answered,
    evaluations_of,
    question_of,
    typed_evaluation,
    typed_evaluations,
)
from pdp.service.authzen_search import MAX_PAGE
from pdp.service.config import Limits
from pdp.service.routes.authzen import ENDPOINTS
from pdp.wire import DecisionRequestV1, convert_request
from tests.service.authzen_spec import checked
from tests.service.conftest import POLICY, TELLER_OPENING, TestClient, bearer, build_app

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
SEARCH = "/access/v1/search/"
METADATA = "/.well-known/authzen-configuration"

TELLER = {"type": "role", "id": "teller"}
USER = {"type": "user", "id": "u1"}
ID_NUMBER = {"type": "info_class", "id": "identity.id_number"}
USE = {"name": "use"}
OPENING = {"purpose": "account_opening"}
ALLOWED = {"subject": TELLER, "resource": ID_NUMBER, "action": USE, "context": OPENING}
DENIED = {**ALLOWED, "subject": {"type": "role", "id": "analyst"}}  # default deny

# a module-level app for the hypothesis tests (fixtures are not reset between examples)
TMP = Path(tempfile.mkdtemp(prefix="pdp-authzen-"))
(TMP / "policy").mkdir()
shutil.copy(POLICY, TMP / "policy" / "policy.yaml")
APP = build_app(TMP / "policy", f"sqlite:///{TMP / 'decisions.db'}")
CLIENT = TestClient(APP)

JSON = {"content-type": "application/json"}


def teardown_module() -> None:
    APP.state.service.log.close()
    shutil.rmtree(TMP, ignore_errors=True)


def evaluate(client: TestClient, body: Any, **headers: str) -> dict[str, Any]:
    """One Access Evaluation, request and answer checked against the schemas."""
    response = client.post(EVALUATION, json=checked("evaluation-request", body), headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = checked("evaluation-response", response.json())
    return result


def boxcar(client: TestClient, body: Any) -> list[dict[str, Any]]:
    """One Access Evaluations call with an `evaluations` list, checked; the decisions."""
    response = client.post(EVALUATIONS, json=checked("evaluations-request", body))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = checked("evaluations-response", response.json())["evaluations"]
    return results


def find(client: TestClient, what: str, body: Any, token: str = "") -> dict[str, Any]:
    """One search call, request and answer checked against the specification's envelopes."""
    headers = bearer(token) if token else {}
    response = client.post(
        SEARCH + what, json=checked(f"search-{what}-request", body), headers=headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = checked(f"search-{what}-response", response.json())
    return result


def refused(client: TestClient, path: str, body: Any, status: int = 400) -> dict[str, Any]:
    """The error of a request that must be refused with `status`."""
    response = client.post(path, content=json.dumps(body), headers=JSON)
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


# -- Access Evaluation ---------------------------------------------------------------------


def test_evaluation_answers_as_the_native_endpoint(client: TestClient) -> None:
    data = evaluate(client, ALLOWED)
    native = client.post("/v1/decisions", json=TELLER_OPENING).json()
    assert data["decision"] is True
    context = data["context"]
    assert context["reasons"] == native["reasons"] == ["G-TELLER-ID"]
    assert context["obligations"] == native["obligations"] == ["mask:partial"]
    assert context["policy_version"] == native["policy_version"]
    assert context["decision_id"] != native["decision_id"]
    assert context["reason_admin"] == {"200": "allowed by G-TELLER-ID"}


def test_a_user_subject_and_a_deny_with_its_reasons(client: TestClient) -> None:
    user = evaluate(client, {**ALLOWED, "subject": {"type": "user", "id": "u1"}})
    assert user["decision"] is True
    denied = evaluate(client, {**ALLOWED, "resource": {"type": "info_class", "id": "nope"}})
    assert denied["decision"] is False
    assert denied["context"]["reasons"] == ["unknown_info_class"]
    assert denied["context"]["obligations"] == []
    assert denied["context"]["reason_admin"] == {"403": "denied: unknown_info_class"}


def test_context_beyond_the_purpose_reaches_the_decision_point(client: TestClient) -> None:
    marketing = {
        **ALLOWED,
        "resource": {"type": "info_class", "id": "account.balance"},
        "context": {"purpose": "marketing"},
    }
    without = evaluate(client, marketing)
    assert (without["decision"], without["context"]["reasons"]) == (False, ["consent_required"])
    consented = {**marketing, "context": {"purpose": "marketing", "consent": ["marketing"]}}
    assert evaluate(client, consented)["decision"] is True


def test_unknown_members_are_ignored_outside_the_context(client: TestClient) -> None:
    body = {
        **ALLOWED,
        "subject": {**TELLER, "properties": {"department": "retail"}},
        "action": {**USE, "properties": {"method": "GET"}},
        "extra": [1, 2],
    }
    assert evaluate(client, body)["decision"] is True


def test_the_mapping_onto_the_native_request() -> None:
    body = {
        "subject": {"type": "user", "id": "u1"},
        "resource": {"type": "info_class", "id": "account", "properties": {"customer": "c-9"}},
        "action": {"name": "use"},
        "context": {"purpose": "customer_service", "mfa": True, "ticket": "T-1"},
    }
    assert question_of(body) == {
        "user": "u1",
        "info_class": "account",
        "purpose": "customer_service",
        "action": "use",
        "context": {"mfa": True, "ticket": "T-1", "customer": "c-9"},
    }
    assert "context" not in question_of(ALLOWED)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ALLOWED, "subject": {"type": "identity", "id": "x"}}, "subject.type"),
        ({**ALLOWED, "subject": {"type": "role"}}, "subject.id"),
        ({**ALLOWED, "subject": {"type": "role", "id": 7}}, "subject.id"),
        ({**ALLOWED, "subject": {"type": "role", "id": "x" * 257}}, "subject.id"),
        ({**ALLOWED, "resource": {"type": "account", "id": "1"}}, "resource.type"),
        ({**ALLOWED, "resource": {"type": "info_class"}}, "resource.id"),
        ({**ALLOWED, "action": {}}, "action.name"),
        ({k: v for k, v in ALLOWED.items() if k != "action"}, "action"),
        ({**ALLOWED, "context": {}}, "context.purpose"),
        ({**ALLOWED, "context": {"purpose": ""}}, "context.purpose"),
        ({**ALLOWED, "context": [1]}, "context"),
        ({**ALLOWED, "context": {**OPENING, "consent": "all"}}, "context.consent"),
        ({**ALLOWED, "context": {**OPENING, "unheard_of": 1}}, "context.unheard_of"),
        ({**ALLOWED, "context": {**OPENING, "customer": ""}}, "context.customer"),
        ({**ALLOWED, "context": {**OPENING, "customer": 7}}, "context.customer"),
        (
            {**ALLOWED, "resource": {**ID_NUMBER, "properties": {"customer": "c\n1"}}},
            "resource.properties.customer",
        ),
        (
            {**ALLOWED, "resource": {**ID_NUMBER, "properties": {"customer": ["c-1"]}}},
            "resource.properties.customer",
        ),
        ([ALLOWED], "body"),
    ],
)
def test_bad_requests_are_400_naming_the_authzen_field(
    client: TestClient, body: Any, field: str
) -> None:
    error = refused(client, EVALUATION, body)
    assert (error["code"], error["field"]) == ("invalid_request", field)
    assert error["message"].startswith(f"`{field}`") or field == "body"


def test_malformed_json_and_no_body_are_400(client: TestClient) -> None:
    for path in (EVALUATION, EVALUATIONS, SEARCH + "subject"):
        for raw in (b"{", b"", b"\xff", b"null"):
            response = client.post(path, content=raw, headers=JSON)
            assert response.status_code == 400, (path, raw, response.text)


KEYS = ["subject", "resource", "action", "context", "evaluations", "options", "page"]
KEYS += ["type", "id", "name", "purpose", "token", "limit", "evaluations_semantic"]
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(KEYS),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)
near = st.tuples(st.sampled_from(["subject", "resource", "action", "context"]), junk).map(
    lambda t: {**ALLOWED, t[0]: t[1]}
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=junk | near,
    path=st.sampled_from(
        [EVALUATION, EVALUATIONS, *(SEARCH + w for w in ("subject", "resource", "action"))]
    ),
)
def test_no_input_is_a_server_error_or_a_422(body: Any, path: str) -> None:
    response = CLIENT.post(path, content=json.dumps(body), headers=JSON)
    assert response.status_code in (200, 400), response.text


# -- Access Evaluations --------------------------------------------------------------------


def test_defaults_are_overridden_per_evaluation(client: TestClient) -> None:
    body = {
        "subject": TELLER,
        "action": USE,
        "context": OPENING,
        "evaluations": [
            {"resource": ID_NUMBER},
            {"resource": ID_NUMBER, "subject": {"type": "role", "id": "analyst"}},
            {"resource": ID_NUMBER, "action": {"name": "disclose"}},
            {"resource": {"type": "info_class", "id": "account.balance"}},
            {"resource": ID_NUMBER, "context": {"purpose": "marketing"}},
        ],
    }
    results = boxcar(client, body)
    assert [r["decision"] for r in results] == [True, False, False, True, False]
    assert [r["context"]["reasons"] for r in results][1:] == [
        ["default_deny"],
        ["default_deny"],
        ["G-TELLER-ID"],
        ["default_deny"],
    ]
    assert len({r["context"]["policy_version"] for r in results}) == 1
    assert len({r["context"]["decision_id"] for r in results}) == 5


def test_without_evaluations_the_boxcar_is_one_evaluation(client: TestClient) -> None:
    for body in (ALLOWED, {**ALLOWED, "evaluations": []}):
        response = client.post(EVALUATIONS, json=checked("evaluations-request", body))
        assert checked("evaluation-response", response.json())["decision"] is True


def test_a_missing_entity_after_defaults_names_the_evaluation(client: TestClient) -> None:
    body = {"subject": TELLER, "evaluations": [{"resource": ID_NUMBER, "action": USE}]}
    error = refused(
        client,
        EVALUATIONS,
        {
            **body,
            "context": OPENING,
            "evaluations": [{"resource": ID_NUMBER, "action": USE}, {"resource": ID_NUMBER}],
        },
    )
    assert error["field"] == "evaluations[1].action"
    assert refused(client, EVALUATIONS, body)["field"] == "evaluations[0].context.purpose"
    assert refused(client, EVALUATIONS, {**ALLOWED, "evaluations": {}})["field"] == "evaluations"
    options = {**ALLOWED, "options": {"evaluations_semantic": "first"}}
    assert refused(client, EVALUATIONS, options)["field"] == "options.evaluations_semantic"


def test_a_boxcar_over_the_batch_limit_is_413(policy_dir: Any, log_url: str) -> None:
    with TestClient(build_app(policy_dir, log_url, limits=Limits(max_batch=3))) as small:
        body = {**ALLOWED, "evaluations": [{}] * 4}
        assert refused(small, EVALUATIONS, body, status=413)["code"] == "batch_too_large"
        assert len(boxcar(small, {**ALLOWED, "evaluations": [{}] * 3})) == 3


def test_the_specification_examples_of_the_three_semantics(client: TestClient) -> None:
    items = [
        {"subject": TELLER},
        {"subject": {"type": "role", "id": "analyst"}},
        {"subject": TELLER},
    ]
    body = {"resource": ID_NUMBER, "action": USE, "context": OPENING, "evaluations": items}
    for semantic, decisions in (
        ("execute_all", [True, False, True]),
        ("deny_on_first_deny", [True, False]),
        ("permit_on_first_permit", [True]),
    ):
        results = boxcar(client, {**body, "options": {"evaluations_semantic": semantic}})
        assert [r["decision"] for r in results] == decisions


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    pattern=st.lists(st.booleans(), min_size=1, max_size=8),
    semantic=st.sampled_from(["execute_all", "deny_on_first_deny", "permit_on_first_permit"]),
)
def test_semantics_short_circuit_exactly(pattern: list[bool], semantic: Any) -> None:
    log = APP.state.service.log
    log.flush()
    logged = len(log.query(kind="decision"))
    counted = decisions_counted()
    body = {
        "evaluations": [ALLOWED if allow else DENIED for allow in pattern],
        "options": {"evaluations_semantic": semantic},
    }
    results = boxcar(CLIENT, body)
    stop = {"deny_on_first_deny": False, "permit_on_first_permit": True}.get(semantic)
    expected = pattern if stop not in pattern else pattern[: pattern.index(stop) + 1]
    assert [r["decision"] for r in results] == expected
    assert answered(pattern, semantic) == len(expected)
    log.flush()
    records = log.query(kind="decision")
    assert len(records) == logged + len(expected)
    assert {r.decision_id for r in records[logged:]} == {
        r["context"]["decision_id"] for r in results
    }
    assert decisions_counted() == counted + len(expected)


def decisions_counted() -> float:
    text = CLIENT.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pdp_decisions_total{")
    )


def test_evaluations_of_reads_defaults_and_semantic() -> None:
    items, semantic, single = evaluations_of(
        {
            "subject": TELLER,
            "resource": ID_NUMBER,
            "context": OPENING,
            "evaluations": [{"action": USE}],
        }
    )
    assert (items, semantic, single) == ([question_of(ALLOWED)], "execute_all", False)


# The typed path (one decode of the common shape) against the general one: random bodies
# near the common shape, each member left out, null, of another type or shape, or extended.
good_ids = st.sampled_from(["teller", "u1", "identity.id_number", "use", "account_opening"])
ids_ = st.one_of(good_ids, good_ids, st.sampled_from(["", "x" * 257, "a\x1b[2J"]))
odd = st.none() | st.integers() | st.lists(ids_, max_size=1) | st.dictionaries(ids_, ids_)
subjects = st.fixed_dictionaries(
    {"type": st.sampled_from(["role", "user", "role", "user", "group"]), "id": ids_ | odd},
    optional={"properties": odd, "extra": ids_},
)
resources = st.fixed_dictionaries(
    {"type": st.sampled_from(["info_class", "info_class", "account"]), "id": ids_ | odd},
    optional={"properties": st.none() | st.just({}) | st.just({"customer": "c-1"})},
)
actions = st.fixed_dictionaries({"name": ids_ | odd}, optional={"properties": odd})
contexts = st.fixed_dictionaries(
    {"purpose": ids_ | odd},
    optional={"consent": st.just(["marketing"]), "mfa": st.booleans(), "nope": ids_},
)
members = {"subject": subjects, "resource": resources, "action": actions, "context": contexts}
mostly = {k: st.one_of(v, v, v, odd) for k, v in members.items()}
evaluation_bodies = st.fixed_dictionaries(mostly, optional={"extra": odd}) | st.fixed_dictionaries(
    {}, optional=mostly
)
boxcar_bodies = st.fixed_dictionaries(
    {},
    optional=mostly
    | {
        "evaluations": st.none()
        | st.lists(st.fixed_dictionaries({}, optional=mostly), max_size=3)
        | st.lists(evaluation_bodies, max_size=3)
        | odd,
        "options": st.none()
        | st.fixed_dictionaries(
            {},
            optional={"evaluations_semantic": st.sampled_from([*SEMANTICS, "all", None])},
        ),
    },
)
WITH_CUSTOMER = {**ALLOWED, "resource": {**ID_NUMBER, "properties": {"customer": "c-1"}}}


def general(body: Any) -> list[DecisionRequestV1] | None:
    """The requests of a boxcar by the general path (mapped, then validated), or None."""
    try:
        items, _, _ = evaluations_of(body)
        return [convert_request(item) for item in items]
    except (RequestError, msgspec.ValidationError):
        return None


@settings(max_examples=400, deadline=None)
@given(evaluation_bodies | ids_ | odd)
@example(ALLOWED)
@example(WITH_CUSTOMER)
@example({**ALLOWED, "context": {**OPENING, "consent": ["marketing"]}})
@example({**ALLOWED, "subject": None})
def test_the_typed_evaluation_is_the_general_one(body: Any) -> None:
    typed = typed_evaluation(json.dumps(body).encode())
    if typed is not None:  # else the general path answers, or says what is wrong
        assert [typed] == general(body)


@settings(max_examples=400, deadline=None)
@given(boxcar_bodies)
@example({"subject": TELLER, "evaluations": [{**WITH_CUSTOMER, "subject": None}]})
@example({"evaluations": [], **ALLOWED, "options": {"evaluations_semantic": None}})
@example({**WITH_CUSTOMER, "evaluations": [{"action": USE}]})
def test_the_typed_boxcar_is_the_general_one(body: Any) -> None:
    typed = typed_evaluations(json.dumps(body).encode())
    if typed is not None:
        requests, semantic, single = typed
        assert requests == general(body)
        assert (semantic, single) == evaluations_of(body)[1:]


def test_the_common_shape_takes_the_typed_path() -> None:
    assert typed_evaluation(json.dumps(ALLOWED).encode()) == convert_request(question_of(ALLOWED))
    boxcar = {"subject": TELLER, "evaluations": [ALLOWED, {**ALLOWED, "subject": USER}]}
    typed = typed_evaluations(json.dumps(boxcar).encode())
    assert typed is not None and typed[0] == general(boxcar)


# -- the log, the metrics, the request id --------------------------------------------------


def test_every_authzen_decision_is_logged_and_counted(app: FastAPI, client: TestClient) -> None:
    one = evaluate(client, {**ALLOWED, "subject": {"type": "user", "id": "u1"}})
    many = boxcar(client, {**ALLOWED, "evaluations": [{}, {"subject": DENIED["subject"]}]})
    log = app.state.service.log
    log.flush()
    records = {r.decision_id: r for r in log.query(kind="decision")}
    ids = [one["context"]["decision_id"]] + [r["context"]["decision_id"] for r in many]
    assert sorted(records) == sorted(ids)
    first = records[ids[0]]
    assert (first.caller, first.subject_kind, first.subject) == ("anonymous", "user", "u1")
    assert (first.info_class, first.purpose, first.action) == (
        "identity.id_number",
        "account_opening",
        "use",
    )
    assert first.allowed and first.reasons == ("G-TELLER-ID",)
    text = client.get("/metrics").text
    assert 'pdp_decisions_total{result="allow"} 2.0' in text
    assert 'pdp_decisions_total{result="deny"} 1.0' in text
    assert 'pdp_request_duration_seconds_count{endpoint="authzen_evaluation"} 1.0' in text
    assert 'pdp_request_duration_seconds_count{endpoint="authzen_evaluations"} 1.0' in text


def test_the_request_id_is_echoed_on_answers_and_errors(
    client: TestClient, secured: TestClient
) -> None:
    rid = {"x-request-id": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"}
    assert (
        client.post(EVALUATION, json=ALLOWED, headers=rid).headers["x-request-id"]
        == rid["x-request-id"]
    )
    assert (
        client.post(EVALUATION, json={}, headers=rid).headers["x-request-id"] == rid["x-request-id"]
    )
    unauthenticated = secured.post(EVALUATION, json=ALLOWED, headers=rid)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["x-request-id"] == rid["x-request-id"]
    assert "www-authenticate" in unauthenticated.headers
    assert "x-request-id" not in client.post(EVALUATION, json=ALLOWED).headers


# -- scopes and metadata -------------------------------------------------------------------

SEARCH_SUBJECT = {
    "subject": {"type": "role"},
    "resource": ID_NUMBER,
    "action": USE,
    "context": OPENING,
}


@pytest.mark.parametrize(
    ("path", "body", "scope"),
    [
        (EVALUATION, ALLOWED, "app-token"),
        (EVALUATIONS, {**ALLOWED, "evaluations": [{}]}, "app-token"),
        (SEARCH + "subject", SEARCH_SUBJECT, "review-token"),
        (SEARCH + "resource", {**ALLOWED, "resource": {"type": "info_class"}}, "review-token"),
        (SEARCH + "action", {k: v for k, v in ALLOWED.items() if k != "action"}, "review-token"),
    ],
)
def test_the_native_scopes_apply(secured: TestClient, path: str, body: Any, scope: str) -> None:
    assert secured.post(path, json=body).status_code == 401
    assert secured.post(path, json=body, headers=bearer("wrong")).status_code == 401
    other = "review-token" if scope == "app-token" else "app-token"
    assert secured.post(path, json=body, headers=bearer(other)).status_code == 403
    assert secured.post(path, json=body, headers=bearer("explain-token")).status_code == 403
    assert secured.post(path, json=body, headers=bearer(scope)).status_code == 200
    assert secured.post(path, json=body, headers=bearer("admin-token")).status_code == 200


def test_the_metadata_names_every_served_endpoint(secured: TestClient) -> None:
    response = secured.get(METADATA)  # open, like other RFC 8615 metadata
    assert response.status_code == 200
    data = checked("metadata", response.json())
    assert data["policy_decision_point"] == "http://testserver"
    assert {k for k in data if k.endswith("_endpoint")} == set(ENDPOINTS)
    for key, url in data.items():
        if key.endswith("_endpoint"):
            path = url.removeprefix("http://testserver")
            answer = secured.post(path, json={}, headers=bearer("admin-token"))
            assert answer.status_code == 400, (key, answer.text)  # served: the body is refused
    assert secured.post("/access/v1/nothing", json={}).status_code in (401, 404)


# -- search --------------------------------------------------------------------------------


def test_subject_search_is_who_can(app: FastAPI, client: TestClient) -> None:
    roles = find(client, "subject", SEARCH_SUBJECT)
    users = find(
        client, "subject", {**SEARCH_SUBJECT, "subject": {"type": "user", "id": "ignored"}}
    )
    holders = app.state.service.dp.who_can("identity.id_number", "account_opening", "use")
    assert [r["id"] for r in roles["results"]] == holders[0] == ["teller"]
    assert [r["id"] for r in users["results"]] == holders[1] == ["u1"]
    assert all(r["type"] == "user" for r in users["results"])
    assert roles["page"] == {"next_token": "", "count": 1, "total": 1}
    assert roles["context"]["policy_version"] == app.state.service.dp.version
    unknown = {**SEARCH_SUBJECT, "resource": {"type": "info_class", "id": "nope"}}
    assert find(client, "subject", unknown)["results"] == []


def test_resource_and_action_search_are_permissions_of(app: FastAPI, client: TestClient) -> None:
    held = app.state.service.dp.permissions_of("user", "u2")
    body = {
        "subject": {"type": "user", "id": "u2"},
        "action": USE,
        "context": {"purpose": "risk_control"},
    }
    classes = find(client, "resource", {**body, "resource": {"type": "info_class"}})
    assert [r["id"] for r in classes["results"]] == sorted(
        {p.info_class for p in held if (p.purpose, p.action) == ("risk_control", "use")}
    )
    assert all(r["type"] == "info_class" for r in classes["results"])
    actions = find(
        client,
        "action",
        {k: v for k, v in body.items() if k != "action"}
        | {"resource": {"type": "info_class", "id": "c01"}},
    )
    assert actions["results"] == [{"name": "use"}]
    nobody = {
        **body,
        "subject": {"type": "role", "id": "nobody"},
        "resource": {"type": "info_class"},
    }
    assert find(client, "resource", nobody)["results"] == []


def test_search_pages_walk_the_whole_result_in_order(client: TestClient) -> None:
    body = {
        "subject": {"type": "role", "id": "analyst"},
        "action": USE,
        "resource": {"type": "info_class"},
        "context": {"purpose": "risk_control"},
    }
    whole = find(client, "resource", body)
    assert whole["page"]["total"] == len(whole["results"]) > 5
    seen: list[Any] = []
    page = find(client, "resource", {**body, "page": {"limit": 4}})
    while True:
        seen += page["results"]
        assert page["page"]["count"] == len(page["results"]) <= 4
        assert page["page"]["total"] == whole["page"]["total"]
        if not page["page"]["next_token"]:
            break
        # as in the specification's example, the next request repeats all but the limit
        page = find(client, "resource", {**body, "page": {"token": page["page"]["next_token"]}})
    assert seen == whole["results"]


def test_a_token_only_serves_the_request_that_earned_it(client: TestClient) -> None:
    body = {
        **SEARCH_SUBJECT,
        "subject": {"type": "role"},
        "resource": {"type": "info_class", "id": "c01"},
    }
    body["context"] = {"purpose": "risk_control"}
    first = find(client, "subject", {**body, "subject": {"type": "user"}, "page": {"limit": 0}})
    token = first["page"]["next_token"]
    assert token and first["results"] == [] and first["page"]["total"] == 1
    again = {**body, "subject": {"type": "user"}, "page": {"token": token, "limit": 0}}
    assert find(client, "subject", again)["page"]["next_token"] == token
    assert (
        refused(client, SEARCH + "subject", {**again, "subject": {"type": "role"}})["field"]
        == "page.token"
    )
    assert (
        refused(client, SEARCH + "subject", {**again, "page": {"token": token, "limit": 2}})[
            "field"
        ]
        == "page.limit"
    )
    for junk_token in ("x", "!!", "MTox", 5):
        bad = {**again, "page": {"token": junk_token}}
        assert refused(client, SEARCH + "subject", bad)["field"] == "page.token"
    assert (
        refused(client, SEARCH + "subject", {**body, "page": {"limit": -1}})["field"]
        == "page.limit"
    )


def test_a_page_holds_at_most_max_page(client: TestClient) -> None:
    big = find(
        client,
        "resource",
        {
            "subject": {"type": "role", "id": "analyst"},
            "action": USE,
            "resource": {"type": "info_class"},
            "context": {"purpose": "risk_control"},
            "page": {"limit": MAX_PAGE * 10},
        },
    )
    assert big["page"]["count"] == big["page"]["total"] <= MAX_PAGE


@pytest.mark.parametrize(
    ("what", "body", "field"),
    [
        ("subject", {**SEARCH_SUBJECT, "subject": {"type": "group"}}, "subject.type"),
        ("subject", {**SEARCH_SUBJECT, "resource": {"type": "info_class"}}, "resource.id"),
        ("subject", {**SEARCH_SUBJECT, "context": {}}, "context.purpose"),
        ("subject", {k: v for k, v in SEARCH_SUBJECT.items() if k != "context"}, "context.purpose"),
        ("resource", {**ALLOWED, "resource": {"type": "file"}}, "resource.type"),
        ("resource", {**ALLOWED, "subject": {"type": "role"}}, "subject.id"),
        ("action", {**ALLOWED, "resource": {"type": "info_class"}}, "resource.id"),
        ("action", {**ALLOWED, "page": []}, "page"),
    ],
)
def test_bad_searches_are_400(client: TestClient, what: str, body: Any, field: str) -> None:
    assert refused(client, SEARCH + what, body)["field"] == field
