"""Encoded findings assembled from shared fragments: the JSON report's fast path.

A bank's review has about a million toxic-combination findings, and most of
what each one says is said by many others: the rule's kind, id, severity,
location and message, the paths from each role to the grant behind a
witness, each witness's text. `Chunks` encodes each such fragment once and
assembles a finding's JSON text from them, without building its `Finding`:

    chunks = Chunks()
    chunks.encode(entry, acceptance)
    # the bytes of wire.encode(wire.finding_document(entry.build(), acceptance))

The frame of a rule's findings comes from `wire.finding_document` itself (a
`Template`: one finding of the rule encoded with holes where findings
differ), so the wire form has one serializer. Entries other than toxic hits,
and accepted findings, are encoded the plain way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec

from pdp.analysis.checks.separation import PatternPart, ToxicHit, ToxicRule
from pdp.analysis.finding import Fingerprints, Pending, identity_listing, node
from pdp.analysis.register import Acceptance
from pdp.analysis.report.wire import encode, finding_document, permission_texts
from pdp.core.queries import Permission

# A hole in a text value (the subject's id, which the message repeats): an encoded string
# escapes its NUL characters, so the marker cannot come from a policy's own text.
SUBJECT = "\x00subject\x00"
_HOLES = re.compile(rb"\\u0000(subject)\\u0000|\x01(\w+)\x01")


def hole(name: str) -> msgspec.Raw:
    """A hole for a whole value: bytes no encoded document holds (a raw control character)."""
    return msgspec.Raw(b"\x01" + name.encode() + b"\x01")


class Template:
    """An encoded document with named holes, filled by splicing encoded values in.

    Made from a document whose varying values are `hole(name)` (a whole
    value) or contain `SUBJECT` (text spliced inside a string, encoded
    without its quotes).
    """

    def __init__(self, document: Any, order: Sequence[str]) -> None:
        pieces = _HOLES.split(encode(document))
        found = [a or b for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]
        # The texts between the holes, `%` escaped, joined by `%s`: one formatting fills it.
        self._format = b"%s".join(text.replace(b"%", b"%%") for text in pieces[0::3])
        index = {name: i for i, name in enumerate(order)}
        slots = [index[name.decode()] for name in found]
        if set(slots) != set(index.values()):
            raise ValueError(f"holes {sorted(order)} not all in the document")
        self._pick = _picker(slots)

    def fill(self, values: Sequence[bytes | msgspec.Raw]) -> bytes:
        """The document with the value of each hole (in `order`) spliced in."""
        return self._format % self._pick(values)


def _picker(slots: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The items at these indexes as a tuple (one C call when there are two or more)."""
    if len(slots) > 1:
        return itemgetter(*slots)
    return lambda values: tuple(values[slot] for slot in slots)


class Piece(NamedTuple):
    """One pattern's part of a toxic finding (`PatternPart`), encoded."""

    witness: Permission
    path: bytes  # the path to the witness, encoded, without its brackets
    text: bytes  # the witness as an item of `permissions`
    identity: bytes  # the witness as an item of the fingerprint's listing
    matches: int
    rank: int


_WITNESS, _PATH, _TEXT, _IDENTITY, _MATCHES, _RANK = (itemgetter(i) for i in range(6))

# What the findings of one rule's subjects with the same deciding roles share (`Chunks._shared`).
Shared = tuple[int, bytes, tuple[bytes, ...]]


