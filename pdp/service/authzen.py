"""AuthZEN Authorization API 1.0 evaluations, mapped onto pdp's own question and answer.

An AuthZEN evaluation becomes pdp's native request (`pdp.wire.DecisionRequestV1`):

    subject   {type: role | user, id}        -> role or user
    resource  {type: info_class, id}         -> info_class
              properties.customer            -> context.customer
    action    {name}                         -> action
    context   {purpose, ...}                 -> purpose; the other keys are pdp's context

The native validator (`pdp.wire`) then checks that item and the
`DecisionService` decides it exactly as for `POST /v1/decisions`: one
validator, one memo, one log record and one count per decision, whichever API
asked. The answer's `context` is the native
decision (`DecisionResponseV1`: allowed, reasons, obligations, policy version,
decision id) plus `reason_admin`, the reasons keyed by the HTTP status they
stand for, as in the specification's "reason" example (`AuthzenDecisionV1`,
encoded by `pdp.wire.encode`).

The common shape (a subject, a resource without properties, an action and a
context holding only the purpose, in a body or a boxcar) is read by one
msgspec decode into typed structs, whose ids are the native `Id` type, and
becomes the native request struct at once (`typed_evaluation`,
`typed_evaluations`). Any other body, and any body that fails there, takes
the general path (`question_of`, `evaluations_of`, `native_error`), which
maps every member and names the one at fault; both give the same request.

Unknown members are ignored, as the specification asks, except inside
`context`: its keys are pdp's request context, and one the policy format
does not know is a bad request (400), like any other invalid value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, Literal

import msgspec

from pdp.core.context import MAX_ID_LENGTH, Id, context_of
from pdp.core.decision import Decision
from pdp.errors import RequestError
from pdp.service.errors import wire_error
from pdp.wire import DecisionRequestV1, DecisionResponseV1, convert_request

SUBJECT_TYPES: Final = ("role", "user")
RESOURCE_TYPE: Final = "info_class"
PURPOSE: Final = "purpose"
CUSTOMER: Final = "customer"
ENTITIES: Final = ("subject", "action", "resource", "context")
NO_DEFAULTS: Final[Mapping[str, Any]] = {}
Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
SEMANTICS: Final[tuple[Semantic, ...]] = (
    "execute_all",
    "deny_on_first_deny",
    "permit_on_first_permit",
)
_STOP_AT: Final[dict[str, bool]] = {"deny_on_first_deny": False, "permit_on_first_permit": True}
# where each field of the native request comes from in an AuthZEN evaluation
_ORIGIN: Final = {
    "role": ("subject", "id"),
    "user": ("subject", "id"),
    "info_class": ("resource", "id"),
    "purpose": ("context", "purpose"),
    "action": ("action", "name"),
}


def at(where: str, field: str) -> str:
    """A field path inside `where` (`evaluations[2]` + `subject.id`); `where` empty: the body."""
    return f"{where}.{field}" if where else field


def place(index: int | None) -> str:
    """Where an evaluation stands: `evaluations[2]`, or the body itself (None)."""
    return "" if index is None else f"evaluations[{index}]"


def entity(value: Any, name: str, where: str) -> dict[str, Any]:
    """A required entity of an evaluation (`subject`, `resource`, `action`) as an object."""
    if type(value) is not dict:
        field = at(where, name)
        problem = "is required" if value is None else "must be a JSON object"
        raise RequestError(f"`{field}` {problem}", field)
    return value


def question_of(
    evaluation: Any, index: int | None = None, defaults: Mapping[str, Any] = NO_DEFAULTS
) -> dict[str, Any]:
    """pdp's request JSON for one AuthZEN evaluation, or raise `RequestError` (field named).

    `index` is the evaluation's place in a boxcar, whose top level gives the
    `defaults` for the members the evaluation leaves out. Only the AuthZEN
    structure is checked here; the values (ids, context) are the native
    validator's (`pdp.wire`).
    """
    if type(evaluation) is not dict:
        where = place(index) or "body"
        raise RequestError(f"`{where}` must be a JSON object", where)
    get = evaluation.get
    subject = get("subject", defaults.get("subject"))
    resource = get("resource", defaults.get("resource"))
    action = get("action", defaults.get("action"))
    context = get("context", defaults.get("context"))
    if (  # the common shape, mapped at once
        type(subject) is dict
        and type(resource) is dict
        and type(action) is dict
        and type(context) is dict
        and len(context) == 1
        and resource.get("type") == RESOURCE_TYPE
        and "properties" not in resource
    ):
        kind, subject_id = subject.get("type"), subject.get("id")
        info_class, purpose, name = resource.get("id"), context.get(PURPOSE), action.get("name")
        if (
            (kind == "role" or kind == "user")
            and subject_id is not None
            and info_class is not None
            and purpose is not None
            and name is not None
        ):
            return {kind: subject_id, "info_class": info_class, "purpose": purpose, "action": name}
    return _mapped(subject, resource, action, context, place(index))


def _mapped(subject: Any, resource: Any, action: Any, context: Any, where: str) -> dict[str, Any]:
    """`question_of` for any shape: every member checked, a missing id left to the validator."""
    subject = entity(subject, "subject", where)
    resource = entity(resource, "resource", where)
    action = entity(action, "action", where)
    kind = subject.get("type")
    if kind not in SUBJECT_TYPES:
        field = at(where, "subject.type")
        raise RequestError(f"`{field}` must be `role` or `user`", field)
    if resource.get("type") != RESOURCE_TYPE:
        field = at(where, "resource.type")
        raise RequestError(f"`{field}` must be `{RESOURCE_TYPE}`", field)
    if context is None:
        context = {}
    elif type(context) is not dict:
        field = at(where, "context")
        raise RequestError(f"`{field}` must be a JSON object", field)
    item: dict[str, Any] = {}
    for native, value in (
        (kind, subject.get("id")),
        ("info_class", resource.get("id")),
        ("purpose", context.get(PURPOSE)),
        ("action", action.get("name")),
    ):
        if value is not None:  # left out: the validator reports it missing
            item[native] = value
    rest = {k: v for k, v in context.items() if k != PURPOSE}
    properties = resource.get("properties")
    if type(properties) is dict and CUSTOMER in properties:
        customer = properties[CUSTOMER]
        if customer is not None and context_of({CUSTOMER: customer}) is None:
            # Judged here, where it is known to come from the resource: a bad
            # `context.customer` is named as such by the native validator.
            field = at(where, f"resource.properties.{CUSTOMER}")
            length = f"1 to {MAX_ID_LENGTH} characters"
            raise RequestError(f"`{field}` must be printable text, {length}", field)
        rest[CUSTOMER] = customer
    if rest:
        item["context"] = rest
    return item


def evaluations_of(body: Any) -> tuple[list[dict[str, Any]], Semantic, bool]:
    """The native items of an Access Evaluations request, its semantic, and whether it is single.

    Top-level `subject`, `action`, `resource` and `context` are defaults that
    an evaluation's own member replaces whole. Without `evaluations` (or with
    an empty list) the request is a single evaluation.
    """
    if type(body) is not dict:
        raise RequestError("the body must be a JSON object", "body")
    semantic = semantic_of(body.get("options"))
    listed = body.get("evaluations")
    if listed is None or listed == []:
        return [question_of(body)], semantic, True
    if type(listed) is not list:
        raise RequestError("`evaluations` must be a JSON array", "evaluations")
    defaults = {k: body[k] for k in ENTITIES if k in body}
    items = [question_of(e, i, defaults) for i, e in enumerate(listed)]
    return items, semantic, False


def semantic_of(options: Any) -> Semantic:
    """`options.evaluations_semantic`, `execute_all` when not given."""
    if options is None:
        return "execute_all"
    if type(options) is not dict:
        raise RequestError("`options` must be a JSON object", "options")
    semantic = options.get("evaluations_semantic", "execute_all")
    for known in SEMANTICS:
        if semantic == known:
            return known
    field = "options.evaluations_semantic"
    raise RequestError(f"`{field}` must be one of {', '.join(SEMANTICS)}", field)


def answered(allowed: Sequence[bool], semantic: Semantic) -> int:
    """How many evaluations a semantic answers: all, or up to the first deny (permit) included."""
    stop = _STOP_AT.get(semantic)
    if stop is not None:
        for i, result in enumerate(allowed):
            if result is stop:
                return i + 1
    return len(allowed)


def native_error(item: dict[str, Any], where: str = "") -> RequestError | None:
    """Why the native validator refuses an item, named by the AuthZEN field it came from."""
    try:
        convert_request(item)
    except msgspec.ValidationError as exc:
        native, message = wire_error(exc)
    else:
        return None
    if message.startswith("give exactly one of"):
        field = at(where, "subject.id")
        return RequestError(f"`{field}` is required", field)
    head = re.split(r"[.\[]", native, maxsplit=1)[0]
    origin = _ORIGIN.get(head)
    mapped = native if origin is None else ".".join(origin) + native[len(head) :]
    field = at(where, mapped)
    message = message.replace(f"`{native}`", f"`{field}`", 1)
    if message == field or not message.startswith("`"):
        message = f"`{field}`: {message}"
    return RequestError(message, field)


class AuthzenDecisionContextV1(DecisionResponseV1):
    """The native decision (`DecisionResponseV1`) plus `reason_admin`: reasons keyed by status."""

    reason_admin: dict[str, str]


class AuthzenDecisionV1(msgspec.Struct):
    """An AuthZEN decision; obligations in `context.obligations` must be applied by the PEP."""

    decision: bool
    context: AuthzenDecisionContextV1


class AuthzenDecisionsV1(msgspec.Struct):
    """The decisions of a boxcar, in request order."""

    evaluations: list[AuthzenDecisionV1]


def decision_json(decision: Decision) -> AuthzenDecisionV1:
    """The AuthZEN decision: `decision`, and the native decision as `context` (+ `reason_admin`)."""
    context = AuthzenDecisionContextV1(
        decision.allowed,
        decision.reasons,
        decision.obligations,
        decision.policy_version,
        decision.decision_id,
        _reason_admin(decision.allowed, decision.reasons),
    )
    return AuthzenDecisionV1(decision.allowed, context)


# -- the common shape, decoded at once ------------------------------------------------------


class _Subject(msgspec.Struct):
    type: str
    id: Id


class _Resource(msgspec.Struct):
    type: str
    id: Id
    properties: Any = None


class _Action(msgspec.Struct):
    name: Id


class _Purpose(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Id


class _Evaluation(msgspec.Struct):
    subject: _Subject | msgspec.UnsetType = msgspec.UNSET
    resource: _Resource | msgspec.UnsetType = msgspec.UNSET
    action: _Action | msgspec.UnsetType = msgspec.UNSET
    context: _Purpose | msgspec.UnsetType = msgspec.UNSET


class _Options(msgspec.Struct):
    evaluations_semantic: Semantic = "execute_all"


class _Evaluations(_Evaluation):
    evaluations: list[_Evaluation] | msgspec.UnsetType = msgspec.UNSET
    options: _Options | msgspec.UnsetType = msgspec.UNSET


_evaluation_decoder = msgspec.json.Decoder(_Evaluation)
_evaluations_decoder = msgspec.json.Decoder(_Evaluations)


def typed_evaluation(body: bytes) -> DecisionRequestV1 | None:
    """The native request of an Access Evaluation body of the common shape, else None."""
    try:
        return _native(_evaluation_decoder.decode(body), None)
    except (msgspec.MsgspecError, ValueError):
        return None


def typed_evaluations(body: bytes) -> tuple[list[DecisionRequestV1], Semantic, bool] | None:
    """`evaluations_of` for an Access Evaluations body of the common shape, else None."""
    try:
        top = _evaluations_decoder.decode(body)
        semantic = (
            "execute_all" if top.options is msgspec.UNSET else top.options.evaluations_semantic
        )
        if not top.evaluations:  # absent or empty: the body is the one evaluation
            return [_native(top, None)], semantic, True
        return [_native(e, top) for e in top.evaluations], semantic, False
    except (msgspec.MsgspecError, ValueError):
        return None


def _native(evaluation: _Evaluation, defaults: _Evaluation | None) -> DecisionRequestV1:
    """The native request of a typed evaluation (members left out taken from `defaults`).

    Raises `ValueError` when the evaluation is not of the common shape or the
    native request refuses it: the general path then says why.
    """
    subject, resource, action, context = (
        evaluation.subject,
        evaluation.resource,
        evaluation.action,
        evaluation.context,
    )
    if defaults is not None:
        subject = defaults.subject if subject is msgspec.UNSET else subject
        resource = defaults.resource if resource is msgspec.UNSET else resource
        action = defaults.action if action is msgspec.UNSET else action
        context = defaults.context if context is msgspec.UNSET else context
    if (
        subject is msgspec.UNSET
        or resource is msgspec.UNSET
        or action is msgspec.UNSET
        or context is msgspec.UNSET
        or resource.type != RESOURCE_TYPE
        or resource.properties is not None
    ):
        raise ValueError("not the common shape")
    if subject.type == "role":
        return DecisionRequestV1(resource.id, context.purpose, action.name, role=subject.id)
    if subject.type == "user":
        return DecisionRequestV1(resource.id, context.purpose, action.name, user=subject.id)
    raise ValueError("not the common shape")


@lru_cache(maxsize=4096)
def _reason_admin(allowed: bool, reasons: tuple[str, ...]) -> dict[str, str]:
    """The `reason_admin` member: the reasons keyed by the status they stand for (200 or 403)."""
    status, verb = ("200", "allowed by") if allowed else ("403", "denied:")
    return {status: f"{verb} {', '.join(reasons)}"}
