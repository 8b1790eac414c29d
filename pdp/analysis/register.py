"""The risk register: findings a bank has accepted, each with a reason, an owner and an expiry.

    register = read_register(Path("accepted-findings.yaml"))
    verdict = register.judge(review.findings.entries, today=date.today())
    verdict.acceptance_of(entry)   # the live acceptance of a finding, or None

A register file holds one list, `accepted:`. Each entry names one finding,
either by its `fingerprint` or by `kind` + `rule_id` + `subject` (the rule
id is required for the kinds that have one, and must be absent for the
others), and carries `reason`, `owner`, `approved_by` and `expires` (a date);
`ticket` and `controls` (compensating controls) are optional. An entry that
names no finding, lacks a field, has an unknown key or a wrong type makes
the whole file unusable (`RegisterError`): a register never fails open.

An acceptance holds up to the day before `expires`; from that day on it
waives nothing, its finding counts again and the entry is listed as expired.
A live entry that names no finding of the review is listed as unmatched.
Naming a finding by fingerprint accepts exactly that finding: when it widens
(more permissions), its fingerprint changes and the acceptance no longer
holds. Naming it by kind, rule and subject accepts it whatever it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from pdp.analysis.finding import KINDS, Pending, head
from pdp.errors import RegisterError

# The kinds whose findings carry a rule id: the SoD or toxic rule, or the grant.
RULED_KINDS = frozenset(
    {
        "sod_violation",
        "toxic_combination",
        "over_broad_grant",
        "redundant_grant",
        "break_glass_grant",
        "expired_access",
        "expiring_access",
        "sensitive_without_mfa",
    }
)
REQUIRED = ("reason", "owner", "approved_by", "expires")
NAMING = ("fingerprint", "kind", "rule_id", "subject")
OPTIONAL = ("ticket", "controls")
SUBJECT_KINDS = ("role", "user")

Head = tuple[str, str | None, str, str]


@dataclass(frozen=True)
class Acceptance:
    """One entry of the register: which finding, why, whose, until when."""

    number: int
    reason: str
    owner: str
    approved_by: str
    expires: date
    fingerprint: str | None = None
    kind: str | None = None
    rule_id: str | None = None
    subject: tuple[str, str] | None = None
    ticket: str | None = None
    controls: tuple[str, ...] = ()

    @property
    def head(self) -> Head | None:
        """The kind, rule id and subject it names (None when it names a fingerprint only)."""
        if self.kind is None or self.subject is None:
            return None
        return (self.kind, self.rule_id, *self.subject)

    def names(self) -> str:
        """What the entry names, for people: `toxic_combination TOX-X role r` or a fingerprint."""
        if self.head is None:
            return f"fingerprint {self.fingerprint}"
        kind, rule, subject_kind, subject_id = self.head
        return " ".join(x for x in (kind, rule, subject_kind, subject_id) if x)

    def expired(self, today: date) -> bool:
        """True from the day it expires on."""
        return today >= self.expires

    def to_dict(self) -> dict[str, Any]:
        """The acceptance as a JSON-ready mapping (reported with the finding it waives)."""
        return {
            "entry": self.number,
            "reason": self.reason,
            "owner": self.owner,
            "approved_by": self.approved_by,
            "expires": self.expires.isoformat(),
            "ticket": self.ticket,
            "controls": list(self.controls),
        }


@dataclass(frozen=True)
class Verdict:
    """What a register says of one review: the live acceptances found, the expired, the unmatched.

    `acceptance_of(entry)` answers for any finding of the review (or a
    filtered part of it) without building it, unless an acceptance of its
    kind, rule and subject is tied to a fingerprint.
    """

    by_head: Mapping[Head, Sequence[Acceptance]] = field(default_factory=dict)
    by_fingerprint: Mapping[str, Acceptance] = field(default_factory=dict)
    expired: tuple[Acceptance, ...] = ()
    unmatched: tuple[Acceptance, ...] = ()
    accepted: int = 0

    @property
    def waives(self) -> bool:
        """True when some live acceptance may waive a finding."""
        return bool(self.by_head or self.by_fingerprint)

    def acceptance_of(self, entry: Pending) -> Acceptance | None:
        """The live acceptance that waives this finding, or None."""
        found = self.by_head.get(head(entry))
        if found is None and not self.by_fingerprint:
            return None
        fingerprint: str | None = None
        for acceptance in found or ():
            if acceptance.fingerprint is None:
                return acceptance
            fingerprint = fingerprint or entry.build().fingerprint
            if fingerprint == acceptance.fingerprint:
                return acceptance
        if self.by_fingerprint:
            return self.by_fingerprint.get(fingerprint or entry.build().fingerprint)
        return None

    def warnings(self) -> list[str]:
        """One line per expired or unmatched entry, for people."""
        lines = [
            f"acceptance {a.number} ({a.names()}) expired on {a.expires.isoformat()}: "
            f"the finding counts again (owner `{a.owner}`)"
            for a in self.expired
        ]
        lines += [
            f"acceptance {a.number} ({a.names()}) matches no finding: remove it or fix it"
            for a in self.unmatched
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The register's part of a report: counts, expired and unmatched entries."""
        return {
            "accepted": self.accepted,
            "expired": [{"names": a.names()} | a.to_dict() for a in self.expired],
            "unmatched": [{"names": a.names()} | a.to_dict() for a in self.unmatched],
        }


