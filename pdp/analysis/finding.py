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
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from operator import attrgetter
from typing import Any, Protocol, overload
from weakref import WeakKeyDictionary

import msgspec
import numpy as np
import numpy.typing as npt

from pdp.analysis.space import PermissionSpace, pick, set_bit_array
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
    "break_glass_grant",
    "expired_access",
    "expiring_access",
    "sensitive_without_mfa",
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
    `statistics` holds the numbers behind the finding (matches per pattern,
    an outlier's score) that its plain-words `message` leaves out; `details`
    says in a few lines what it holds (class subtree for purpose: actions).
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
    statistics: Mapping[str, Any] = field(default_factory=dict)
    details: tuple[str, ...] = ()

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
        """A stable id of the finding: kind, rule id, subject and sorted permissions, hashed.

        The SHA-256 of `json.dumps([kind, rule_id or "", subject kind, subject id,
        sorted permissions as lists], separators=(",", ":"), ensure_ascii=False)`;
        each permission's text is cached (findings list thousands).
        """
        return fingerprint_of(head(self), identity_listing(self.permissions))

    @property
    def identity(self) -> Hashable:
        """A key equal for two findings only if their fingerprints are equal (see `Pending`)."""
        return (*head(self), permissions_key(self.permissions))

    @property
    def rank(self) -> int:
        """The severity's rank, 0 for `info`."""
        return SEVERITY_RANK[self.severity]

    def build(self) -> Finding:
        """The finding itself (a finding is its own `Pending` entry)."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready mapping (the report's writer: `report.wire`)."""
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
            "statistics": dict(self.statistics),
            "details": list(self.details),
        }


def fingerprint_of(key: tuple[str, str | None, str, str], listing: bytes) -> str:
    """The fingerprint of a finding's `head` and its permissions' `identity_listing`."""
    kind, rule_id, subject_kind, subject_id = key
    return Fingerprints(kind, rule_id, subject_kind).of(COMPACT(subject_id), listing)


class Fingerprints:
    """The fingerprints of the findings of one kind, rule and subject kind.

    What they hash starts the same (`["kind","rule","user",`): it is hashed
    once, and each fingerprint hashes only the rest from a copy.
    """

    __slots__ = ("_front",)

    def __init__(self, kind: str, rule_id: str | None, subject_kind: str) -> None:
        self._front = hashlib.sha256(COMPACT([kind, rule_id or "", subject_kind])[:-1] + b",")

    def of(self, subject_id: bytes, listing: bytes) -> str:
        """The fingerprint of a subject (its id as JSON text) and an `identity_listing`."""
        digest = self._front.copy()
        if len(listing) < LONG_LISTING:
            digest.update(b"%s,[%s]]" % (subject_id, listing))
        else:  # hashed where it is, not copied
            digest.update(b"%s,[" % subject_id)
            digest.update(listing)
            digest.update(b"]]")
        return digest.hexdigest()[:32]


# Past this many bytes a listing is hashed in place (below, one joined text hashes faster).
LONG_LISTING = 4096


def identity_listing(permissions: Sequence[Permission]) -> bytes:
    """The permissions sorted, each as a compact JSON list, joined by commas, UTF-8 (what
    the fingerprint hashes)."""
    if isinstance(permissions, Permissions):
        return permissions.identity_text()
    return b",".join(map(_identity_text, sorted(permissions)))


# The fingerprint's encoder: the bytes of `json.dumps(..., separators=(",", ":"),
# ensure_ascii=False)` for lists of text (the same for every code point; tested), in C.
COMPACT = msgspec.json.Encoder().encode