class Chunks:
    """Encodes findings, reusing the fragments they share.

    A toxic finding is its rule's frame (a `Template` per subject kind and
    number of witnesses) filled with the subject, its fingerprint and the
    encoded parts of its patterns (`ToxicRule.pattern_parts`, shared by
    every subject with the same acting roles: each is encoded once, as a
    `Piece`). What depends on the parts is assembled once per deciding roles
    (`ToxicRule.deciding`).
    """

    def __init__(self) -> None:
        self._frames: dict[tuple[ToxicRule, str, int], Template] = {}
        self._deciding: dict[tuple[ToxicRule, tuple[str, ...]], Shared] = {}
        self._fingerprints: dict[tuple[ToxicRule, str], Fingerprints] = {}
        self._pieces: dict[PatternPart, Piece] = {}
        self._witnesses: dict[Permission, tuple[bytes, bytes]] = {}
        self._levels: dict[tuple[ToxicRule, int], bytes] = {}
        self._counts: dict[tuple[int, ...], bytes] = {}

    def prepare(self, entries: Iterable[Pending]) -> None:
        """Assemble ahead what the toxic findings among these entries share, a rule at a time.

        The findings come sorted by subject, each of another rule: assembled
        as they come, every one reaches into another rule's parts. A rule at a
        time, what it uses stays at hand, which makes the assembly about a third
        faster. `encode` gives the same bytes with or without it.
        """
        by_rule: dict[ToxicRule, list[tuple[str, ...]]] = {}
        for entry in entries:
            if isinstance(entry, ToxicHit):
                found = by_rule.get(entry.source)
                if found is None:
                    found = by_rule[entry.source] = []
                found.append(entry.assigned)
        shared = self._deciding
        for source, sets in by_rule.items():
            deciding = source.deciding
            for assigned in sets:
                key = (source, deciding(assigned))
                if key not in shared:
                    shared[key] = self._shared(source, assigned)

    def encode(self, entry: Pending, acceptance: Acceptance | None = None) -> bytes:
        """A finding as an item of the JSON report's `findings`, encoded."""
        if acceptance is None and isinstance(entry, ToxicHit):
            return self._toxic(entry)
        return encode(finding_document(entry.build(), acceptance))

    def _toxic(self, hit: ToxicHit) -> bytes:
        source, kind = hit.source, hit.subject_kind
        key = (source, source.deciding(hit.assigned))
        shared = self._deciding.get(key)
        if shared is None:
            shared = self._deciding[key] = self._shared(source, hit.assigned)
        witnesses, listing, values = shared
        frame = self._frames.get((source, kind, witnesses))
        if frame is None:
            frame = self._frames[(source, kind, witnesses)] = toxic_template(hit, witnesses)
        fingerprints = self._fingerprints.get((source, kind))
        if fingerprints is None:
            fingerprints = Fingerprints(hit.kind, hit.rule_id, kind)
            self._fingerprints[(source, kind)] = fingerprints
        subject = encode(hit.subject_id)
        fingerprint = b'"%s"' % fingerprints.of(subject, listing).encode()
        return frame.fill((subject[1:-1], fingerprint, *values))

    def _shared(self, source: ToxicRule, assigned: tuple[str, ...]) -> Shared:
        """What the findings of subjects with these deciding roles share, encoded: the number
        of witnesses, their fingerprint listing, and the level, statistics, paths and texts."""
        pieces = self._pieces
        held = [pieces.get(p) or self._piece(p) for p in source.pattern_parts(assigned)]
        # The witnesses sorted, each once (with its first pattern's path, as `parts` does).
        if len(held) == 2:  # most rules: two patterns
            first, second = held
            if first.witness == second.witness:
                shown: Sequence[Piece] = (first,)
            else:
                shown = (first, second) if first.witness < second.witness else (second, first)
        else:
            shown = sorted({p.witness: p for p in reversed(held)}.values(), key=_WITNESS)
        counts = tuple(map(_MATCHES, held))
        statistics = self._counts.get(counts)
        if statistics is None:
            statistics = self._counts[counts] = encode(source.statistics(counts))
        rank = min(map(_RANK, held))
        level = self._levels.get((source, rank))
        if level is None:
            level = self._levels[(source, rank)] = encode(source.level_at(rank))
        values = (level, statistics, *map(_PATH, shown), *map(_TEXT, shown))
        return (len(shown), b",".join(map(_IDENTITY, shown)), values)

    def _piece(self, part: PatternPart) -> Piece:
        witness = part.witness
        texts = self._witnesses.get(witness)
        if texts is None:  # the one-item forms of the writers of lists of permissions
            text, listing = bytes(permission_texts([witness])), identity_listing([witness])
            texts = self._witnesses[witness] = (text[1:-1], listing)
        piece = Piece(witness, encode(part.tail)[1:-1], *texts, part.count, part.rank)
        self._pieces[part] = piece
        return piece


def toxic_template(hit: ToxicHit, witnesses: int) -> Template:
    """The frame of a toxic rule's findings about one kind of subject with this many
    witnesses, from one finding: holes for the subject, level, fingerprint and
    statistics, and for each witness its path (but the subject's node) and its text."""
    kind = hit.subject_kind
    finding = hit.source.finding(kind, SUBJECT, hit.assigned)
    document = finding_document(finding, None)
    start = [node("user", SUBJECT)] if kind == "user" else []
    paths = [f"path{i}" for i in range(witnesses)]
    texts = [f"text{i}" for i in range(witnesses)]
    document.update(
        {name: hole(name) for name in ("level", "fingerprint", "statistics")},
        evidence=[[*start, hole(name)] for name in paths],
        permissions=[hole(name) for name in texts],
    )
    return Template(document, ("subject", "fingerprint", "level", "statistics", *paths, *texts))
