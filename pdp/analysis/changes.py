"""The findings a policy change introduces and resolves, compared by fingerprint.

`pdp diff` and `pdp ci` report them. `review_changes` reviews both versions
but, where their frames agree, the subject-level checks judge only what the
change can reach (`pdp.analysis.focus`); `changed_findings` then matches the
findings of both sides. The answer is that of reviewing both versions in full
and comparing every finding's fingerprint.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace

from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import Finding, Pending, head
from pdp.analysis.focus import focus_of
from pdp.analysis.review import CHECKS, Check, run_checks
from pdp.core.change import PolicyChange, policy_change
from pdp.core.compile import CompiledPolicy

Changes = tuple[list[Finding], list[Finding]]


def review_changes(
    old: CompiledPolicy,
    new: CompiledPolicy,
    checks: Sequence[Check] = CHECKS,
    change: PolicyChange | None = None,
) -> Changes:
    """The findings `new` introduces and the ones it resolves, compared with `old`.

    The same answer as `changed_findings` of the full reviews of both versions
    (one finding per fingerprint, sorted by fingerprint). Where the frames
    agree, the subject-level checks judge only what the change can reach, and
    the new version's projections start from the old one's for every role
    whose own grants are unchanged. Fingerprints hash the kind, so the answers
    of disjoint `checks` are disjoint and merge by fingerprint (`merged`).
    `change` is `policy_change(old, new)`, when the caller has it already.
    """
    change = change if change is not None else policy_change(old, new)
    regranted = change.regranted if change.same_frame else None
    before = ReviewContext.build(old, shared=regranted is not None)
    after = ReviewContext.build(new, reuse=(before, regranted) if regranted is not None else None)
    if change.same_frame:
        focus = focus_of(old, new, before.full, after.full, change)
        before, after = replace(before, focus=focus), replace(after, focus=focus)
    # The old version first: the new one's projections start from its.
    return changed_findings(run_checks(before, checks), run_checks(after, checks))


def merged(first: Changes, second: Changes) -> Changes:
    """The changes found by two disjoint sets of checks, as one answer sorted by fingerprint."""
    return (
        sorted(first[0] + second[0], key=lambda f: f.fingerprint),
        sorted(first[1] + second[1], key=lambda f: f.fingerprint),
    )


def changed_findings(before: Sequence[Pending], after: Sequence[Pending]) -> Changes:
    """The findings of `after` whose fingerprint `before` lacks, and the other way round.

    Each list has one finding per fingerprint (the last entry of it) and is
    sorted by fingerprint: the same answer as comparing the fingerprints of
    every finding of both, but entries are matched by their `identity` first
    and only the unmatched ones are built and fingerprinted, each against the
    entries of the other side with the same kind, rule and subject.
    """
    old_keys = [e.identity for e in before]
    new_keys = [e.identity for e in after]
    return (
        _unmatched(after, new_keys, before, set(old_keys)),
        _unmatched(before, old_keys, after, set(new_keys)),
    )


def _unmatched(
    entries: Sequence[Pending],
    keys: list[Hashable],
    others: Sequence[Pending],
    known: set[Hashable],
) -> list[Finding]:
    left = [e for e, k in zip(entries, keys, strict=True) if k not in known]
    heads = {head(e) for e in left}
    seen = {o.build().fingerprint for o in others if head(o) in heads}
    found: dict[str, Finding] = {}
    for entry in left:
        finding = entry.build()
        if finding.fingerprint not in seen:
            found[finding.fingerprint] = finding
    return [found[fp] for fp in sorted(found)]