class Permissions(Sequence[Permission]):
    """The permissions of a bitset of a space, as a read-only list decoded when read.

    Findings of outside-duty or top-level access list thousands of
    permissions; kept as a mask, their fingerprint (and the report's JSON,
    `report.wire`) come from per-bit texts of the space (built once per
    space) without a tuple per permission. Equal to any sequence of the same
    permissions in order.
    """

    __slots__ = ("_array", "_bits", "_decoded", "mask", "space")

    def __init__(self, space: PermissionSpace, mask: int) -> None:
        self.space = space
        self.mask = mask
        self._decoded: list[Permission] | None = None
        self._bits: list[int] | None = None
        self._array: npt.NDArray[np.intp] | None = None

    def bits(self) -> list[int]:
        """The mask's bits, lowest first (the permissions' order)."""
        if self._bits is None:
            made = self._array
            self._bits = self.space.indexes(self.mask) if made is None else made.tolist()
        return self._bits

    def array(self) -> npt.NDArray[np.intp]:
        """`bits` as an array (`set_bit_array`), made once."""
        if self._array is None:
            self._array = set_bit_array(self.mask)
        return self._array

    def _list(self) -> list[Permission]:
        if self._decoded is None:
            self._decoded = self.space.decode(self.mask)
        return self._decoded

    def __len__(self) -> int:
        return self.mask.bit_count()

    @overload
    def __getitem__(self, index: int) -> Permission: ...
    @overload
    def __getitem__(self, index: slice) -> list[Permission]: ...
    def __getitem__(self, index: int | slice) -> Permission | list[Permission]:
        return self._list()[index]

    def __iter__(self) -> Iterator[Permission]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Permissions):
            return self._list() == other._list()
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._list())

    def identity_text(self) -> bytes:
        """The permissions sorted as the fingerprint sorts them, as compact JSON lists."""
        table = _texts(self.space)
        bits = self.bits()
        if not table.in_order:
            bits = sorted(bits, key=table.rank.__getitem__)
        return b",".join(pick(table.identity, bits))


class Layout:
    """What numbers the bits of a space (its classes, purposes, actions), hashed once.

    Equal layouts give the same bit the same permission, so a mask and its
    space's layout name a set of permissions across reviews of two versions.
    """

    __slots__ = ("_hash", "key")

    def __init__(self, space: PermissionSpace) -> None:
        self.key = (tuple(space.classes), tuple(space.purposes), tuple(space.actions))
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layout):
            return NotImplemented
        return self is other or (self._hash == other._hash and self.key == other.key)


_LAYOUTS: WeakKeyDictionary[PermissionSpace, Layout] = WeakKeyDictionary()


def permissions_key(permissions: Sequence[Permission]) -> Hashable:
    """A key of a permission list: equal keys, equal sorted lists (cheap for a mask)."""
    if isinstance(permissions, Permissions):
        return mask_key(permissions.space, permissions.mask)
    return tuple(sorted(permissions))


def mask_key(space: PermissionSpace, mask: int) -> Hashable:
    """The key of `Permissions(space, mask)` without building it."""
    layout = _LAYOUTS.get(space)
    if layout is None:
        layout = _LAYOUTS[space] = Layout(space)
    return (layout, mask)


@dataclass(frozen=True)
class _SpaceTexts:
    """Per bit of a space: the permission's fingerprint text and its sort rank."""

    identity: list[bytes]
    rank: list[int]
    in_order: bool  # bit order is the sorted order: nothing to sort


_SPACE_TEXTS: WeakKeyDictionary[PermissionSpace, _SpaceTexts] = WeakKeyDictionary()


def _texts(space: PermissionSpace) -> _SpaceTexts:
    found = _SPACE_TEXTS.get(space)
    if found is None:
        table = space.table
        rank = [0] * len(table)
        for position, bit in enumerate(sorted(range(len(table)), key=table.__getitem__)):
            rank[bit] = position
        # Each id encoded once: the texts are those of `_identity_text`.
        ids = {
            i: json.dumps(i, ensure_ascii=False)
            for i in (*space.classes, *space.purposes, *space.actions)
        }
        found = _SPACE_TEXTS[space] = _SpaceTexts(
            [f"[{ids[c]},{ids[p]},{ids[a]}]".encode() for c, p, a in table],
            rank,
            all(position == bit for bit, position in enumerate(rank)),
        )
    return found


@lru_cache(maxsize=1 << 18)
def _identity_text(permission: Permission) -> bytes:
    """A permission as the compact JSON list the fingerprint hashes, UTF-8."""
    return json.dumps(list(permission), separators=(",", ":"), ensure_ascii=False).encode()


