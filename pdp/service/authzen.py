"""AuthZEN Authorization API 1.0 evaluations, mapped onto pdp's own question and answer.

An AuthZEN evaluation becomes pdp's native request JSON (`DecisionRequestV1`):

    subject   {type: role | user, id}        -> role or user
    resource  {type: info_class, id}         -> info_class
              properties.customer            -> context.customer
    action    {name}                         -> action
    context   {purpose, ...}                 -> purpose; the other keys are pdp's context

The `Decider` then validates and decides that item exactly as it does for
`POST /v1/decisions`: one validator, one memo, one log record and one count
per decision, whichever API asked. The answer's `context` is the native
decision (`DecisionResponseV1`: allowed, reasons, obligations, policy version,
decision id) plus `reason_admin`, the reasons keyed by the HTTP status they
stand for, as in the specification's "reason" example.

Unknown members are ignored, as the specification asks, except inside
`context`: its keys are pdp's request context, and one the policy format
does not know is a bad request (400), like any other invalid value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final, Literal

from pydantic import ValidationError

from pdp.core.decision import Decision
from pdp.errors import RequestError
from pdp.service.deciding import Answer
from pdp.service.errors import describe
from pdp.service.schemas import DecisionRequestV1

SUBJECT_TYPES: Final = ("role", "user")
RESOURCE_TYPE: Final = "info_class"
PURPOSE: Final = "purpose"
CUSTOMER: Final = "customer"
ENTITIES: Final = ("subject", "action", "resource", "context")
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


def entity(evaluation: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """A required entity of an evaluation (`subject`, `resource`, `action`) as an object."""
    value = evaluation.get(name)
    if type(value) is not dict:
        field = at(where, name)
        problem = "is required" if value is None else "must be a JSON object"
        raise RequestError(f"`{field}` {problem}", field)
    return value


def question_of(evaluation: Any, where: str = "") -> dict[str, Any]:
    """pdp's request JSON for one AuthZEN evaluation, or raise `RequestError` (field named).

    Only the AuthZEN structure is checked here; the values (ids, context) are
    the native validator's, in the `Decider`.
    """
    if type(evaluation) is not dict:
        raise RequestError(f"`{where or 'body'}` must be a JSON object", where or "body")
    subject = entity(evaluation, "subject", where)
    resource = entity(evaluation, "resource", where)
    action = entity(evaluation, "action", where)
    kind = subject.get("type")
    if kind not in SUBJECT_TYPES:
        field = at(where, "subject.type")
        raise RequestError(f"`{field}` must be `role` or `user`", field)
    if resource.get("type") != RESOURCE_TYPE:
        field = at(where, "resource.type")
        raise RequestError(f"`{field}` must be `{RESOURCE_TYPE}`", field)
    context = evaluation.get("context")
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
        rest[CUSTOMER] = properties[CUSTOMER]
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
    items = []
    for i, evaluation in enumerate(listed):
        where = f"evaluations[{i}]"
        if type(evaluation) is not dict:
            raise RequestError(f"`{where}` must be a JSON object", where)
        items.append(question_of({**defaults, **evaluation}, where))
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
        DecisionRequestV1.model_validate(item)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
    else:
        return None
    loc = tuple(error.get("loc", ()))
    if error["type"] == "one_subject":
        field = at(where, "subject.id")
        return RequestError(f"`{field}` is required", field)
    if loc[:2] == ("context", CUSTOMER):
        loc = ("resource", "properties", *loc[1:])
    elif loc and loc[0] in _ORIGIN:
        loc = (*_ORIGIN[str(loc[0])], *loc[1:])
    _, _, field, message = describe({**error, "loc": ("body", *loc)})
    field = at(where, field)
    if where:
        message = message.replace(f"`{field[len(where) + 1 :]}`", f"`{field}`", 1)
    return RequestError(message, field)


def decision_json(answer: Answer, decision_id: str) -> str:
    """The AuthZEN decision of an answer: `decision`, and the native decision as `context`."""
    decision = answer.decision
    native = answer.response_json(decision_id)[:-1]
    return f'{{"decision":{_flag(decision)},"context":{native},{_reason(decision)}}}}}'


def _flag(decision: Decision) -> str:
    return "true" if decision.allowed else "false"


def _reason(decision: Decision) -> str:
    return _reason_admin(decision.allowed, decision.reasons)


@lru_cache(maxsize=4096)
def _reason_admin(allowed: bool, reasons: tuple[str, ...]) -> str:
    """The `reason_admin` member: the reasons keyed by the status they stand for (200 or 403)."""
    status, verb = ("200", "allowed by") if allowed else ("403", "denied:")
    text = json.dumps({status: f"{verb} {', '.join(reasons)}"}, ensure_ascii=False)
    return f'"reason_admin":{text}'
