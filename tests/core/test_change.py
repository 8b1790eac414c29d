"""`PolicyChange`: what differs between two compiled versions, as the diff and the focus read it."""

from __future__ import annotations

import copy
from typing import Any

from pdp.core.change import PolicyChange, policy_change
from tests.policyci.policies import SMALL, compiled


def change(edit: Any) -> PolicyChange:
    new = copy.deepcopy(SMALL)
    edit(new)
    return policy_change(compiled(SMALL), compiled(new))


def test_no_change_is_empty() -> None:
    same = policy_change(compiled(SMALL), compiled(copy.deepcopy(SMALL)))
    assert same.same_frame and same.regranted == frozenset()
    assert not (same.removed_grants or same.added_grants or same.grant_ids or same.moved_roles)
    assert not (same.reclosed_roles or same.reassigned_users or same.roles_added)


def test_a_renamed_grant_changes_ids_but_no_meaning() -> None:
    renamed = change(lambda p: p["grants"][0].update(id="G0-NEW"))
    assert not renamed.removed_grants and not renamed.added_grants  # the diff has nothing to do
    assert renamed.grant_ids == {"G0", "G0-NEW"}  # but the findings naming G0 moved
    assert renamed.named_roles == {"r0"}


def test_a_widened_grant_changes_its_meaning_and_id() -> None:
    wider = change(lambda p: p["grants"][0].update(classes=["a"]))
    assert [g.id for g in wider.removed_grants] == ["G0"]
    assert [g.id for g in wider.added_grants] == ["G0"]
    assert wider.grant_ids == {"G0"} and wider.regranted == {"r0"}


def test_inheritance_and_assignment_edits() -> None:
    def edit(p: dict[str, Any]) -> None:
        p["roles"]["r2"]["inherits"] = ["r0"]
        p["users"]["u1"]["roles"] = ["r2", "r1"]
        p["roles"]["r3"] = {"inherits": []}

    edited = change(edit)
    assert edited.reclosed_roles == {"r2", "r3"}
    assert "r0" in edited.moved_roles and "r1" in edited.moved_roles
    assert edited.reassigned_users == {"u1"}
    assert edited.roles_added == {"r3"} and not edited.roles_removed
    assert edited.regranted == {"r3"}  # no grant changed; the new role is new


def test_a_wildcard_grant_regrants_every_role() -> None:
    assert change(lambda p: p["grants"][1].update(roles=["*"])).regranted is None


def test_ids_and_levels_change_the_frame() -> None:
    relevelled = change(lambda p: p["classes"]["b"].update(level="C2"))
    assert not relevelled.same_frame and not relevelled.classes_added
    grown = change(lambda p: p["classes"].update({"b.y": {"level": "C1"}}))
    assert not grown.same_frame and grown.classes_added == {"b.y"}
    acted = change(lambda p: p["actions"].remove("use"))
    assert not acted.same_frame and acted.actions_removed == {"use"}
