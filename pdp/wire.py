"""The decision service's wire types, version 1: one request validator, one decision serializer.

    request = decode_request(b'{"role": "teller", "info_class": ..., ...}')
    body = encode(response_of(decision))

The service, its routes (native and AuthZEN), the client and the load tools
all read and write decisions through this module (msgspec): `decode_request`
and `decode_batch` are the only validators of a decision request, and
`response_of` + `encode` the only way a decision becomes JSON. A request is
strict and closed: unknown fields, wrong types, empty or over-long ids and ids
holding control characters are refused (`msgspec.ValidationError`, whose
message names the field: see `error_path`). The request context is the core's
`pdp.core.context.Context` (the keys of the format's "Request context"), so
the service and the in-process decision point validate it alike. No web
framework is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from pdp.core.context import (
    MAX_CONSENTS,
    MAX_ID_LENGTH,
    PRINTABLE,
    Context,
    Id,
    is_printable,
    printable,
)
from pdp.core.decision import Decision, Request, SubjectKind

__all__ = [
    "HARD_MAX_BATCH",
    "MAX_CONSENTS",
    "MAX_ID_LENGTH",
    "PRINTABLE",
    "ContextV1",
    "DecisionBatchRequestV1",
    "DecisionBatchResponseV1",
    "DecisionRequestV1",
    "DecisionResponseV1",
    "consent_of",
    "convert_request",
    "decision_of",
    "decode_batch",
    "decode_decisions",
    "decode_request",
    "encode",
    "error_path",
    "request_body",
    "request_of",
    "response_of",
]

HARD_MAX_BATCH = 10_000

ContextV1 = Context
"""The request context of a `DecisionRequestV1` (`pdp.core.context.Context`)."""


class DecisionRequestV1(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One question: may this role or user take this action on this class for this purpose?"""

    info_class: Id
    purpose: Id
    action: Id
    role: Id | None = None
    user: Id | None = None
    context: ContextV1 | None = None

    def __post_init__(self) -> None:
        if (self.role is None) == (self.user is None):
            raise ValueError("give exactly one of `role` and `user`")
        if not is_printable(
            f"{self.role or self.user}{self.info_class}{self.purpose}{self.action}"
        ):
            printable(  # name the id at fault
                role=self.role,
                user=self.user,
                info_class=self.info_class,
                purpose=self.purpose,
                action=self.action,
            )

    def decide_args(self, validated: bool = False) -> dict[str, Any]:
        """The keyword arguments of `Decider.decide` for this request.

        The context is plain data, or with `validated` the `Context` the body was
        read into, which a `DecisionPoint` takes as read, without reading it again.
        """
        context: Any = self.context
        if context is not None and not validated:
            context = msgspec.to_builtins(context)
        return {
            "role": self.role,
            "user": self.user,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "context": context,
        }


class DecisionBatchRequestV1(msgspec.Struct, forbid_unknown_fields=True):
    """Several decision requests, answered in the same order by one policy version."""

    requests: Annotated[
        list[DecisionRequestV1], msgspec.Meta(min_length=1, max_length=HARD_MAX_BATCH)
    ]


class DecisionResponseV1(msgspec.Struct):
    """The answer to one request; `decision_id` finds it in the decision log."""

    allowed: bool
    reasons: tuple[str, ...]
    obligations: tuple[str, ...]
    policy_version: str
    decision_id: str


class DecisionBatchResponseV1(msgspec.Struct):
    """The answers to a batch, in request order, all made by one policy version."""

    policy_version: str
    results: list[DecisionResponseV1]


_request_decoder = msgspec.json.Decoder(DecisionRequestV1)
_batch_decoder = msgspec.json.Decoder(DecisionBatchRequestV1)
_response_decoder = msgspec.json.Decoder(DecisionResponseV1)
_batch_response_decoder = msgspec.json.Decoder(DecisionBatchResponseV1)
encode = msgspec.json.Encoder().encode
"""JSON bytes of a wire value (a struct, or plain lists, dicts and strings)."""

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(
    r"^(?:object (?:missing required|contains unknown) field `(?P<name>[^`]*)`"
    r"|`(?P<id>[^`]*)` must be printable)"
)


def decode_request(body: bytes | str) -> DecisionRequestV1:
    """Validate a `DecisionRequestV1` body (raises `msgspec.ValidationError`/`DecodeError`)."""
    return _request_decoder.decode(body)


def convert_request(item: Any) -> DecisionRequestV1:
    """Validate a request given as parsed JSON (raises `msgspec.ValidationError`)."""
    return msgspec.convert(item, DecisionRequestV1)


def decode_batch(body: bytes | str) -> DecisionBatchRequestV1:
    """Validate a `DecisionBatchRequestV1` body (raises `msgspec.ValidationError`/`DecodeError`)."""
    return _batch_decoder.decode(body)


def error_path(error: msgspec.ValidationError) -> tuple[str, str]:
    """The field at fault in a validation error (`requests[3].role`, or `body`) and the message.

    The message is msgspec's, first letter in lower case and without its
    `- at $...` suffix.
    """
    text = str(error)
    match = _PATH.search(text)
    field = "body"
    if match is not None:
        field = match.group("path").lstrip(".") or "body"
        text = text[: match.start()]
    text = text[:1].lower() + text[1:]
    named = _NAMED.search(text)
    if named is not None:
        name = named["name"] or named["id"]
        field = name if field == "body" else f"{field}.{name}"
    return field, text


def request_of(request: DecisionRequestV1) -> Request:
    """The core `Request` of a validated wire request."""
    kind: SubjectKind = "role" if request.user is None else "user"
    subject = request.role if request.user is None else request.user
    context = {} if request.context is None else msgspec.to_builtins(request.context)
    return Request(
        kind, subject or "", request.info_class, request.purpose, request.action, context
    )


def response_of(decision: Decision) -> DecisionResponseV1:
    """The wire form of a decision (its `decision_id` included)."""
    return DecisionResponseV1(
        decision.allowed,
        decision.reasons,
        decision.obligations,
        decision.policy_version,
        decision.decision_id,
    )


def decision_of(response: DecisionResponseV1) -> Decision:
    """The core `Decision` of a wire response."""
    return Decision(
        response.allowed,
        tuple(response.reasons),
        tuple(response.obligations),
        response.policy_version,
        response.decision_id,
    )


def decode_decisions(body: bytes, many: bool) -> list[Decision]:
    """The decisions of a `DecisionResponseV1` (or batch) body (raises `msgspec.MsgspecError`)."""
    if many:
        return [decision_of(r) for r in _batch_response_decoder.decode(body).results]
    return [decision_of(_response_decoder.decode(body))]


def request_body(
    *,
    info_class: str,
    purpose: str,
    action: str,
    role: str | None = None,
    user: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `DecisionRequestV1` JSON of `Decider.decide`'s arguments.

    Empty values mean none: an empty `role` or `user` is left out, and so are
    empty consent entries (an absent consent header gives no consent, not `""`)
    and other context keys whose value is `None`. A `datetime` time becomes
    its ISO 8601 text; the service validates the rest.
    """
    body: dict[str, Any] = {"info_class": info_class, "purpose": purpose, "action": action}
    if role:
        body["role"] = role
    if user:
        body["user"] = user
    given = msgspec.to_builtins(dict(context or {}))
    given["consent"] = consent_of(given)
    given = {k: v for k, v in given.items() if v is not None and v != []}
    if given:
        body["context"] = given
    return body


def consent_of(context: Mapping[str, Any] | None) -> list[str]:
    """The non-empty consent entries of a request context."""
    given: Any = (context or {}).get("consent") or ()
    return [c for c in given if c]
