"""The user-permission relation UP that role mining covers, and its readers.

Three sources: the HP Labs text format (one `user permission` pair a line),
the `.ass` matrix format of the university dataset, and a pdp policy (every
user's held permissions, named `class:purpose:action`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pdp.core.compile import CompiledPolicy
from pdp.errors import Location, RelationError


@dataclass(frozen=True)
class UserPermissions:
    """A user-permission relation: each user's exact set of permissions."""

    assignments: Mapping[str, frozenset[str]]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> UserPermissions:
        """Build the relation from (user, permission) pairs; duplicates are ignored."""
        sets: dict[str, set[str]] = {}
        for user, permission in pairs:
            sets.setdefault(user, set()).add(permission)
        return cls({u: frozenset(p) for u, p in sets.items()})

    @property
    def users(self) -> list[str]:
        """The users, sorted naturally (numeric ids in numeric order)."""
        return sorted(self.assignments, key=natural_key)

    @property
    def permissions(self) -> list[str]:
        """Every permission some user holds, sorted naturally."""
        return sorted({p for ps in self.assignments.values() for p in ps}, key=natural_key)

    @property
    def edges(self) -> int:
        """The number of (user, permission) pairs."""
        return sum(len(p) for p in self.assignments.values())


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders `u2` before `u10` and `2` before `10`."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def parse_up_text(text: str, name: str = "<up>") -> UserPermissions:
    """Parse the HP format: one `user permission` pair a line; `#` starts a comment."""
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise RelationError(
                f"expected `user permission`, got `{raw.strip()}`", Location(name, number, 1)
            )
        pairs.append((fields[0], fields[1]))
    return UserPermissions.from_pairs(pairs)


def read_up_file(path: Path) -> UserPermissions:
    """Read a user-permission file: `.ass` matrix format by suffix, else the HP pair format."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RelationError(f"cannot read `{path}`: {exc}") from exc
    if path.suffix == ".ass":
        return parse_ass_text(text, str(path))
    return parse_up_text(text, str(path))


_DIMENSION = re.compile(r"@dimension\s+(\w+)\s*\{(.*)\}\s*$")


def parse_ass_text(text: str, name: str = "<ass>") -> UserPermissions:
    """Parse the `.ass` format: user and permission name lists, then a 0/1 matrix a user a row."""
    names: dict[str, list[str]] = {}
    rows: list[tuple[int, str]] = []
    in_matrix = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("@"):
            in_matrix = line == "@matrix"
            match = _DIMENSION.match(line)
            if match:
                names[match.group(1)] = [n.strip() for n in match.group(2).split(",")]
            continue
        if in_matrix:
            rows.append((number, line))
    users, permissions = names.get("user"), names.get("permission")
    if users is None or permissions is None:
        raise RelationError("missing `@dimension user` or `@dimension permission`", None)
    if len(rows) != len(users):
        raise RelationError(f"{len(users)} users but {len(rows)} matrix rows", None)
    assignments: dict[str, frozenset[str]] = {}
    for user, (number, row) in zip(users, rows, strict=True):
        cells = [c.strip() for c in row.split(",")]
        if len(cells) != len(permissions) or any(c not in ("0", "1") for c in cells):
            raise RelationError(
                f"expected {len(permissions)} comma-separated 0/1 cells", Location(name, number, 1)
            )
        assignments[user] = frozenset(
            p for p, c in zip(permissions, cells, strict=True) if c == "1"
        )
    return UserPermissions(assignments)


def policy_permission(info_class: str, purpose: str, action: str) -> str:
    """The name of a pdp permission in a mined relation: `class:purpose:action`."""
    return f"{info_class}:{purpose}:{action}"


def relation_from_policy(compiled: CompiledPolicy) -> UserPermissions:
    """Every declared user's held permissions (rules 1-4 of the spec) as a relation."""
    from pdp.core.queries import held_permissions

    return UserPermissions(
        {
            user: frozenset(
                policy_permission(h.info_class, h.purpose, h.action)
                for h in held_permissions(compiled, compiled.user_closure[user])
            )
            for user in compiled.policy.users
        }
    )
