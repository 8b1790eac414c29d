"""The policy document: what a policy file says, with where it says it.

These are plain frozen values. Ids are strings; wildcards (`*`) are kept as
written. `Policy` is the merged, validated document of one or more files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

Effect = Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class InfoClass:
    """An information class: a dotted id in the class tree, with a sensitivity level."""

    id: str
    level: str
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)

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
class User:
    """A person or service account and the roles assigned to it."""

    id: str
    roles: tuple[str, ...] = ()
    label: str = ""
    description: str = ""
    location: Location = field(default_factory=Location, compare=False)


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

    def level_rank(self, level: str) -> int:
        """The rank of a level, 0 for the lowest."""
        return self.levels.index(level)


def parent_of(dotted_id: str) -> str | None:
    """The parent of a dotted id (`a.b` -> `a`), or None at the top."""
    head, sep, _ = dotted_id.rpartition(".")
    return head if sep else None


def ancestors_of(dotted_id: str) -> tuple[str, ...]:
    """The id and all of its dotted ancestors, nearest first (`a.b.c` -> a.b.c, a.b, a)."""
    parts = dotted_id.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts), 0, -1))
