"""What a report shows: the reader's selection of findings, and the summary every format opens with.

    view = View(kinds=frozenset({"toxic_combination"}), min_severity="high", group_by="rule")
    report = Report.of(review, compiled, verdict, view)
    report.findings     # the selected findings, in review order, at most `view.limit`
    report.overview     # counts per kind, rule, severity and level, and the top subjects

The selection narrows what is listed and counted in the overview; the
review's own `summary` (the whole policy) stays as it is, and `pdp review`'s
exit code judges every finding, whatever the view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from typing import Any

from pdp.analysis.finding import KINDS, SEVERITY_RANK, Findings, Pending
from pdp.analysis.register import NO_VERDICT, Verdict
from pdp.analysis.review import Review
from pdp.core.compile import CompiledPolicy
from pdp.core.model import SEVERITIES

GROUPINGS = ("rule", "subject", "kind")
PROGRESS_EVERY = 4096
Progress = Callable[[str, int, int], None]


def quiet(stage: str, done: int, total: int) -> None:
    """No progress display."""


TOP_SUBJECTS = 10
# Where the docs are: the repository's `docs/` folder, relative to its root (code scanning
# resolves it in the repository), or the absolute URL a bank gives with `--docs-url`.
DOCS_URL = "docs/"
# What each kind means, in a reader's words (the SARIF rules' text, the summary's kinds).
DESCRIPTIONS = {
    "sod_violation": "holds more roles of a separation-of-duty rule than it allows",
    "toxic_combination": "holds every permission pattern of a toxic rule",
    "outside_duties": "holds permissions for purposes outside the role's duties",
    "unused_permission": "holds permissions not used in the usage window",
    "over_broad_grant": "a grant reaches data of a higher level than the classes it names",
    "redundant_grant": "a grant gives nothing that other grants do not already give",
    "equivalent_roles": "roles holding exactly the same permissions",
    "dormant_role": "a role no user holds, directly or through inheritance",
    "orphan_user": "a user without roles",
    "high_exposure": "holds far more top-level data than its peers",
    "break_glass_grant": "can use a break-glass grant",
    "expired_access": "a grant or role assignment whose window has ended",
    "expiring_access": "a grant or role assignment ending within 30 days",
    "sensitive_without_mfa": "a grant gives top-level or sensitive data without asking for MFA",
}


@dataclass(frozen=True)
class View:
    """The reader's choice: which findings (kind, rule, severity, subject), how many, grouped how.

    A subject is given as an id (`u1021`) or with its kind (`user:u1021`).
    `limit` caps the findings listed; `detail` lists every finding of every
    group in the text report (otherwise the first few of each).
    """

    kinds: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_severity: str = "info"
    subjects: frozenset[str] = frozenset()
    limit: int | None = None
    group_by: str = "rule"
    detail: bool = False

    def keeps(self, entry: Pending) -> bool:
        """True when the finding is in the selection."""
        if SEVERITY_RANK[entry.severity] < SEVERITY_RANK[self.min_severity]:
            return False
        if self.kinds and entry.kind not in self.kinds:
            return False
        if self.rules and (entry.rule_id or entry.kind) not in self.rules:
            return False
        if self.subjects:
            named = f"{entry.subject_kind}:{entry.subject_id}"
            return entry.subject_id in self.subjects or named in self.subjects
        return True

    @property
    def narrows(self) -> bool:
        """True when the view leaves findings out."""
        return bool(
            self.kinds
            or self.rules
            or self.subjects
            or self.min_severity != "info"
            or self.limit is not None
        )


def group_key(entry: Pending, group_by: str) -> str:
    """The group of a finding: its rule (or kind, for kinds without one), subject or kind."""
    if group_by == "subject":
        return f"{entry.subject_kind} {entry.subject_id}"
    if group_by == "kind":
        return entry.kind
    return entry.rule_id or entry.kind


@dataclass(frozen=True)
class Group:
    """Findings sharing a rule, subject or kind: listed under one head in text and HTML."""

    key: str
    kind: str
    severity: str
    description: str
    entries: list[Pending] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """A review as a report shows it: the selected findings, the register's verdict, overview."""

    review: Review
    compiled: CompiledPolicy
    verdict: Verdict
    view: View
    findings: Findings
    total: int
    progress: Progress = quiet
    docs_url: str = DOCS_URL

    @classmethod
    def of(
        cls,
        review: Review,
        compiled: CompiledPolicy,
        verdict: Verdict = NO_VERDICT,
        view: View | None = None,
        progress: Progress = quiet,
        docs_url: str = DOCS_URL,
    ) -> Report:
        """The report of a review under a view (every finding without one).

        `docs_url` is where the docs are (SARIF's rule help links).
        """
        view = view or View()
        findings = review.findings
        if view.narrows:
            kept = [e for e in findings.entries if view.keeps(e)]
            if view.limit is not None:
                kept = kept[: view.limit]
            findings = Findings(kept, ordered=True)
        total = len(review.findings)
        return cls(review, compiled, verdict, view, findings, total, progress, docs_url)

    def entries(
        self, stage: str = "writing", start: int = 0, stop: int | None = None
    ) -> Iterator[Pending]:
        """The selected findings' entries (from `start` to `stop`), reporting
        `progress(stage, done, total)` as they go, `done` counted from the first."""
        entries = self.findings.entries
        total = len(entries)
        stop = total if stop is None else min(stop, total)
        for done in range(start, stop):
            if not done % PROGRESS_EVERY:
                self.progress(stage, done, total)
            yield entries[done]
        self.progress(stage, stop, total)

    def descriptions(self) -> dict[str, str]:
        """The description of each rule and grant id of the policy (empty when it has none)."""
        policy = self.compiled.policy
        found = {g.id: g.description for g in policy.grants if g.description}
        found.update({r.id: r.description for r in policy.rules if r.description})
        return found

    def describe(self, key: str) -> str:
        """A rule's or grant's description, or a kind's meaning, for the head of a group."""
        return self._descriptions.get(key) or DESCRIPTIONS.get(key, "")

    @cached_property
    def _descriptions(self) -> dict[str, str]:
        return self.descriptions()

    def groups(self, group_by: str | None = None) -> list[Group]:
        """The selected findings in groups, most severe group first, then the largest."""
        by = group_by or self.view.group_by
        groups: dict[str, Group] = {}
        for entry in self.findings.entries:
            key = group_key(entry, by)
            group = groups.get(key)
            if group is None:
                own = self.describe(key) if by == "rule" else ""
                description = own or DESCRIPTIONS.get(entry.kind, "") if by != "subject" else ""
                group = groups[key] = Group(key, entry.kind, entry.severity, description)
            group.entries.append(entry)
        return sorted(
            groups.values(),
            key=lambda g: (-SEVERITY_RANK[g.severity], -len(g.entries), g.key),
        )

    @cached_property
    def overview(self) -> dict[str, Any]:
        """Counts of the selected findings: per kind, rule, severity, level; top subjects.

        Counted from the pending entries (their level included), no finding built.
        """
        entries = self.findings.entries
        total = len(entries)
        self.progress("summary", 0, total)
        # Each count is one pass in C over the entries (a million, for a bank's review).
        by_kind = Counter(map(attrgetter("kind"), entries))
        by_severity = Counter(map(attrgetter("severity"), entries))
        by_level = Counter(map(attrgetter("level"), entries))
        subjects = Counter(map(attrgetter("subject_kind", "subject_id"), entries))
        verdict = self.verdict
        waived = [e for e in entries if verdict.acceptance_of(e)] if verdict.waives else []
        accepted = Counter(e.rule_id or e.kind for e in waived)
        by_rule: dict[str, list[Any]] = {}
        for (rule_id, kind, severity), count in Counter(
            map(attrgetter("rule_id", "kind", "severity"), entries)
        ).items():  # in the order first met: a rule's kind and severity are its first finding's
            key = rule_id or kind
            row = by_rule.get(key)
            if row is None:
                row = by_rule[key] = [kind, severity, 0, accepted[key]]
            row[2] += count
        self.progress("summary", total, total)
        levels = [*reversed(self.compiled.policy.levels), "none"]
        return {
            "findings": len(self.findings),
            "of": self.total,
            "accepted": len(waived),
            "by_severity": {s: by_severity[s] for s in reversed(SEVERITIES)},
            "by_level": {lv: n for lv in levels if (n := by_level[None if lv == "none" else lv])},
            "by_kind": {k: by_kind[k] for k in KINDS if by_kind[k]},
            "by_rule": [
                {
                    "rule": key,
                    "kind": kind,
                    "severity": severity,
                    "findings": count,
                    "accepted": n_accepted,
                    "description": self.describe(key),
                }
                for key, (kind, severity, count, n_accepted) in sorted(
                    by_rule.items(), key=lambda item: (-SEVERITY_RANK[item[1][1]], -item[1][2])
                )
            ],
            "top_subjects": [
                {"subject": {kind: ident}, "findings": n}
                for (kind, ident), n in subjects.most_common(TOP_SUBJECTS)
            ],
        }

    def lines(self) -> Iterator[str]:
        """The overview as plain-text lines (the head of the text and Markdown reports)."""
        o = self.overview
        counts = ", ".join(f"{n} {s}" for s, n in o["by_severity"].items() if n)
        scope = (
            f"{o['findings']} of {o['of']} findings"
            if self.view.narrows
            else f"{o['findings']} findings"
        )
        yield f"privilege review of policy {self.review.policy_version}: {scope}" + (
            f" ({counts})" if counts else ""
        )
        if o["accepted"]:
            yield f"accepted by the risk register: {o['accepted']}"
        if o["by_level"]:
            yield "by level: " + ", ".join(f"{lv} {n}" for lv, n in o["by_level"].items())
        if o["by_kind"]:
            yield "by kind: " + ", ".join(f"{k} {n}" for k, n in o["by_kind"].items())
        if o["top_subjects"]:
            yield "top subjects: " + ", ".join(
                f"{_subject(s['subject'])} ({s['findings']})" for s in o["top_subjects"]
            )


def _subject(subject: dict[str, str]) -> str:
    ((kind, ident),) = subject.items()
    return f"{kind} {ident}"
