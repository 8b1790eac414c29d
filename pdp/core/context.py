"""The request context: what a request brings besides its ids, and the one validator of it.

    context = context_of({"consent": ["marketing"], "mfa": True, "records": 3})

`Context` is a closed msgspec struct: a key the format does not define, or a
value of the wrong type, is refused. `pdp.wire` reads the service's request
bodies into it, and `context_of` reads an in-process mapping the same way,
so the two can never disagree. Whether `relationship` is one the policy
declares is the decision's business (`invalid_context`), not the validator's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

import msgspec

__all__ = [
    "EMPTY_CONTEXT",
    "MAX_CONSENTS",
    "MAX_ID_LENGTH",
    "MAX_RECORDS",
    "PRINTABLE",
    "Context",
    "Id",
    "consent_context",
    "context_of",
    "is_printable",
    "plain_context",
    "printable",
]

MAX_ID_LENGTH = 256
MAX_CONSENTS = 64
MAX_RECORDS = 2**53  # JSON's largest exact integer
# Printable text: no C0/C1 control characters, DEL, line or paragraph separators,
# or bidirectional overrides (they would rewrite what a terminal or a log viewer shows).
# The schema states it as a pattern; `printable` checks it (Python's `$` would let
# a final newline through a pattern).
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

Id = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="An id of the policy: printable text, 1 to 256 characters.",
        extra_json_schema={"pattern": PRINTABLE},
    ),
]
Text = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="Printable text, 1 to 256 characters.",
        extra_json_schema={"pattern": PRINTABLE},
    ),
]


def is_printable(text: str) -> bool:
    """True when `text` holds no control character (one search: ids may be checked joined)."""
    return _CONTROL.search(text) is None


def printable(**ids: str | None) -> None:
    """Raise `ValueError` naming the first id that holds a control character."""
    if is_printable("".join([v for v in ids.values() if v])):
        return  # one search for the usual case; naming the id takes one per id
    for name, value in ids.items():
        if value is not None and _CONTROL.search(value):
            raise ValueError(f"`{name}` must be printable text (no control characters)")


class Context(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """The request context: consent, step-up and dual-control facts, scope and time.

    No customer data: `customer` is an opaque reference, which the decision
    log keeps only as a keyed hash.
    """

    consent: Annotated[
        list[Id],
        msgspec.Meta(
            max_length=MAX_CONSENTS, description="The purposes the customer consented to."
        ),
    ] = []
    mfa: Annotated[
        bool, msgspec.Meta(description="The user passed multi-factor authentication.")
    ] = False
    ticket: (
        Annotated[Text, msgspec.Meta(description="The ticket (change, case) of the access.")] | None
    ) = None
    approver: (
        Annotated[
            Id,
            msgspec.Meta(description="The user id of the second person who approved the access."),
        ]
        | None
    ) = None
    relationship: (
        Annotated[Id, msgspec.Meta(description="The requester's relationship to the customer.")]
        | None
    ) = None
    records: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=MAX_RECORDS, description="How many customers' records the action touches."
        ),
    ] = 1
    time: (
        Annotated[
            datetime, msgspec.Meta(tz=True, description="The time of the request (default: now).")
        ]
        | None
    ) = None
    customer: (
        Annotated[Text, msgspec.Meta(description="An opaque reference to the customer concerned.")]
        | None
    ) = None

    def __post_init__(self) -> None:
        search = _CONTROL.search
        for n, c in enumerate(self.consent):
            if search(c):
                printable(**{f"consent[{n}]": c})
        for name in ("ticket", "approver", "relationship", "customer"):
            value = getattr(self, name)
            if value is not None and search(value):
                printable(**{name: value})

    def approved_for(self, subject_kind: str, subject: str) -> bool:
        """True when a second person approved: an approver other than the requesting user."""
        return self.approver is not None and (subject_kind != "user" or self.approver != subject)


EMPTY_CONTEXT = Context()


@lru_cache(maxsize=4096)
def consent_context(consent: tuple[str, ...]) -> Context | None:
    """A context of consent alone (the in-process fast path), or None when it is invalid.

    Validated as every context is (`context_of`), so the fast path refuses what
    the service and `decide` refuse (an empty or overlong id, a control
    character, more than `MAX_CONSENTS`); the few distinct consent lists are
    validated once each (a context is never changed).
    """
    if not consent:
        return EMPTY_CONTEXT
    return context_of({"consent": list(consent)})


def context_of(context: Any) -> Context | None:
    """The `Context` of an in-process mapping (None or `{}` for none), or None when invalid."""
    if context is None:
        return EMPTY_CONTEXT
    if isinstance(context, Context):
        return context
    if not isinstance(context, Mapping):
        return None
    if not context:
        return EMPTY_CONTEXT
    try:
        return msgspec.convert(context if type(context) is dict else dict(context), Context)
    except (msgspec.ValidationError, ValueError, TypeError):
        return None


_PLAIN_KEYS = frozenset(("consent", "mfa", "ticket", "approver", "relationship", "records"))


def _text(value: Any) -> bool:
    return value is None or (type(value) is str and 0 < len(value) <= MAX_ID_LENGTH)


def plain_context(context: Any) -> Context | None:
    """The `Context` of a plain dict of the usual keys, read without msgspec; else None.

    The decision point's fast path: a `dict` holding only consent, mfa,
    ticket, approver, relationship and records, every value of its exact
    type and within its bounds, is read as `context_of` reads it. Anything
    else (another key, `time`, `customer`, a subclass, a value out of
    bounds, a control character) gives None, and `context_of` judges it.
    """
    if type(context) is not dict or not context.keys() <= _PLAIN_KEYS:
        return None
    get = context.get
    consent = get("consent", [])
    mfa = get("mfa", False)
    records = get("records", 1)
    ticket, approver, relationship = get("ticket"), get("approver"), get("relationship")
    if (
        type(consent) is not list
        or len(consent) > MAX_CONSENTS
        or type(mfa) is not bool
        or type(records) is not int
        or not 1 <= records <= MAX_RECORDS
        or not (_text(ticket) and _text(approver) and _text(relationship))
    ):
        return None
    for c in consent:
        if type(c) is not str or not 0 < len(c) <= MAX_ID_LENGTH:
            return None
    try:
        return Context(consent, mfa, ticket, approver, relationship, records)
    except ValueError:  # a control character: `context_of` names it
        return None
