"""The compiler's index and version: `*` roles filed once, byte-identical canonical text."""

from __future__ import annotations

import gc
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.core.compile import compile_policy
from pdp.core.load import check_texts, load_policy
from pdp.core.model import WILDCARD, Policy
from pdp.core.normalize import canonical_text, normalize, policy_version
from pdp.decision_point import DecisionPoint
from tests.strategies import policies, to_yaml

REFERENCE = Path(__file__).resolve().parents[2] / "policies"

WILDCARD_POLICY = """\
actions: [use, store]
classes: {c: {level: C1}, c.x: {level: C2}}
purposes: {p: {}}
roles: {r0: {}, r1: {inherits: [r0]}, r2: {}}
users: {nobody: {roles: []}, one: {roles: [r2]}, two: {roles: [r0, r2]}}
grants:
  - {id: everyone, roles: ["*"], classes: [c], purposes: [p], actions: [use]}
  - {id: mixed, roles: [r0, "*"], classes: [c.x], purposes: [p], actions: [store]}
  - {id: own, roles: [r1], classes: [c], purposes: [p], actions: [use]}
  - {id: no-r2, effect: deny, roles: ["*"], classes: [c.x], purposes: ["*"], actions: [use]}
"""


def _policy(text: str) -> Policy:
    result = check_texts([("policy.yaml", text)])
    assert result.policy is not None, result.problems
    return result.policy


def _json(data: Any) -> str:
    """The canonical encoding `policy_version` has always hashed."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def test_a_wildcard_role_grant_is_filed_once_under_the_sentinel() -> None:
    compiled = compile_policy(_policy(WILDCARD_POLICY))
    assert compiled.allow[("c", "p", "use")] == {WILDCARD: (0,), "r1": (2,)}
    assert compiled.allow[("c.x", "p", "store")] == {WILDCARD: (1,)}
    assert compiled.deny[("c.x", "p", "use")] == {WILDCARD: (3,)}
    assert all(len(filed) <= 2 for filed in compiled.allow.values())


def test_the_sentinel_reaches_every_non_empty_closure_and_nothing_else() -> None:
    compiled = compile_policy(_policy(WILDCARD_POLICY))
    for role, closure in compiled.role_closure.items():
        held = compiled.held(closure, "c.x", "p", "use")
        assert held.allows == ((0, 2) if role == "r1" else (0,))
        assert held.denies == (3,)
        assert compiled.held(closure, "c.x", "p", "store").allows == (1,)
    for user in ("one", "two"):
        assert compiled.held(compiled.user_closure[user], "c", "p", "use").held
    nobody = compiled.user_closure["nobody"]
    assert nobody == frozenset()
    assert compiled.held(nobody, "c", "p", "use").allows == ()
    assert compiled.held(nobody, "c.x", "p", "use").denies == ()


class Action(StrEnum):
    """A caller's own str subclass for actions."""

    USE = "use"


def test_held_answers_for_an_action_string_that_is_not_the_policy_s_own() -> None:
    compiled = compile_policy(_policy(WILDCARD_POLICY))
    action = "".join(["u", "se"])  # equal, but another object than the interned id
    assert compiled.held(compiled.role_closure["r1"], "c", "p", action).allows == (0, 2)
    assert compiled.held(compiled.role_closure["r1"], "c", "p", Action.USE).allows == (0, 2)
    point = DecisionPoint(compiled)
    assert point.decide(role="r1", info_class="c", purpose="p", action=Action.USE).allowed


def test_reference_policy_version_is_unchanged() -> None:
    policy = load_policy(REFERENCE)
    assert canonical_text(policy) == _json(normalize(policy))
    assert compile_policy(policy).version == "sha256:e89ccaa44d92c667"


def test_canonical_text_with_labels_descriptions_and_unicode() -> None:
    policy = _policy(
        WILDCARD_POLICY.replace("c: {level: C1}", 'c: {level: C1, label: "客户 \\"c\\""}')
        + "  - {roles: [r2], classes: [c], purposes: [p], actions: [store],"
        + " description: 'grants: [] é\\n', obligations: [mask]}\n"
        + "separation_of_duties:\n"
        + "  - {roles: [r0, r2], severity: high}\n"
        + "  - {id: toxic, permissions: [{classes: [c], actions: [use]}], severity: low}\n"
    )
    assert canonical_text(policy) == _json(normalize(policy))


@settings(max_examples=60, deadline=None)
@given(policy=policies())
def test_canonical_text_equals_the_encoded_normal_form(policy: dict[str, Any]) -> None:
    loaded = _policy(to_yaml(policy))
    assert canonical_text(loaded) == _json(normalize(loaded))
    assert policy_version(loaded).startswith("sha256:")


@settings(max_examples=10, deadline=None)
@given(enabled=st.booleans())
def test_compiling_leaves_the_collector_as_it_found_it(enabled: bool) -> None:
    policy = _policy(WILDCARD_POLICY)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        compile_policy(policy)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_grants_sharing_a_key_and_role_are_all_filed_once_each_in_order() -> None:
    compiled = compile_policy(
        _policy(
            WILDCARD_POLICY
            + "  - {id: g4, roles: [r1, r1], classes: [c, c], purposes: [p], actions: [use]}\n"
            + "  - {id: g5, roles: [r1], classes: [c], purposes: [p], actions: [use, use]}\n"
            + '  - {id: g6, roles: [r2, "*"], classes: [c], purposes: [p], actions: [use]}\n'
        )
    )
    assert compiled.allow[("c", "p", "use")] == {WILDCARD: (0, 6), "r1": (2, 4, 5)}
    assert compiled.held(compiled.role_closure["r1"], "c", "p", "use").allows == (0, 2, 4, 5, 6)
