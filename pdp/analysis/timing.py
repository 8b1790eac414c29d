"""What is held at a time, and what a grant asks: the review's reading of version 2.

*Held* for the review and the diff means rules 1-4 at a given time (`--at`,
default now), ignoring `when` and consent: conditions narrow how a held
permission may be used, they do not remove it. At a time `at`

- a grant outside its window (`valid_from` <= at < `valid_until`) does not exist,
- a role assignment outside its window is not held,
- a disabled user holds nothing (every request of theirs is denied).

`policy_at(compiled, at)` is the compiled policy of that reading: the same
policy without what does not exist at `at` (the compiled policy itself when
nothing in it depends on time). A grant's requirements are `Requirements`: its
conditions and its window; `asks_less(new, old)` is "new accepts a request
that old refuses" — a requirement dropped, a list or `max_records` widened,
`hours` widened, a window extended.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from pdp.analysis.finding import Finding, Pending, node
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.model import NO_CONDITIONS, Conditions, Grant, User, within
from pdp.errors import Location

MINUTES = 24 * 60


def policy_at(compiled: CompiledPolicy, at: datetime) -> CompiledPolicy:
    """The compiled policy of what exists at `at`: grants and assignments in their windows,
    disabled users without roles. The compiled policy itself when none of that applies."""
    policy = compiled.policy
    grants = tuple(g for g in policy.grants if within(g.valid_from, g.valid_until, at))
    users = {uid: _user_at(user, at) for uid, user in policy.users.items()}
    changed = len(grants) != len(policy.grants) or any(
        users[uid] is not user for uid, user in policy.users.items()
    )
    if not changed:
        return compiled
    return compile_policy(replace(policy, grants=grants, users=users))


def _user_at(user: User, at: datetime) -> User:
    """The user with only the assignments held at `at` (none when disabled)."""
    if user.disabled:
        return replace(user, roles=(), assignments=())
    if not user.timed:
        return user
    kept = tuple(a for a in user.assignments if within(a.valid_from, a.valid_until, at))
    if len(kept) == len(user.assignments):
        return user
    return replace(user, roles=tuple(a.role for a in kept), assignments=kept)


@dataclass(frozen=True, slots=True)
class Requirements:
    """What an allow grant asks of a request: its conditions (`when`) and its window."""

    when: Conditions = NO_CONDITIONS
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    break_glass: bool = False

    @classmethod
    def of(cls, grant: Grant) -> Requirements:
        """The requirements of a grant (break-glass's ticket is in its `when` already)."""
        return cls(
            grant.when or NO_CONDITIONS, grant.valid_from, grant.valid_until, grant.break_glass
        )

    @property
    def empty(self) -> bool:
        """True when the grant asks nothing and has no window."""
        return self.when.empty and self.valid_from is None and self.valid_until is None

    def words(self) -> list[str]:
        """The requirements in a reader's words (`mfa`, `ticket`, `hours 08:00-20:00`, …)."""
        w = self.when
        found = [name for name in ("mfa", "ticket", "approver") if getattr(w, name)]
        if w.relationship is not None:
            found.append("relationship " + " or ".join(w.relationship))
        if w.max_records is not None:
            found.append(f"at most {w.max_records} records")
        if w.hours is not None:
            found.append(f"hours {_clock(w.hours[0])}-{_clock(w.hours[1])}")
        if self.break_glass:
            found.append("break-glass")
        if self.valid_from is not None:
            found.append(f"from {self.valid_from.isoformat()}")
        if self.valid_until is not None:
            found.append(f"until {self.valid_until.isoformat()}")
        return found


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def hour_set(hours: tuple[int, int] | None) -> frozenset[int] | None:
    """The minutes of the day an `hours` interval holds (None: every minute)."""
    if hours is None:
        return None
    start, end = hours
    if start < end:
        return frozenset(range(start, end))
    return frozenset(range(start, MINUTES)) | frozenset(range(0, end))


def at_least_as_strict(new: Requirements, old: Requirements) -> bool:
    """True when every request `new` accepts, `old` accepts too (new asks at least as much)."""
    a, b = new.when, old.when
    if (b.mfa and not a.mfa) or (b.ticket and not a.ticket) or (b.approver and not a.approver):
        return False
    if b.relationship is not None and (
        a.relationship is None or not set(a.relationship) <= set(b.relationship)
    ):
        return False
    if b.max_records is not None and (a.max_records is None or a.max_records > b.max_records):
        return False
    if b.hours is not None:
        held_new, held_old = hour_set(a.hours), hour_set(b.hours)
        if held_new is None or held_old is None or not held_new <= held_old:
            return False
    if old.valid_from is not None and (new.valid_from is None or new.valid_from < old.valid_from):
        return False
    return old.valid_until is None or (
        new.valid_until is not None and new.valid_until <= old.valid_until
    )


def asks_less(new: Iterable[Requirements], old: Iterable[Requirements]) -> list[Requirements]:
    """The requirement sets of `new` that no set of `old` is as weak as: each accepts a
    request every grant of `old` refuses (empty: the access is not loosened)."""
    before = list(old)
    return [n for n in new if not any(at_least_as_strict(n, o) for o in before)]


class WithConditions:
    """A pending finding whose built finding names, in its details, the requirements of the
    grants in its evidence (`grant G applies only with: mfa, ticket`)."""

    __slots__ = ("entry", "words")

    def __init__(self, entry: Pending, words: Mapping[str, str]) -> None:
        self.entry = entry
        self.words = words  # grant evidence node -> its requirements, for grants with some

    @property
    def kind(self) -> str:
        """See `Pending`."""
        return self.entry.kind

    @property
    def severity(self) -> str:
        """See `Pending`."""
        return self.entry.severity

    @property
    def rule_id(self) -> str | None:
        """See `Pending`."""
        return self.entry.rule_id

    @property
    def subject_kind(self) -> str:
        """See `Pending`."""
        return self.entry.subject_kind

    @property
    def subject_id(self) -> str:
        """See `Pending`."""
        return self.entry.subject_id

    @property
    def level(self) -> str | None:
        """See `Pending`."""
        return self.entry.level

    @property
    def location(self) -> Location | None:
        """See `Pending`."""
        return self.entry.location

    @property
    def identity(self) -> Hashable:
        """See `Pending`."""
        return self.entry.identity

    def build(self) -> Finding:
        """The finding, its details ending with the requirements of its evidence's grants."""
        finding = self.entry.build()
        named = sorted({n for path in finding.evidence for n in path if n in self.words})
        if not named:
            return finding
        lines = tuple(
            f"{n.removeprefix('grant:')} applies only with: {self.words[n]}" for n in named
        )
        return replace(finding, details=(*finding.details, *lines))


def with_conditions(entries: list[Pending], grants: Iterable[Grant]) -> list[Pending]:
    """The entries, each showing the requirements of the grants in its evidence (unchanged
    when no grant has requirements)."""
    words = {
        node("grant", g.id): ", ".join(Requirements.of(g).words())
        for g in grants
        if g.effect == "allow" and not Requirements.of(g).empty
    }
    if not words:
        return entries
    return [WithConditions(e, words) for e in entries]
