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
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec

from pdp.analysis.checks.separation import PatternPart, ToxicHit, ToxicRule
from pdp.analysis.finding import Fingerprints, Pending, identity_listing
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


# The holes of a toxic finding's template, in the order `_toxic` fills them.
TOXIC_HOLES = ("subject", "level", "evidence", "permissions", "fingerprint", "statistics")


class Encoded(NamedTuple):
    """A toxic finding's parts (`ToxicRule.parts`) encoded, but for the subject."""

    level: bytes
    evidence: bytes  # a role's paths to the witnesses
    user_evidence: bytes  # a user's: each path opens with `USER`, for `["user:<id>",`
    permissions: msgspec.Raw
    listing: bytes  # the permissions' `identity_listing`, as the fingerprint hashes it
    statistics: bytes


class Piece(NamedTuple):
    """One pattern's part of a toxic finding (`PatternPart`), encoded."""

    witness: Permission
    tail: bytes  # the path to the witness
    user_tail: bytes  # the same, opening with `USER`
    text: bytes  # the witness as an item of `permissions`
    identity: bytes  # the witness as an item of the fingerprint's listing
    matches: int
    rank: int


_TAIL, _USER_TAIL, _TEXT, _IDENTITY = (itemgetter(i) for i in range(1, 5))  # fields of `Piece`

# Where a user's node opens a path of `Encoded.user_evidence` (no encoded text holds it).
USER = b"\x02"


class Chunks:
    """Encodes findings, reusing the fragments they share.

    A toxic finding is assembled from the encoded parts of its patterns
    (`ToxicRule.pattern_parts`, each encoded once), and depends only on its
    subject's deciding roles (`ToxicRule.deciding`): it is assembled once for
    every subject with the same deciding roles, but for the subject.
    """

    def __init__(self) -> None:
        self._frames: dict[tuple[ToxicRule, str], tuple[Template, Fingerprints]] = {}
        self._deciding: dict[tuple[ToxicRule, tuple[str, ...]], Encoded] = {}
        self._pieces: dict[PatternPart, Piece] = {}
        self._witnesses: dict[Permission, tuple[bytes, bytes]] = {}
        self._levels: dict[tuple[ToxicRule, int], bytes] = {}
        self._counts: dict[tuple[int, ...], bytes] = {}

    def encode(self, entry: Pending, acceptance: Acceptance | None) -> bytes:
        """A finding as an item of the JSON report's `findings`, encoded."""
        if acceptance is None and isinstance(entry, ToxicHit):
            return self._toxic(entry)
        return encode(finding_document(entry.build(), acceptance))

    def _toxic(self, hit: ToxicHit) -> bytes:
        source, kind = hit.source, hit.subject_kind
        frame = self._frames.get((source, kind))
        if frame is None:
            frame = self._frames[(source, kind)] = (
                toxic_template(hit),
                Fingerprints(hit.kind, hit.rule_id, kind),
            )
        template, fingerprints = frame
        key = (source, source.deciding(hit.assigned))
        parts = self._deciding.get(key)
        if parts is None:
            parts = self._deciding[key] = self._encoded(source, hit.assigned)
        subject = encode(hit.subject_id)
        if kind == "user":  # the node `user:<id>` encoded: the id's text escaped as in `subject`
            evidence = parts.user_evidence.replace(USER, b'["user:%s,' % subject[1:])
        else:
            evidence = parts.evidence
        return template.fill(
            (
                subject[1:-1],
                parts.level,
                evidence,
                parts.permissions,
                b'"' + fingerprints.of(subject, parts.listing).encode() + b'"',
                parts.statistics,
            )
        )

    def _encoded(self, source: ToxicRule, assigned: tuple[str, ...]) -> Encoded:
        """`ToxicRule.parts` encoded, from the encoded parts of each pattern."""
        pieces = self._pieces
        held = [pieces.get(p) or self._piece(p) for p in source.pattern_parts(assigned)]
        first: dict[Permission, Piece] = {}
        for piece in held:
            first.setdefault(piece.witness, piece)
        shown = [first[w] for w in sorted(first)]
        counts = tuple(piece.matches for piece in held)
        statistics = self._counts.get(counts)
        if statistics is None:
            statistics = self._counts[counts] = encode(source.statistics(counts))
        rank = min(piece.rank for piece in held)
        level = self._levels.get((source, rank))
        if level is None:
            level = self._levels[(source, rank)] = encode(source.level_at(rank))
        return Encoded(
            level,
            b"[%s]" % b",".join(map(_TAIL, shown)),
            b"[%s]" % b",".join(map(_USER_TAIL, shown)),
            msgspec.Raw(b"[%s]" % b",".join(map(_TEXT, shown))),
            b",".join(map(_IDENTITY, shown)),
            statistics,
        )

    def _piece(self, part: PatternPart) -> Piece:
        witness = part.witness
        texts = self._witnesses.get(witness)
        if texts is None:  # the one-item forms of the writers of lists of permissions
            text, listing = bytes(permission_texts([witness])), identity_listing([witness])
            texts = self._witnesses[witness] = (text[1:-1], listing.encode())
        tail = encode(part.tail)
        piece = Piece(witness, tail, USER + tail[1:], *texts, part.count, part.rank)
        self._pieces[part] = piece
        return piece


def toxic_template(hit: ToxicHit) -> Template:
    """The frame of a toxic rule's findings about one kind of subject, from one finding."""
    finding = hit.source.finding(hit.subject_kind, SUBJECT, hit.assigned)
    document = finding_document(finding, None)
    holes = {name: hole(name) for name in TOXIC_HOLES if name != "subject"}
    document.update(holes)
    return Template(document, TOXIC_HOLES)
