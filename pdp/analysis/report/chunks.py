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
from collections.abc import Sequence
from typing import Any

import msgspec

from pdp.analysis.checks.separation import ToxicHit, ToxicRule
from pdp.analysis.finding import Path, Pending, fingerprint_of, identity_listing, node
from pdp.analysis.register import Acceptance
from pdp.analysis.report.wire import encode, finding_document, permission_texts

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
        self.texts: list[bytes] = []  # the texts between the holes, a place left for each
        for text in pieces[0::3]:
            self.texts += [text, b""]
        del self.texts[-1]
        index = {name: i for i, name in enumerate(order)}
        self.slots = [index[name.decode()] for name in found]
        if set(self.slots) != set(index.values()):
            raise ValueError(f"holes {sorted(order)} not all in the document")

    def fill(self, values: Sequence[bytes]) -> bytes:
        """The document with the value of each hole (in `order`) spliced in."""
        out = self.texts.copy()
        out[1::2] = [values[slot] for slot in self.slots]
        return b"".join(out)


# The holes of a toxic finding's template, in the order `_toxic` fills them.
TOXIC_HOLES = ("subject", "level", "evidence", "permissions", "fingerprint", "statistics")


class Chunks:
    """Encodes findings, reusing the fragments they share (per rule, path and level)."""

    def __init__(self) -> None:
        self._templates: dict[tuple[ToxicRule, str], Template] = {}
        self._paths: dict[Path, bytes] = {}
        self._levels: dict[str | None, bytes] = {}

    def encode(self, entry: Pending, acceptance: Acceptance | None) -> bytes:
        """A finding as an item of the JSON report's `findings`, encoded."""
        if acceptance is None and isinstance(entry, ToxicHit):
            return self._toxic(entry)
        return encode(finding_document(entry.build(), acceptance))

    def _toxic(self, hit: ToxicHit) -> bytes:
        source, kind, ident = hit.source, hit.subject_kind, hit.subject_id
        template = self._templates.get((source, kind))
        if template is None:
            template = self._templates[(source, kind)] = toxic_template(hit)
        witnesses, counts, level, tails = source.parts(hit.assigned)
        subject = encode(ident)
        paths = self._paths
        encoded = [paths.get(t) or paths.setdefault(t, encode(t)) for t in tails]
        if kind == "user":
            start = b"[" + encode(node("user", ident)) + b","
            encoded = [start + p[1:] for p in encoded]
        listing = identity_listing(witnesses)
        fingerprint = fingerprint_of((hit.kind, hit.rule_id, kind, ident), listing)
        return template.fill(
            (
                subject[1:-1],
                self._level(level),
                b"[" + b",".join(encoded) + b"]",
                permission_texts(witnesses),
                b'"' + fingerprint.encode() + b'"',
                encode(source.statistics(counts)),
            )
        )

    def _level(self, level: str | None) -> bytes:
        found = self._levels.get(level)
        if found is None:
            found = self._levels[level] = encode(level)
        return found


def toxic_template(hit: ToxicHit) -> Template:
    """The frame of a toxic rule's findings about one kind of subject, from one finding."""
    finding = hit.source.finding(hit.subject_kind, SUBJECT, hit.assigned)
    document = finding_document(finding, None)
    holes = {name: hole(name) for name in TOXIC_HOLES if name != "subject"}
    document.update(holes)
    return Template(document, TOXIC_HOLES)
