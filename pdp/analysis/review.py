"""The privilege review: every finding of a compiled policy, with a summary.

    from pdp.analysis.review import review
    result = review(compiled, usage=read_usage("decisions.db"), since=..., now=...)
    result.to_dict()   # the JSON report

Findings are sorted most severe first, then by kind, subject and rule. The
kinds and their exact definitions are in docs/review.md and in the docstrings
of `pdp.analysis.checks`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pdp.analysis.checks.controls import break_glass_grants, expiring_access, sensitive_without_mfa
from pdp.analysis.checks.duties import outside_duties
from pdp.analysis.checks.exposure import high_exposure, measure_exposure
from pdp.analysis.checks.grants import over_broad_grants, redundant_grants
from pdp.analysis.checks.separation import sod_violations, toxic_combinations
from pdp.analysis.checks.structure import dormant_roles, equivalent_roles, orphan_users
from pdp.analysis.checks.unused import unused_permissions
from pdp.analysis.context import ReviewContext
from pdp.analysis.finding import KINDS, Finding, Findings, Pending, severity_at_least
from pdp.analysis.timing import policy_at, with_conditions
from pdp.analysis.usage import UsageEvent
from pdp.core.compile import CompiledPolicy
from pdp.core.model import SEVERITIES

__all__ = ["Finding", "Review", "review"]

Check = Callable[[ReviewContext], Iterator[Pending]]
CHECKS: tuple[Check, ...] = (
    sod_violations,
    toxic_combinations,
    outside_duties,
    over_broad_grants,
    redundant_grants,
    equivalent_roles,
    dormant_roles,
    orphan_users,
    high_exposure,
)


@dataclass(frozen=True)
class Review:
    """The result of a privilege review: the policy version, when, the findings and a summary.

    `findings` is a sequence built as it is read (`pdp.analysis.finding.Findings`).
    """

    policy_version: str
    generated_at: datetime
    findings: Findings
    summary: dict[str, Any]

    def to_dict(self, *, findings: bool = True) -> dict[str, Any]:
        """The JSON report: `{"policy_version", "generated_at", "summary", "findings"}`.

        With `findings=False` the `findings` key is left out (a writer streams them).
        """
        document: dict[str, Any] = {
            "policy_version": self.policy_version,
            "generated_at": timestamp(self.generated_at),
            "summary": self.summary,
        }
        if findings:
            document["findings"] = [f.to_dict() for f in self.findings]
        return document

    def at_or_above(self, severity: str) -> Sequence[Finding]:
        """The findings of this severity or a higher one."""
        return self.findings.where(lambda f: severity_at_least(f.severity, severity))


def review(
    compiled: CompiledPolicy,
    *,
    usage: Iterable[UsageEvent] | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    at: datetime | None = None,
) -> Review:
    """Review a compiled policy: every finding kind, and `unused_permission` given usage.

    `since` and `now` bound the usage window (timezone-aware; `now` defaults to
    the current time and is the report's `generated_at`). The permissions
    judged are those held at `at` (default `now`; `pdp.analysis.timing`):
    grants and role assignments in their windows, `when` and consent aside.
    `progress` is called as `progress(stage, done, total)` while the review runs.
    """
    if since is not None and usage is None:
        raise ValueError("`since` needs `usage`")
    moment = _aware(now) if now is not None else datetime.now(UTC)
    when = _aware(at) if at is not None else moment
    held = policy_at(compiled, when)
    ctx = ReviewContext.build(held, progress)
    entries = run_checks(ctx, [c for c in CHECKS if c is not high_exposure])
    if compiled.policy.version >= 2:
        entries.extend(break_glass_grants(ctx, when))
        entries.extend(expiring_access(compiled, when))
        entries.extend(sensitive_without_mfa(ctx, when))
        ctx.progress("version 2 controls", 1, 1)
    exposure = measure_exposure(ctx)
    entries.extend(high_exposure(ctx, exposure))
    ctx.progress("high exposure", 1, 1)
    usage_note = None
    if usage is not None:
        window = _aware(since) if since is not None else None
        unused, usage_note = unused_permissions(ctx, usage, window, moment)
        entries.extend(unused)
        ctx.progress("unused permissions", 1, 1)
    if compiled.policy.version >= 2:
        entries = with_conditions(entries, held.policy.grants)
    findings = Findings(entries)
    ctx.progress("sorting", 1, 1)
    summary = summarize(ctx, findings, exposure.summary(), usage_note)
    if compiled.policy.version >= 2:
        summary["at"] = timestamp(when)  # what is held depends on the time
    return Review(compiled.version, moment, findings, summary)


def run_checks(ctx: ReviewContext, checks: Sequence[Check] = CHECKS) -> list[Pending]:
    """The pending findings of the checks (all but `unused_permission`, which needs usage)."""
    entries: list[Pending] = []
    for check in checks:
        entries.extend(check(ctx))
        ctx.progress(check.__name__.replace("_", " "), 1, 1)
    return entries


def summarize(
    ctx: ReviewContext,
    findings: Findings,
    exposure: dict[str, Any],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report's summary: counts by severity and kind, the policy's size, statistics."""
    by_severity = Counter(e.severity for e in findings.entries)
    by_kind = Counter(e.kind for e in findings.entries)
    policy = ctx.policy
    return {
        "findings": len(findings),
        "by_severity": {s: by_severity[s] for s in reversed(SEVERITIES)},
        "by_kind": {k: by_kind[k] for k in KINDS},
        "policy": {
            "roles": len(policy.roles),
            "users": len(policy.users),
            "grants": len(policy.grants),
            "rules": len(policy.rules),
            "classes": len(policy.classes),
            "purposes": len(policy.purposes),
            "actions": len(policy.actions),
            "levels": list(policy.levels),
            "sources": list(policy.sources),
        },
        "subject_groups": len(ctx.subjects.closures),
        "high_exposure": exposure,
        "usage": usage,
    }


def timestamp(moment: datetime) -> str:
    """A time as ISO 8601 UTC with a `Z`, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