class Pending(Protocol):
    """A finding to be built on demand: what sorting and counting need, and how to build it.

    A bank's review has a million toxic-combination findings; the review keeps
    them as small entries and builds each `Finding` (message, evidence,
    permissions) when a report reads it. A `Finding` is its own entry.
    """

    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def rule_id(self) -> str | None: ...
    @property
    def subject_kind(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def level(self) -> str | None:
        """The finding's level, known without building it (the overview counts by level)."""

    @property
    def location(self) -> Location | None:
        """The finding's location, known without building it (SARIF bundles by location)."""

    @property
    def identity(self) -> Hashable:
        """A key, cheaper than the fingerprint, such that equal keys mean equal fingerprints.

        Comparing the findings of two versions (`pdp.analysis.changes`) matches
        entries by key and builds only the ones left unmatched.
        """

    def build(self) -> Finding: ...


@dataclass(frozen=True, slots=True)
class Deferred:
    """A `Pending` entry that builds its finding with a function.

    `level` and `location` are the finding's own, given by the check; `key`
    is the key of the finding's permissions (`permissions_key`), when known
    without building it; without one, `identity` builds the finding.
    """

    kind: str
    severity: str
    rule_id: str | None
    subject_kind: str
    subject_id: str
    level: str | None
    location: Location | None
    make: Callable[[], Finding]
    key: Hashable | None = None

    @property
    def identity(self) -> Hashable:
        """See `Pending.identity`."""
        if self.key is None:
            return self.make().identity
        return (*head(self), self.key)

    def build(self) -> Finding:
        """Build the finding."""
        return self.make()


def head(entry: Pending) -> tuple[str, str | None, str, str]:
    """What a fingerprint hashes besides the permissions: kind, rule id and subject."""
    return (entry.kind, entry.rule_id, entry.subject_kind, entry.subject_id)


def entry_key(entry: Pending) -> tuple[int, str, str, str, str]:
    """The order of findings: most severe first, then kind, subject and rule."""
    return (
        -SEVERITY_RANK[entry.severity],
        entry.kind,
        entry.subject_kind,
        entry.subject_id,
        entry.rule_id or "",
    )


def _ordered(entries: Iterable[Pending]) -> list[Pending]:
    """Entries in `entry_key` order (stable), sorted a severity and kind at a time.

    Within one kind the rule id is usually always set or always None: the rest
    of the key then compares with a C-level `attrgetter`.
    """
    buckets: dict[tuple[int, str], list[Pending]] = {}
    for entry in entries:
        key = (-SEVERITY_RANK[entry.severity], entry.kind)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = []
        bucket.append(entry)
    rest = attrgetter("subject_kind", "subject_id", "rule_id")
    ordered: list[Pending] = []
    for key in sorted(buckets):
        bucket = buckets[key]
        named = {e.rule_id is None for e in bucket}
        ordered.extend(sorted(bucket, key=rest if len(named) == 1 else entry_key))
    return ordered


class Findings(Sequence[Finding]):
    """The findings of a review, most severe first, each built when it is read.

    Indexing, slicing and iterating build `Finding` objects (a new one each
    time); `entries` and `count` read the pending entries without building.
    """

    def __init__(self, entries: Iterable[Pending], *, ordered: bool = False) -> None:
        self.entries: list[Pending] = list(entries) if ordered else _ordered(entries)

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> list[Finding]: ...
    def __getitem__(self, index: int | slice) -> Finding | list[Finding]:
        if isinstance(index, slice):
            return [e.build() for e in self.entries[index]]
        return self.entries[index].build()

    def __iter__(self) -> Iterator[Finding]:
        for entry in self.entries:
            yield entry.build()

    def where(self, keep: Callable[[Pending], bool]) -> Findings:
        """The findings whose entries pass a test, still in order and not built."""
        return Findings((e for e in self.entries if keep(e)), ordered=True)


def location_dict(location: Location | None) -> dict[str, Any] | None:
    """A location as `{"file", "line", "column"}`, or None when unknown."""
    if location is None or not location.file:
        return None
    return {"file": location.file, "line": location.line, "column": location.column}


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` ranks at or above `threshold`."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]
