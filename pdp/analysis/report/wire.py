"""The JSON wire form of review reports: one encoder (msgspec), one document per wire type.

    encode(finding_document(finding, acceptance))   # one `findings` item of the JSON report

`finding_document` is the one serializer of a finding (`Finding.to_dict()`
plus its acceptance); `encode` is the one JSON encoder of the reports (JSON
and SARIF). A finding of a bank's review lists thousands of permissions: its
`permissions` value comes from `permission_texts`, a cache of each
permission's JSON text per permission space (`PermissionTexts`), spliced in
as a `msgspec.Raw` fragment, the same bytes the encoder would write for the
list of mappings.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

import msgspec

from pdp.analysis.finding import Finding, Permissions, location_dict
from pdp.analysis.register import Acceptance
from pdp.analysis.space import PermissionSpace, pick
from pdp.core.queries import Permission

_ENCODER = msgspec.json.Encoder()


def encode(document: Any) -> bytes:
    """A document as compact JSON, UTF-8 (non-ASCII kept as is)."""
    return _ENCODER.encode(document)


def encode_text(document: Any) -> str:
    """`encode` as text."""
    return _ENCODER.encode(document).decode()


def indented(document: Any) -> str:
    """A small document (a report's head) as JSON indented by two spaces."""
    return msgspec.json.format(_ENCODER.encode(document), indent=2).decode()


def finding_document(finding: Finding, acceptance: Acceptance | None) -> dict[str, Any]:
    """A finding as an item of the JSON report's `findings` (see the report's schema)."""
    return {
        "kind": finding.kind,
        "rule_id": finding.rule_id,
        "subject": dict(finding.subject),
        "severity": finding.severity,
        "level": finding.level,
        "message": finding.message,
        "evidence": [list(path) for path in finding.evidence],
        "permissions": permission_texts(finding.permissions),
        "location": location_dict(finding.location),
        "fingerprint": finding.fingerprint,
        "statistics": dict(finding.statistics),
        "details": list(finding.details),
        "accepted": acceptance.to_dict() if acceptance is not None else None,
    }


class PermissionTexts:
    """The JSON text of each permission of one space, by bit, made once per space."""

    def __init__(self, space: PermissionSpace) -> None:
        self.by_bit = [_permission_text(p) for p in space.table]

    def raw(self, permissions: Permissions) -> msgspec.Raw:
        """The JSON list of a mask's permissions, in bit order."""
        texts = list(pick(self.by_bit, permissions.bits()))
        if not texts:
            return msgspec.Raw(b"[]")
        # The brackets on the first and last texts: the list is copied once, when joined.
        texts[0] = b"[" + texts[0]
        texts[-1] += b"]"
        return msgspec.Raw(b",".join(texts))


_BY_SPACE: WeakKeyDictionary[PermissionSpace, PermissionTexts] = WeakKeyDictionary()


def permission_texts(permissions: Sequence[Permission]) -> msgspec.Raw:
    """The JSON list of `{"info_class", "purpose", "action"}` mappings, from cached texts."""
    if isinstance(permissions, Permissions):
        texts = _BY_SPACE.get(permissions.space)
        if texts is None:
            texts = _BY_SPACE[permissions.space] = PermissionTexts(permissions.space)
        return texts.raw(permissions)
    return msgspec.Raw(b"[" + b",".join(map(_permission_text, permissions)) + b"]")


@lru_cache(maxsize=1 << 16)
def _permission_text(permission: Permission) -> bytes:
    c, p, a = permission
    return _ENCODER.encode({"info_class": c, "purpose": p, "action": a})
