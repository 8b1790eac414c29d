"""The policy document: what a policy file says, with where it says it.

These are plain frozen values. Ids are strings; wildcards (`*`) are kept as
written. `Policy` is the merged, validated document of one or more files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal

from pdp.errors import Location

WILDCARD = "*"
DEFAULT_LEVELS: tuple[str, ...] = ("C1", "C2", "C3")
LIFECYCLE_ACTIONS: tuple[str, ...] = (
    "collect",
    "store",
    "transmit",
    "use",
    "process",
    "disclose",
    "archive",
    "destroy",
)
LEGAL_BASES: tuple[str, ...] = ("consent", "contract", "legal_obligation", "other")
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
FORMAT_VERSIONS: tuple[int, ...] = (1, 2)
DEFAULT_TIMEZONE = "UTC"
MINUTES_PER_DAY = 24 * 60

Effect = Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class InfoClass:
    """An information class: a dotted id in the class tree, with a sensitivity level."""

    id: str
    level: str
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)
    sensitive: bool = False
    """Sensitive personal information (PIPL art. 28): declared here or on an ancestor."""

    @property
    def parent(self) -> str | None:
        """The id of the parent class, or None for a top-level class."""
        return parent_of(self.id)


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose of processing: a dotted id in the purpose tree, with its own legal basis."""

    id: str
    legal_basis: str = "other"
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)
    consent: Literal["separate"] | None = None
    """`separate` when this purpose (and its descendants) needs separate consent (PIPL art. 23)."""

    @property
    def parent(self) -> str | None:
        """The id of the parent purpose, or None for a top-level purpose."""
        return parent_of(self.id)


@dataclass(frozen=True, slots=True)
class Role:
    """A role: what it inherits and the purposes (duties) it exists to serve."""

    id: str
    inherits: tuple[str, ...] = ()
    duties: tuple[str, ...] = ()
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class Assignment:
    """One role of a user, held only within its window (no bound: always)."""

    role: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def timed(self) -> bool:
        """True when the assignment has a window."""
        return self.valid_from is not None or self.valid_until is not None


@lru_cache(maxsize=65_536)
def untimed(role: str) -> Assignment:
    """The assignment of a role without a window (one shared value per role id)."""
    return Assignment(role)


@dataclass(frozen=True, slots=True)
class User:
    """A person or service account, the roles assigned to it and whether it is disabled.

    `roles` are the ids of every assigned role, whatever its window;
    `assignments` are the same roles with their windows, in the same order
    (either may be given: the other is derived from it).
    """

    id: str
    roles: tuple[str, ...] = ()
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)
    assignments: tuple[Assignment, ...] = ()
    disabled: bool = False
    timed: bool = field(default=False, init=False, compare=False, repr=False)
    """True when some assignment has a window, so the roles held depend on time."""

    def __post_init__(self) -> None:
        if self.roles and not self.assignments:
            object.__setattr__(self, "assignments", tuple(map(untimed, self.roles)))
            return
        if self.assignments and not self.roles:
            object.__setattr__(self, "roles", tuple(a.role for a in self.assignments))
        object.__setattr__(self, "timed", any(a.timed for a in self.assignments))

    def roles_at(self, at: datetime) -> tuple[str, ...]:
        """The roles whose assignment is held at `at`."""
        return tuple(a.role for a in self.assignments if within(a.valid_from, a.valid_until, at))


@dataclass(frozen=True, slots=True)
class Conditions:
    """The requirements (`when`) of an allow grant: it applies only when all of them hold.

    `hours` is (start, end) in minutes after midnight in the policy's timezone,
    the interval [start, end), wrapping past midnight when start > end.
    """

    mfa: bool = False
    ticket: bool = False
    approver: bool = False
    relationship: tuple[str, ...] | None = None
    max_records: int | None = None
    hours: tuple[int, int] | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is required."""
        return self == NO_CONDITIONS


NO_CONDITIONS = Conditions()


@dataclass(frozen=True, slots=True)
class Grant:
    """An allow or deny rule over roles x classes x purposes x actions."""

    id: str
    roles: tuple[str, ...]
    classes: tuple[str, ...]
    purposes: tuple[str, ...]
    actions: tuple[str, ...]
    effect: Effect = "allow"
    obligations: tuple[str, ...] = ()
    description: str = ""
    explicit_id: bool = True
    location: Location = field(default_factory=Location, compare=False)
    when: Conditions | None = None
    """The requirements of an allow grant (`ticket` included when break-glass), None for none."""
    break_glass: bool = False
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def timed(self) -> bool:
        """True when whether this grant applies can depend on the time (a window or hours)."""
        return (
            self.valid_from is not None
            or self.valid_until is not None
            or (self.when is not None and self.when.hours is not None)
        )


@dataclass(frozen=True, slots=True)
class Pattern:
    """One permission pattern of a toxic rule; an empty tuple stands for `*` (any)."""

    classes: tuple[str, ...] = (WILDCARD,)
    purposes: tuple[str, ...] = (WILDCARD,)
    actions: tuple[str, ...] = (WILDCARD,)


@dataclass(frozen=True, slots=True)
class SodRule:
    """A separation-of-duty rule over roles (`roles`, `max`) or a toxic combination (`patterns`)."""

    id: str
    severity: str = "high"
    roles: tuple[str, ...] = ()
    max: int = 1
    patterns: tuple[Pattern, ...] = ()
    description: str = ""
    explicit_id: bool = True
    location: Location = field(default_factory=Location, compare=False)

    @property
    def kind(self) -> Literal["sod", "toxic"]:
        """`sod` for a rule over roles, `toxic` for a permission combination."""
        return "toxic" if self.patterns else "sod"


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy document: every section of the format, merged from its files."""

    actions: tuple[str, ...]
    levels: tuple[str, ...] = DEFAULT_LEVELS
    classes: dict[str, InfoClass] = field(default_factory=dict)
    purposes: dict[str, Purpose] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()
    rules: tuple[SodRule, ...] = ()
    sources: tuple[str, ...] = ()
    version: int = 1
    """The format version the files declare (the highest of them; 1 when none does)."""
    timezone: str = DEFAULT_TIMEZONE
    """The IANA zone in which `hours` are read."""
    relationships: tuple[str, ...] = ()
    """The values `context.relationship` may take."""

    def level_rank(self, level: str) -> int:
        """The rank of a level, 0 for the lowest."""
        return self.levels.index(level)


def within(valid_from: datetime | None, valid_until: datetime | None, at: datetime) -> bool:
    """True when `at` is in the window [valid_from, valid_until) (a missing bound: open)."""
    return (valid_from is None or valid_from <= at) and (valid_until is None or at < valid_until)


def parent_of(dotted_id: str) -> str | None:
    """The parent of a dotted id (`a.b` -> `a`), or None at the top."""
    head, sep, _ = dotted_id.rpartition(".")
    return head if sep else None


def ancestors_of(dotted_id: str) -> tuple[str, ...]:
    """The id and all of its dotted ancestors, nearest first (`a.b.c` -> a.b.c, a.b, a)."""
    parts = dotted_id.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts), 0, -1))
