"""A finding of the privilege review: what is wrong, about whom, how bad, and why.

Severities rank `info` < `low` < `medium` < `high` < `critical` (the rule
severities of the policy format). A finding's `fingerprint` identifies "the
same finding" across policy versions: it hashes the kind, the rule id, the
subject and the sorted permissions — not the message, the evidence, the level
or the location, which may change while the finding stays the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pdp.core.model import SEVERITIES
from pdp.core.queries import Permission
from pdp.errors import Location

KINDS: tuple[str, ...] = (
    "sod_violation",
    "toxic_combination",
    "outside_duties",
    "unused_permission",
    "over_broad_grant",
    "redundant_grant",
    "equivalent_roles",
    "dormant_role",
    "orphan_user",
    "high_exposure",
)
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}

Path = tuple[str, ...]


def node(kind: str, ident: str) -> str:
    """An evidence node: `role:teller`, `user:u1001`, `grant:G-X`, `rule:SOD-X`, `class:c`."""
    return f"{kind}:{ident}"


@dataclass(frozen=True)
class Finding:
    """One finding: kind, rule id, subject, severity, level, message, evidence, permissions.

    `subject` is `{"role": id}` or `{"user": id}`; `evidence` lists paths of the
    review graph (`user:u` -> `role:r` -> inherited `role:s` -> `grant:G`);
    `permissions` lists (class, purpose, action) triples, sorted; `location` is
    where the grant, rule, role or user behind the finding is written.
    """

    kind: str
    rule_id: str | None
    subject: Mapping[str, str]
    severity: str
    level: str | None
    message: str
    evidence: Sequence[Path] = ()
    permissions: Sequence[Permission] = ()
    location: Location | None = None

    @property
    def subject_kind(self) -> str:
        """`role` or `user`."""
        return next(iter(self.subject))

    @property
    def subject_id(self) -> str:
        """The id of the subject."""
        return next(iter(self.subject.values()))

    @cached_property
    def fingerprint(self) -> str:
        """A stable id of the finding: kind, rule id, subject and sorted permissions, hashed."""
        identity = [
            self.kind,
            self.rule_id or "",
            self.subject_kind,
            self.subject_id,
            sorted(list(p) for p in self.permissions),
        ]
        text = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def rank(self) -> int:
        """The severity's rank, 0 for `info`."""
        return SEVERITY_RANK[self.severity]

    def sort_key(self) -> tuple[int, str, str, str, str]:
        """Most severe first, then kind, subject and rule."""
        return (-self.rank, self.kind, self.subject_kind, self.subject_id, self.rule_id or "")

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready mapping (the `findings` items of the JSON report)."""
        return {
            "kind": self.kind,
            "rule_id": self.rule_id,
            "subject": dict(self.subject),
            "severity": self.severity,
            "level": self.level,
            "message": self.message,
            "evidence": [list(path) for path in self.evidence],
            "permissions": [
                {"info_class": c, "purpose": p, "action": a} for c, p, a in self.permissions
            ],
            "location": location_dict(self.location),
            "fingerprint": self.fingerprint,
        }


def location_dict(location: Location | None) -> dict[str, Any] | None:
    """A location as `{"file", "line", "column"}`, or None when unknown."""
    if location is None or not location.file:
        return None
    return {"file": location.file, "line": location.line, "column": location.column}


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` ranks at or above `threshold`."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]
