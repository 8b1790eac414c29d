"""AuthZEN answers equal the native ones: evaluation = /v1/decisions, search = the reverse queries.

On the bundled policy (`policies/`, a sample of its question space) and on
random policies (`tests.strategies`), swapped into one running service.
Every AuthZEN request and answer is checked against the schemas.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from pdp.decision_point import DecisionPoint
from tests.service.authzen_spec import checked
from tests.service.conftest import TestClient, build_app
from tests.strategies import policy_and_queries, to_yaml

POLICIES = Path(__file__).resolve().parents[2] / "policies"
TMP = Path(tempfile.mkdtemp(prefix="pdp-authzen-eq-"))
APP = build_app(POLICIES, f"sqlite:///{TMP / 'decisions.db'}")
CLIENT = TestClient(APP)
NATIVE_FIELDS = ("allowed", "reasons", "obligations", "policy_version")


def teardown_module() -> None:
    APP.state.service.log.close()
    shutil.rmtree(TMP, ignore_errors=True)


def authzen_of(question: dict[str, Any]) -> dict[str, Any]:
    """The AuthZEN evaluation of a native request."""
    kind = "role" if "role" in question else "user"
    return {
        "subject": {"type": kind, "id": question[kind]},
        "resource": {"type": "info_class", "id": question["info_class"]},
        "action": {"name": question["action"]},
        "context": {"purpose": question["purpose"], **question.get("context", {})},
    }


def native(answer: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(answer[f] for f in NATIVE_FIELDS)


def assert_same_answers(questions: list[dict[str, Any]], singles: int) -> None:
    """Boxcar = batch for all questions, evaluation = decision for the first `singles`."""
    for start in range(0, len(questions), 1000):
        chunk = questions[start : start + 1000]
        batch = CLIENT.post("/v1/decisions/batch", json={"requests": chunk}).json()["results"]
        body = checked("evaluations-request", {"evaluations": [authzen_of(q) for q in chunk]})
        response = CLIENT.post("/access/v1/evaluations", json=body)
        results = checked("evaluations-response", response.json())["evaluations"]
        assert [r["decision"] for r in results] == [b["allowed"] for b in batch]
        assert [native(r["context"]) for r in results] == [native(b) for b in batch]
    for question in questions[:singles]:
        one = CLIENT.post("/v1/decisions", json=question).json()
        body = checked("evaluation-request", authzen_of(question))
        answer = checked(
            "evaluation-response", CLIENT.post("/access/v1/evaluation", json=body).json()
        )
        assert answer["decision"] is one["allowed"]
        assert native(answer["context"]) == native(one)


def bundled_questions(count: int) -> list[dict[str, Any]]:
    """A fixed sample of the bundled policy's questions, with and without consent."""
    policy = DecisionPoint.from_path(POLICIES).policy
    pick = random.Random(16)
    subjects = [("role", r) for r in policy.roles] + [("user", u) for u in policy.users]
    classes, purposes, actions = list(policy.classes), list(policy.purposes), list(policy.actions)
    questions = []
    for _ in range(count):
        kind, subject = pick.choice(subjects)
        purpose = pick.choice(purposes)
        question: dict[str, Any] = {
            kind: subject,
            "info_class": pick.choice(classes),
            "purpose": purpose,
            "action": pick.choice(actions),
        }
        if pick.random() < 0.3:
            question["context"] = {"consent": [purpose]}
        questions.append(question)
    return questions


def test_evaluation_equals_the_native_decision_on_the_bundled_policy() -> None:
    assert_same_answers(bundled_questions(2000), singles=40)


def test_search_equals_the_reverse_queries_on_the_bundled_policy() -> None:
    assert_same_search(APP.state.service.dp, random.Random(16), probes=40)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(policy_and_queries())
def test_answers_are_equal_on_generated_policies(case: tuple[dict[str, Any], list[Any]]) -> None:
    policy, questions = case
    dp: DecisionPoint = APP.state.service.dp
    original = dp.compiled
    try:
        dp.swap(DecisionPoint.from_text(to_yaml(policy)).compiled)
        assert_same_answers(questions, singles=5)
        assert_same_search(dp, random.Random(len(questions)), probes=4)
    finally:
        dp.swap(original)


def search(what: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every result of a search, page by page (a small limit, to page)."""
    results: list[dict[str, Any]] = []
    page: dict[str, Any] = {"limit": 3}
    while True:
        request = checked(f"search-{what}-request", {**body, "page": page})
        response = CLIENT.post(f"/access/v1/search/{what}", json=request)
        assert response.status_code == 200, response.text
        data = checked(f"search-{what}-response", response.json())
        results += data["results"]
        if not data["page"]["next_token"]:
            assert data["page"]["total"] == len(results)
            return results
        page = {"token": data["page"]["next_token"]}


def assert_same_search(dp: DecisionPoint, pick: random.Random, probes: int) -> None:
    """Subject search = who_can; resource and action search = permissions_of, for probes."""
    policy = dp.policy
    classes, purposes, actions = list(policy.classes), list(policy.purposes), list(policy.actions)
    for kind, subjects in (("role", list(policy.roles)), ("user", list(policy.users))):
        for subject in pick.sample(subjects, min(probes, len(subjects))):
            held = dp.permissions_of(kind, subject) or []
            purpose, action, info_class = (
                pick.choice(purposes),
                pick.choice(actions),
                pick.choice(classes),
            )
            if held and pick.random() < 0.7:  # mostly ask about something held
                chosen = pick.choice(held)
                purpose, action, info_class = chosen.purpose, chosen.action, chosen.info_class
            who = {"type": kind, "id": subject}
            context = {"purpose": purpose}
            found = search(
                "resource",
                {"subject": who, "resource": {"type": "info_class"}, "action": {"name": action}}
                | {"context": context},
            )
            assert [r["id"] for r in found] == sorted(
                {p.info_class for p in held if (p.purpose, p.action) == (purpose, action)}
            )
            found = search(
                "action",
                {"subject": who, "resource": {"type": "info_class", "id": info_class}}
                | {"context": context},
            )
            assert [r["name"] for r in found] == sorted(
                {p.action for p in held if (p.info_class, p.purpose) == (info_class, purpose)}
            )
            holders = dp.who_can(info_class, purpose, action)
            for index, searched in enumerate(("role", "user")):
                found = search(
                    "subject",
                    {
                        "subject": {"type": searched},
                        "resource": {"type": "info_class", "id": info_class},
                        "action": {"name": action},
                        "context": context,
                    },
                )
                assert [r["id"] for r in found] == (holders[index] if holders else [])
                assert {r["type"] for r in found} <= {searched}
