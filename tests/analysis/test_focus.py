"""The incremental review diff (`review_changes`) against full reviews of both versions."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings

from pdp.analysis.changes import changed_findings, merged, review_changes
from pdp.analysis.context import ReviewContext
from pdp.analysis.focus import Focus, focus_of
from pdp.analysis.review import CHECKS, review
from pdp.core.change import policy_change
from tests.policyci.policies import SMALL as BASE
from tests.policyci.policies import compiled, policy_pairs


def full_comparison(old: Any, new: Any) -> tuple[list[str], list[str]]:
    """Fingerprints new and resolved, from the full reviews of both versions."""
    added, resolved = changed_findings(review(old).findings.entries, review(new).findings.entries)
    return [f.fingerprint for f in added], [f.fingerprint for f in resolved]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(policy_pairs())
def test_review_changes_equal_the_full_comparison(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = (compiled(data) for data in pair)
    added, resolved = review_changes(old, new)
    assert ([f.fingerprint for f in added], [f.fingerprint for f in resolved]) == full_comparison(
        old, new
    )
    # The findings themselves, not just their fingerprints, are those of the full review.
    full_new = {f.fingerprint: f.to_dict() for f in review(new).findings}
    assert all(full_new[f.fingerprint] == f.to_dict() for f in added)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(policy_pairs())
def test_disjoint_checks_merge_to_the_whole_answer(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """What `pdp diff --jobs` relies on: two halves of the checks merge to the whole answer."""
    old, new = (compiled(data) for data in pair)
    first, second = CHECKS[: len(CHECKS) // 2], CHECKS[len(CHECKS) // 2 :]
    halves = merged(review_changes(old, new, first), review_changes(old, new, second))
    whole = review_changes(old, new)
    assert [[f.to_dict() for f in side] for side in halves] == [
        [f.to_dict() for f in side] for side in whole
    ]


def focus_between(old: dict[str, Any], new: dict[str, Any]) -> Focus | None:
    """The focus of the change from `old` to `new`, None when the frames differ."""
    a, b = compiled(old), compiled(new)
    change = policy_change(a, b)
    if not change.same_frame:
        return None
    full = (ReviewContext.build(a).full, ReviewContext.build(b).full)
    return focus_of(a, b, *full, change)


def test_a_widened_grant_focuses_on_the_roles_and_users_it_reaches() -> None:
    wider = copy.deepcopy(BASE)
    wider["grants"][0]["classes"] = ["a"]
    focus = focus_between(BASE, wider)
    assert focus is not None
    assert focus.roles == {"r0", "r1"} and focus.users == {"u0"} and focus.grants == {"G0"}
    assert focus.coverage == {"r0", "r1"}
    added, resolved = review_changes(compiled(BASE), compiled(wider))
    assert added and resolved  # the toxic witness and the outside-duties set of r0/r1/u0 moved
    assert {f.subject_id for f in added + resolved} <= {"r0", "r1", "u0"}


def test_a_changed_frame_reviews_both_versions_in_full() -> None:
    relevelled = copy.deepcopy(BASE)
    relevelled["classes"]["b"] = {"level": "C2"}
    assert focus_between(BASE, relevelled) is None
    ruled = copy.deepcopy(BASE)
    ruled["separation_of_duties"][0]["severity"] = "critical"
    assert focus_between(BASE, ruled) is None


def test_an_added_duplicate_grant_puts_the_roles_it_names_in_coverage() -> None:
    """A copy of G2 for r2 changes no held set, but makes G2 and the copy redundant for r2."""
    doubled = copy.deepcopy(BASE)
    doubled["grants"].append({**BASE["grants"][2], "id": "G3"})
    focus = focus_between(BASE, doubled)
    assert focus is not None and not focus.roles and "r2" in focus.coverage
    added, _ = review_changes(compiled(BASE), compiled(doubled))
    assert {(f.kind, f.rule_id) for f in added} >= {("redundant_grant", "G2")}


def test_changed_duties_put_the_role_and_its_heirs_in_focus() -> None:
    dutiful = copy.deepcopy(BASE)
    dutiful["roles"]["r0"]["duties"] = ["p"]  # r0 and r1 now hold nothing outside their duties
    focus = focus_between(BASE, dutiful)
    assert focus is not None and focus.roles == {"r0", "r1"}
    _, resolved = review_changes(compiled(BASE), compiled(dutiful))
    assert {(f.kind, f.subject_id) for f in resolved} == {
        ("outside_duties", "r0"),
        ("outside_duties", "r1"),
    }


def test_a_new_role_takes_what_unchanged_wildcard_grants_give_it() -> None:
    """The new version's projections start from the old one's; a new role is computed anew."""
    old = copy.deepcopy(BASE)
    old["grants"].append(
        {
            "id": "G-ALL",
            "effect": "allow",
            "roles": ["*"],
            "classes": ["a", "b"],
            "purposes": ["p"],
            "actions": ["disclose"],
        }
    )
    new = copy.deepcopy(old)
    new["roles"]["r3"] = {"inherits": []}
    new["users"]["u2"] = {"roles": ["r3"]}
    assert policy_change(compiled(old), compiled(new)).regranted == {"r3"}
    added, _ = review_changes(compiled(old), compiled(new))
    assert ("toxic_combination", "r3") in {(f.kind, f.subject_id) for f in added}
    assert ("toxic_combination", "u2") in {(f.kind, f.subject_id) for f in added}
