"""Rendering a policy diff for people and tools: grouped text, Markdown and SARIF.

Changes are grouped per role: the classes changed for one (role, purpose,
action) collapse to "identity and its 9 sub-classes" when a whole subtree
changed, then actions with the same classes join ("collect, use"), then
purposes with the same classes and actions join.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pdp.analysis.report.sarif import rule_id
from pdp.analysis.report.sarif import sarif_log as review_sarif_log
from pdp.analysis.report.triage import DOCS_URL
from pdp.analysis.wording import collapse
from pdp.core.compile import CompiledPolicy
from pdp.errors import Location
from pdp.policyci.diff import Access, Loosening, PolicyDiff

MAX_LINES = 60


@dataclass(frozen=True)
class Group:
    """One readable line of a diff: a role gains or loses actions on classes for purposes."""

    role: str
    actions: tuple[str, ...]
    classes: tuple[str, ...]
    purposes: tuple[str, ...]
    count: int
    level: str
    users: int
    sample: Access

    def sentence(self, verb: str) -> str:
        """`teller gains disclose on identity and its 9 sub-classes for marketing`."""
        return (
            f"{self.role} {verb} {', '.join(self.actions)} on {', '.join(self.classes)}"
            f" for {', '.join(self.purposes)}"
        )


def _collapse_purposes(ids: Iterable[str], tree: Iterable[str]) -> list[str]:
    return collapse(ids, tree, ("sub-purpose", "sub-purposes"))


def group(diff: PolicyDiff, accesses: Sequence[Access], side: CompiledPolicy) -> list[Group]:
    """Group role accesses into readable lines, using the class and purpose trees of `side`."""
    by_rpa: dict[tuple[str, str, str], list[Access]] = defaultdict(list)
    for access in accesses:
        by_rpa[(access.subject, access.purpose, access.action)].append(access)
    classes = list(side.policy.classes)
    by_classes: dict[tuple[str, str, tuple[str, ...]], list[tuple[str, list[Access]]]] = (
        defaultdict(list)
    )
    for (role, purpose, action), items in by_rpa.items():
        phrase = tuple(collapse((a.info_class for a in items), classes))
        by_classes[(role, purpose, phrase)].append((action, items))
    by_actions: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[Access]] = defaultdict(list)
    purposes_of: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[str]] = defaultdict(set)
    for (role, purpose, phrase), pairs in by_classes.items():
        actions = tuple(sorted(a for a, _ in pairs))
        key = (role, phrase, actions)
        purposes_of[key].add(purpose)
        for _, items in pairs:
            by_actions[key].extend(items)
    holders = _user_counts(side)
    groups = []
    for (role, phrase, actions), items in by_actions.items():
        groups.append(
            Group(
                role,
                actions,
                phrase,
                tuple(
                    _collapse_purposes(purposes_of[(role, phrase, actions)], side.policy.purposes)
                ),
                len(items),
                diff.top_level(items),
                holders.get(role, 0),
                min(items),
            )
        )
    return sorted(groups, key=lambda g: (-diff.level_rank(g.level), g.role, g.classes, g.actions))


def obligation_groups(diff: PolicyDiff) -> list[tuple[Group, tuple[str, ...], tuple[str, ...]]]:
    """Obligation changes grouped like accesses, per (before, after) pair of obligation lists."""
    by_change: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Access]] = defaultdict(list)
    for o in diff.obligations:
        by_change[(o.old, o.new)].append(Access(o.role, o.info_class, o.purpose, o.action))
    return [
        (g, before, after)
        for (before, after), items in sorted(by_change.items())
        for g in group(diff, items, diff.new)
    ]


def _user_counts(side: CompiledPolicy) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for closure in side.user_closure.values():
        for role in closure:
            counts[role] += 1
    return counts


def _users_line(accesses: Sequence[Access], verb: str) -> str:
    users = sorted({a.subject for a in accesses})
    shown = ", ".join(users[:10]) + (f", … {len(users) - 10} more" if len(users) > 10 else "")
    return f"{len(users)} user(s) {verb} access: {shown}" if users else f"no user {verb} access"


def _finding_line(finding: Any) -> str:
    subject = ", ".join(f"{k} {v}" for k, v in finding.subject.items())
    rule = f" {finding.rule_id}" if finding.rule_id else ""
    return f"{finding.severity} {finding.kind}{rule} ({subject}): {finding.message}"


def _limited(lines: list[str], prefix: str) -> list[str]:
    if len(lines) <= MAX_LINES:
        return [prefix + line for line in lines]
    rest = len(lines) - MAX_LINES
    return [prefix + line for line in lines[:MAX_LINES]] + [
        f"{prefix}… and {rest} more (see --format json)"
    ]


def _loosened_line(x: Loosening) -> str:
    """One loosened permission: who, what, and what is asked now and before."""
    now = "; ".join(f"{g} asks {a}" for g, a in zip(x.grants, x.asks, strict=True))
    return (
        f"role {x.role} {x.info_class}/{x.purpose}/{x.action}: {now} "
        f"(before: {' | '.join(x.before)})"
    )


def render_text(diff: PolicyDiff) -> str:
    """The diff as grouped plain text."""
    s = diff.summary()
    out = [f"policy diff {diff.old.version} -> {diff.new.version}"]
    if not diff.added and not diff.removed and not diff.obligations and not diff.loosened:
        out.append("no held permission changes")
    for title, accesses, side, verb, mark in (
        ("added", diff.added, diff.new, "gains", "+ "),
        ("removed", diff.removed, diff.old, "loses", "- "),
    ):
        if not accesses:
            continue
        top = diff.top_level(accesses)
        roles = len({a.subject for a in accesses})
        out.append(f"{title}: {len(accesses)} permission(s) of {roles} role(s), up to {top}")
        lines = [
            f"{g.sentence(verb)}  [{g.level}, {g.count} permission(s), "
            f"{g.users} user(s) with the role]"
            for g in group(diff, accesses, side)
        ]
        out += _limited(lines, "  " + mark)
    out.append(_users_line(diff.users_added, "gain"))
    out.append(_users_line(diff.users_removed, "lose"))
    if diff.obligations:
        out.append(f"obligations changed on {len(diff.obligations)} still-held permission(s):")
        lines = [
            f"{g.sentence('keeps')}: [{', '.join(old)}] -> [{', '.join(new)}]"
            for g, old, new in obligation_groups(diff)
        ]
        out += _limited(lines, "  ~ ")
    if diff.loosened:
        out.append(f"loosened: {len(diff.loosened)} still-held permission(s) now ask less:")
        out += _limited([_loosened_line(x) for x in diff.loosened], "  ≈ ")
    if diff.findings_note:
        out.append(f"findings: {diff.findings_note}")
    else:
        out.append(f"findings: {s['new_findings']} new, {s['resolved_findings']} resolved")
        out += _limited([_finding_line(f) for f in diff.new_findings], "  new ")
        out += _limited([_finding_line(f) for f in diff.resolved_findings], "  resolved ")
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(diff: PolicyDiff, heading: str = "###") -> str:
    """The diff as Markdown, suitable for a pull-request comment."""
    s = diff.summary()
    out = [
        f"{heading} Policy diff",
        "",
        f"`{diff.old.version}` → `{diff.new.version}`: **{s['added']} added**, "
        f"**{s['removed']} removed** held permissions; {s['users_gaining']} user(s) gain, "
        f"{s['users_losing']} lose access; {s['obligations_changed']} obligation change(s).",
        "",
    ]
    for title, accesses, side, verb in (
        ("Added access", diff.added, diff.new, "gains"),
        ("Removed access", diff.removed, diff.old, "loses"),
    ):
        if not accesses:
            continue
        out += [
            f"**{title}** (up to {diff.top_level(accesses)})",
            "",
            "| level | change | permissions | users with the role |",
            "|---|---|---:|---:|",
        ]
        rows = [
            f"| {g.level} | {_md(g.sentence(verb))} | {g.count} | {g.users} |"
            for g in group(diff, accesses, side)
        ]
        out += _limited(rows, "")
        out.append("")
    if diff.loosened:
        out += ["**Loosened** (held in both, the new version asks less)", ""]
        out += _limited([f"- {_md(_loosened_line(x))}" for x in diff.loosened], "")
        out.append("")
    if diff.obligations:
        out += [
            "**Obligations changed**",
            "",
            "| still held | before | after |",
            "|---|---|---|",
        ]
        rows = [
            f"| {_md(g.sentence('keeps'))} | {', '.join(old) or '—'} | {', '.join(new) or '—'} |"
            for g, old, new in obligation_groups(diff)
        ]
        out += [*_limited(rows, ""), ""]
    if diff.findings_note:
        out.append(f"Findings: {diff.findings_note}.")
    else:
        out.append(f"**Findings**: {s['new_findings']} new, {s['resolved_findings']} resolved.")
        for label, findings in (("new", diff.new_findings), ("resolved", diff.resolved_findings)):
            out += _limited([_md(_finding_line(f)) for f in findings], f"- {label}: ")
    return "\n".join(out) + "\n"


SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def _sarif_location(location: Location | None) -> list[dict[str, Any]]:
    if location is None or not location.file:
        return []
    uri = location.file.split(":", 1)[1] if ":" in location.file else location.file
    region = {"startLine": max(location.line, 1)}
    if location.column:
        region["startColumn"] = location.column
    return [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}]


def _grant_location(side: CompiledPolicy, access: Access) -> Location | None:
    closure = side.role_closure.get(access.subject)
    if closure is None or not side.policy.classes.get(access.info_class):
        return None
    held = side.held(closure, *access.key)
    indexes = held.allows or held.denies
    return side.grants[indexes[0]].location if indexes else None


def sarif_results(diff: PolicyDiff, min_level: str | None = None) -> list[dict[str, Any]]:
    """SARIF results: one per grouped added access (at or above `min_level`), and new findings."""
    results = []
    floor = diff.level_rank(min_level) if min_level else -1
    for g in group(diff, diff.added, diff.new):
        rank = diff.level_rank(g.level)
        if rank < floor:
            continue
        results.append(
            {
                "ruleId": "pdp/new-access",
                "level": "error" if rank == len(diff.new.policy.levels) - 1 else "warning",
                "message": {"text": f"{g.sentence('gains')} ({g.level}, {g.users} user(s))"},
                "locations": _sarif_location(_grant_location(diff.new, g.sample)),
            }
        )
    for finding in diff.new_findings:
        results.append(finding_result(finding))
    return results


def finding_result(finding: Any) -> dict[str, Any]:
    """A SARIF result for one review finding of a diff (a new one)."""
    return {
        "ruleId": rule_id(finding.kind),
        "level": SARIF_LEVEL.get(finding.severity, "note"),
        "message": {"text": _finding_line(finding)},
        "locations": _sarif_location(getattr(finding, "location", None)),
        "partialFingerprints": {"pdpFinding/v1": finding.fingerprint},
    }


def sarif_log(results: list[dict[str, Any]], docs: str = DOCS_URL) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run of pdp: the review's rules, then the others its results name.

    `docs` is the docs' base URL (or repository-relative path) of the rules' help links.
    """
    log = review_sarif_log(results, {}, docs)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    known = {r["id"] for r in rules}
    named = sorted({r["ruleId"] for r in results} - known)
    rules += [{"id": r, "shortDescription": {"text": r}} for r in named]
    return log
