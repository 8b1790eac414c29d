"""Shadow replay (`pdp replay`): re-decide logged decisions under a candidate policy.

Every record of kind `decision` is decided again, subject, class, purpose and
action as logged, and compared with what was recorded. A flip is a decision
whose `allowed` changes.

Each request is replayed with the context facts its record kept (version 2's
accountability: MFA, ticket, approver, relationship, records, the consent ids
claimed, the request time) and at the time it was decided: the request's
`time`, else the record's. So a condition the request met still holds, and a
grant window or office hours are judged at the time of the original request.

A record without logged consent (an empty context, or a log written before
the facts were kept) has its consent inferred (spec rule 5 only matters for a
permission the candidate still holds):

- recorded allow: the customer's consent, if the purpose needed one, was
  given; the candidate is asked with that consent;
- recorded deny with reason `consent_required`: consent was missing; the
  candidate is asked without it, so it stays `consent_required` if still held;
- recorded deny for another reason (the permission was not held) on a purpose
  that needs consent, now held: whether the customer consented is unknown;
  the flip is reported as deny -> allow with `consent_assumed`, because it
  would allow every such request that carries consent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pdp.audit.accountability import FACTS
from pdp.audit.record import LogRecord
from pdp.core.compile import CompiledPolicy
from pdp.core.decision import CONSENT_REQUIRED, Decision, decide, deny, request_from


@dataclass(frozen=True, slots=True)
class Flip:
    """One logged decision that the candidate policy would decide the other way."""

    record: LogRecord
    decision: Decision
    consent_assumed: bool

    @property
    def direction(self) -> str:
        """`allow->deny` or `deny->allow`."""
        return "deny->allow" if self.decision.allowed else "allow->deny"


@dataclass
class ReplayGroup:
    """Flips of one subject on one class and purpose in one direction, counted."""

    subject_kind: str
    subject: str
    info_class: str
    purpose: str
    direction: str
    count: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    new_reasons: set[str] = field(default_factory=set)
    consent_assumed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The group as plain data."""
        return {
            "subject_kind": self.subject_kind,
            "subject": self.subject,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "direction": self.direction,
            "count": self.count,
            "actions": dict(sorted(self.actions.items())),
            "new_reasons": sorted(self.new_reasons),
            "consent_assumed": self.consent_assumed,
        }


@dataclass
class ReplayReport:
    """What replaying a log under a candidate policy showed."""

    policy_version: str
    decisions: int = 0
    other_records: int = 0
    recorded_versions: Counter[str] = field(default_factory=Counter)
    flips: list[Flip] = field(default_factory=list)
    obligations_changed: int = 0

    def groups(self) -> list[ReplayGroup]:
        """The flips grouped by subject, class, purpose and direction, most first."""
        found: dict[tuple[str, str, str, str, str], ReplayGroup] = {}
        for flip in self.flips:
            r = flip.record
            key = (r.subject_kind, r.subject, r.info_class, r.purpose, flip.direction)
            group = found.get(key) or found.setdefault(key, ReplayGroup(*key))
            group.count += 1
            group.actions[r.action] += 1
            group.new_reasons.update(flip.decision.reasons)
            group.consent_assumed += flip.consent_assumed
        return sorted(
            found.values(), key=lambda g: (-g.count, g.direction, g.subject, g.info_class)
        )

    def counts(self) -> dict[str, int]:
        """Flip counts by direction."""
        by: Counter[str] = Counter(f.direction for f in self.flips)
        return {"allow->deny": by["allow->deny"], "deny->allow": by["deny->allow"]}

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        counts = self.counts()
        return {
            "policy_version": self.policy_version,
            "decisions": self.decisions,
            "other_records": self.other_records,
            "recorded_versions": dict(self.recorded_versions),
            "flips": len(self.flips),
            "allow_to_deny": counts["allow->deny"],
            "deny_to_allow": counts["deny->allow"],
            "consent_assumed": sum(f.consent_assumed for f in self.flips),
            "obligations_changed": self.obligations_changed,
            "groups": [g.to_dict() for g in self.groups()],
        }