NO_VERDICT = Verdict()


@dataclass(frozen=True)
class Register:
    """The entries of a register file, in order."""

    entries: tuple[Acceptance, ...] = ()

    def judge(self, findings: Iterable[Pending], today: date) -> Verdict:
        """Which findings the live entries accept; which entries expired or match nothing."""
        live = [a for a in self.entries if not a.expired(today)]
        by_head: dict[Head, list[Acceptance]] = {}
        by_fingerprint: dict[str, Acceptance] = {}
        for acceptance in live:
            key = acceptance.head
            if key is not None:
                by_head.setdefault(key, []).append(acceptance)
            elif acceptance.fingerprint is not None:
                by_fingerprint.setdefault(acceptance.fingerprint, acceptance)
        verdict = Verdict(by_head, by_fingerprint)
        used: set[int] = set()
        accepted = 0
        for entry in findings:
            found = verdict.acceptance_of(entry)
            if found is not None:
                used.add(found.number)
                accepted += 1
                # Two entries naming the same finding: the second one counts as used too.
                used.update(a.number for a in _also_naming(verdict, entry, found))
        return Verdict(
            by_head,
            by_fingerprint,
            expired=tuple(a for a in self.entries if a.expired(today)),
            unmatched=tuple(a for a in live if a.number not in used),
            accepted=accepted,
        )


def _also_naming(verdict: Verdict, entry: Pending, first: Acceptance) -> list[Acceptance]:
    """The other live acceptances that name this finding."""
    others = [a for a in verdict.by_head.get(head(entry), ()) if a is not first]
    if not others and not verdict.by_fingerprint:
        return []
    fingerprint = entry.build().fingerprint
    others = [a for a in others if a.fingerprint in (None, fingerprint)]
    extra = verdict.by_fingerprint.get(fingerprint)
    if extra is not None and extra is not first:
        others.append(extra)
    return others


