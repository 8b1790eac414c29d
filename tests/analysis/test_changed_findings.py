"""`changed_findings` against comparing the fingerprints of every finding of both versions."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings

from pdp.analysis.changes import changed_findings
from pdp.analysis.checks.separation import Parts, ToxicRule
from pdp.analysis.context import permission_node
from pdp.analysis.finding import Finding
from pdp.analysis.review import review
from pdp.core.queries import Permission
from tests.policyci.policies import SMALL, compiled, policy_pairs


def by_fingerprint(before: list[Finding], after: list[Finding]) -> list[str]:
    """The plain reading: fingerprints of `after` that `before` lacks, sorted."""
    known = {f.fingerprint for f in before}
    return sorted({f.fingerprint for f in after} - known)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_pairs())
def test_changed_findings_equal_the_fingerprint_comparison(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = (review(compiled(data)).findings for data in pair)
    added, resolved = changed_findings(old.entries, new.entries)
    assert [f.fingerprint for f in added] == by_fingerprint(list(old), list(new))
    assert [f.fingerprint for f in resolved] == by_fingerprint(list(new), list(old))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_pairs())
def test_an_entry_identity_is_its_finding_identity(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    for data in pair:
        for entry in review(compiled(data)).findings.entries:
            assert entry.identity == entry.build().identity, entry.kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_pairs())
def test_an_entry_level_and_location_are_its_findings(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """The overview counts levels and SARIF bundles locations without building findings."""
    for data in pair:
        for entry in review(compiled(data)).findings.entries:
            finding = entry.build()
            assert entry.level == finding.level, entry.kind
            assert entry.location == finding.location, entry.kind


def test_equal_identities_mean_equal_fingerprints_across_versions() -> None:
    """Two versions differing in one grant: matched entries have the same fingerprint."""
    data = copy.deepcopy(SMALL)  # r2 and u1 are untouched by the change
    wider = copy.deepcopy(SMALL)
    wider["grants"][0]["classes"] = ["a"]
    before, after = review(compiled(data)).findings, review(compiled(wider)).findings
    added, resolved = changed_findings(before.entries, after.entries)
    matched = {e.identity for e in before.entries} & {e.identity for e in after.entries}
    old_fp = {e.identity: e.build().fingerprint for e in before.entries}
    new_fp = {e.identity: e.build().fingerprint for e in after.entries}
    kinds = {k[0] for k in matched}  # r2's and u1's findings did not change
    assert {"toxic_combination", "outside_duties"} <= kinds
    assert all(old_fp[k] == new_fp[k] for k in matched)
    assert [f.fingerprint for f in added] == by_fingerprint(list(before), list(after))
    assert [f.fingerprint for f in resolved] == by_fingerprint(list(after), list(before))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_pairs())
def test_the_toxic_shortcut_is_the_exact_reading(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """A toxic finding's parts, made per pattern and per deciding roles, are those read from
    the subject's whole held sets, with a path from its assigned roles."""
    from pdp.analysis.checks.separation import ToxicHit

    for data in pair:
        for entry in review(compiled(data)).findings.entries:
            if isinstance(entry, ToxicHit):
                rule, assigned = entry.source, entry.assigned
                assert rule.parts(assigned) == exact_parts(rule, assigned)
                assert rule.parts(rule.deciding(assigned)) == rule.parts(assigned)


def exact_parts(rule: ToxicRule, assigned: tuple[str, ...]) -> Parts:
    """A toxic finding's parts read plainly: per pattern the held set of all assigned roles,
    its lowest bit, the first grant behind it and the shortest path from any assigned role."""
    ctx = rule.ctx
    held = [proj.held(assigned) for proj in rule.projected]
    lowest: dict[Permission, list[str]] = {}
    for proj, mask in zip(rule.projected, held, strict=True):
        low = mask & -mask
        witness = proj.space.permission(low.bit_length() - 1)
        lowest.setdefault(witness, [r for r in assigned if proj.allow.get(r, 0) & low])
    witnesses = sorted(lowest)
    classes = {
        c for proj, m in zip(rule.projected, held, strict=True) for c, _, _ in proj.space.decode(m)
    }
    level = ctx.level_of_classes(classes)
    tails = [
        (*ctx.roles_path(assigned, ctx.first_allow(lowest[w], w)), permission_node(w))
        for w in witnesses
    ]
    return (witnesses, tuple(m.bit_count() for m in held), level, tails)