def redecide(compiled: CompiledPolicy, record: LogRecord) -> tuple[Decision, bool]:
    """The candidate's decision on a logged request, and whether consent had to be assumed."""
    kind = record.subject_kind
    context = {name: record.detail[name] for name in FACTS if name in record.detail}
    context.setdefault("time", record.time)  # decided when it was logged
    consent_needed = record.purpose in compiled.consent_scope
    assume = (
        "consent" not in context
        and consent_needed
        and (record.allowed or CONSENT_REQUIRED not in record.reasons)
    )
    if assume:
        context["consent"] = [record.purpose]
    request = request_from(
        role=record.subject if kind == "role" else None,
        user=record.subject if kind == "user" else None,
        info_class=record.info_class,
        purpose=record.purpose,
        action=record.action,
        context=context,
    )
    if isinstance(request, str):
        return deny(compiled.version, request), False
    decision = decide(compiled, request)
    return decision, bool(assume and decision.allowed and not record.allowed)


def replay(compiled: CompiledPolicy, records: Iterable[LogRecord]) -> ReplayReport:
    """Replay every decision record under the candidate policy."""
    report = ReplayReport(compiled.version)
    for record in records:
        if record.kind != "decision":
            report.other_records += 1
            continue
        report.decisions += 1
        report.recorded_versions[record.policy_version] += 1
        decision, assumed = redecide(compiled, record)
        if decision.allowed != record.allowed:
            report.flips.append(Flip(record, decision, assumed))
        elif decision.allowed and tuple(decision.obligations) != tuple(record.obligations):
            report.obligations_changed += 1
    return report


def render_replay_text(report: ReplayReport, limit: int = 50) -> str:
    """The report as plain text."""
    counts = report.counts()
    out = [
        f"replayed {report.decisions} decision(s) under {report.policy_version}: "
        f"{len(report.flips)} would flip ({counts['allow->deny']} allow->deny, "
        f"{counts['deny->allow']} deny->allow); obligations would change on "
        f"{report.obligations_changed} still-allowed decision(s)"
    ]
    assumed = sum(f.consent_assumed for f in report.flips)
    if assumed:
        out.append(f"{assumed} deny->allow flip(s) assume the customer consented (not logged)")
    groups = report.groups()
    for g in groups[:limit]:
        actions = ", ".join(f"{a} x{n}" for a, n in sorted(g.actions.items()))
        out.append(
            f"  {g.count:>6}  {g.direction}  {g.subject_kind} {g.subject}  {g.info_class}  "
            f"for {g.purpose}  [{actions}]  now: {', '.join(sorted(g.new_reasons))}"
        )
    if len(groups) > limit:
        out.append(f"  … and {len(groups) - limit} more group(s) (see --format json)")
    return "\n".join(out)


def render_replay_markdown(report: ReplayReport, heading: str = "###", limit: int = 50) -> str:
    """The report as Markdown."""
    counts = report.counts()
    out = [
        f"{heading} Replay of logged decisions",
        "",
        f"{report.decisions} decision(s) replayed under `{report.policy_version}`: "
        f"**{len(report.flips)} would flip** ({counts['allow->deny']} allow→deny, "
        f"{counts['deny->allow']} deny→allow); obligations change on "
        f"{report.obligations_changed} still-allowed decision(s).",
        "",
    ]
    groups = report.groups()
    if groups:
        out += [
            "| count | change | subject | class | purpose | actions | now |",
            "|---:|---|---|---|---|---|---|",
        ]
        for g in groups[:limit]:
            actions = ", ".join(f"{a}×{n}" for a, n in sorted(g.actions.items()))
            out.append(
                f"| {g.count} | {g.direction} | {g.subject_kind} `{g.subject}` | {g.info_class} "
                f"| {g.purpose} | {actions} | {', '.join(sorted(g.new_reasons))} |"
            )
        if len(groups) > limit:
            out.append(f"\n… and {len(groups) - limit} more group(s).")
    return "\n".join(out) + "\n"