def read_register(path: Path) -> Register:
    """The register in a YAML file; `RegisterError` when it is unreadable or any entry invalid."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        lines = _entry_lines(text)
    except OSError as exc:
        raise RegisterError(
            f"cannot read accepted findings `{path}`: {(exc.strerror or str(exc)).lower()}"
        ) from None
    except (UnicodeDecodeError, yaml.YAMLError):
        raise RegisterError(f"accepted findings `{path}` is not valid YAML") from None
    return parse_register(data, str(path), lines)


def _entry_lines(text: str) -> list[int]:
    """The line each entry of the `accepted:` list starts on (empty when there is none)."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "accepted" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_register(data: Any, name: str = "<register>", lines: Sequence[int] = ()) -> Register:
    """The register of a parsed YAML document; `RegisterError` names every invalid entry.

    `lines` are the entries' lines in the file, when known: each problem then
    reads `FILE:LINE: entry N: ...`.
    """
    entries = data.get("accepted") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        raise RegisterError(f"`{name}` has no `accepted:` list")
    if isinstance(data, Mapping) and set(data) - {"accepted"}:
        extra = ", ".join(f"`{k}`" for k in sorted(map(str, set(data) - {"accepted"})))
        raise RegisterError(f"`{name}` has unknown top-level key(s) {extra}")
    problems: list[str] = []
    accepted: list[Acceptance] = []
    for number, entry in enumerate(entries, 1):
        try:
            accepted.append(_acceptance(number, entry))
        except RegisterError as exc:
            where = f"{name}:{lines[number - 1]}: " if number <= len(lines) else ""
            problems.append(f"{where}entry {number}: {exc}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RegisterError(f"`{name}` is not a usable register: {problems[0]}{more}")
    return Register(tuple(accepted))


def _acceptance(number: int, entry: Any) -> Acceptance:
    if not isinstance(entry, Mapping):
        raise RegisterError("is not a mapping")
    unknown = sorted(map(str, set(entry) - {*REQUIRED, *NAMING, *OPTIONAL}))
    if unknown:
        raise RegisterError(f"unknown key(s) {', '.join(f'`{k}`' for k in unknown)}")
    missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
    if missing:
        raise RegisterError(f"lacks {', '.join(f'`{k}`' for k in missing)}")
    fingerprint = _text(entry, "fingerprint")
    kind = _text(entry, "kind")
    rule_id = _text(entry, "rule_id")
    subject = _subject(entry.get("subject"))
    if kind is not None and kind not in KINDS:
        raise RegisterError(f"unknown kind `{kind}`")
    if fingerprint is None:
        if kind is None or subject is None:
            raise RegisterError("names no finding (give `fingerprint`, or `kind` and `subject`)")
    elif (kind is None) != (subject is None):
        raise RegisterError("with a fingerprint, give both `kind` and `subject` or neither")
    if kind is not None:
        if kind in RULED_KINDS and rule_id is None:
            raise RegisterError(f"a `{kind}` finding is named with its `rule_id`")
        if kind not in RULED_KINDS and rule_id is not None:
            raise RegisterError(f"`{kind}` findings have no `rule_id`")
    elif rule_id is not None:
        raise RegisterError("`rule_id` without `kind`")
    return Acceptance(
        number=number,
        reason=_required_text(entry, "reason"),
        owner=_required_text(entry, "owner"),
        approved_by=_required_text(entry, "approved_by"),
        expires=_date(entry["expires"]),
        fingerprint=fingerprint,
        kind=kind,
        rule_id=rule_id,
        subject=subject,
        ticket=_text(entry, "ticket"),
        controls=_controls(entry.get("controls")),
    )


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RegisterError(f"`{key}` must be non-empty text")
    return value


def _required_text(entry: Mapping[str, Any], key: str) -> str:
    return _text(entry, key) or ""  # never empty: the caller checked what is `missing`


def _subject(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or len(value) != 1:
        raise RegisterError("`subject` must be `{role: ID}` or `{user: ID}`")
    ((kind, ident),) = value.items()
    if kind not in SUBJECT_KINDS or not isinstance(ident, str) or not ident:
        raise RegisterError("`subject` must be `{role: ID}` or `{user: ID}`")
    return (kind, ident)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RegisterError(f"`expires` must be a date (YYYY-MM-DD), not `{value}`")


def _controls(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise RegisterError("`controls` must be a list of text")
    return tuple(value)
