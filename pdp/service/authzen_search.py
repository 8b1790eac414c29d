"""AuthZEN search, on pdp's reverse queries, with the specification's pagination.

    subject search   who_can(class, purpose, action): the roles or the users (`subject.type`)
    resource search  permissions_of(subject): the classes held for the purpose and action
    action search    permissions_of(subject): the actions held on the class for the purpose

The purpose is `context.purpose`, as in an evaluation. Results are held
permissions (consent aside, as for `GET /v1/access`): an evaluation of a
result may still deny with `consent_required` when the request carries no
consent. An unknown id gives no results.

Pagination: results are sorted; a page holds `page.limit` results (at most
`MAX_PAGE`, `MAX_PAGE` when not given) and, while more remain, an opaque
`next_token` that encodes the next offset, the limit and a digest of the
request. A request carrying a token must repeat the first request's entities
and context (its `page.limit` may be left out, as in the specification's
example, or repeated), or it is a bad request. The last page's `next_token`
is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from pdp.decision_point import DecisionPoint
from pdp.errors import RequestError
from pdp.service.authzen import PURPOSE, RESOURCE_TYPE, SUBJECT_TYPES, entity
from pdp.wire import MAX_ID_LENGTH

MAX_PAGE: Final = 1_000
Results = list[dict[str, str]]


def identifier(value: Any, field: str) -> str:
    """An id of the request: a string of 1 to `MAX_ID_LENGTH` characters."""
    if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH:
        problem = "is required" if value is None else f"must be a string of 1-{MAX_ID_LENGTH}"
        raise RequestError(f"`{field}` {problem}", field)
    return value


def _kind(subject: dict[str, Any]) -> str:
    kind = subject.get("type")
    if kind not in SUBJECT_TYPES:
        raise RequestError("`subject.type` must be `role` or `user`", "subject.type")
    return str(kind)


def _class_type(resource: dict[str, Any]) -> None:
    if resource.get("type") != RESOURCE_TYPE:
        raise RequestError(f"`resource.type` must be `{RESOURCE_TYPE}`", "resource.type")


def _purpose(body: dict[str, Any]) -> str:
    context = body.get("context")
    if type(context) is not dict:
        raise RequestError("`context.purpose` is required", "context.purpose")
    return identifier(context.get(PURPOSE), "context.purpose")


def subjects(dp: DecisionPoint, body: dict[str, Any]) -> Results:
    """Subject search: the roles or users holding (class, purpose, action)."""
    kind = _kind(entity(body.get("subject"), "subject", ""))
    resource = entity(body.get("resource"), "resource", "")
    _class_type(resource)
    info_class = identifier(resource.get("id"), "resource.id")
    action = identifier(entity(body.get("action"), "action", "").get("name"), "action.name")
    holders = dp.who_can(info_class, _purpose(body), action)
    if holders is None:
        return []
    roles, users = holders
    return [{"type": kind, "id": s} for s in (roles if kind == "role" else users)]


def _held(body: dict[str, Any]) -> tuple[str, str]:
    subject = entity(body.get("subject"), "subject", "")
    return _kind(subject), identifier(subject.get("id"), "subject.id")


def resources(dp: DecisionPoint, body: dict[str, Any]) -> Results:
    """Resource search: the classes a subject holds for (purpose, action)."""
    kind, subject = _held(body)
    _class_type(entity(body.get("resource"), "resource", ""))
    action = identifier(entity(body.get("action"), "action", "").get("name"), "action.name")
    purpose = _purpose(body)
    held = dp.permissions_of("role" if kind == "role" else "user", subject) or []
    found = sorted({p.info_class for p in held if p.purpose == purpose and p.action == action})
    return [{"type": RESOURCE_TYPE, "id": c} for c in found]


def actions(dp: DecisionPoint, body: dict[str, Any]) -> Results:
    """Action search: the actions a subject holds on (class, purpose)."""
    kind, subject = _held(body)
    resource = entity(body.get("resource"), "resource", "")
    _class_type(resource)
    info_class = identifier(resource.get("id"), "resource.id")
    purpose = _purpose(body)
    held = dp.permissions_of("role" if kind == "role" else "user", subject) or []
    found = sorted({p.action for p in held if p.info_class == info_class and p.purpose == purpose})
    return [{"name": a} for a in found]


SEARCHES: Final[dict[str, Callable[[DecisionPoint, dict[str, Any]], Results]]] = {
    "subject": subjects,
    "resource": resources,
    "action": actions,
}


def search(dp: DecisionPoint, what: str, body: Any) -> dict[str, Any]:
    """The Search API response for `what` (subject, resource or action): page, context, results."""
    if type(body) is not dict:
        raise RequestError("the body must be a JSON object", "body")
    version = dp.version
    offset, limit = page_of(body)
    results = SEARCHES[what](dp, body)
    shown = results[offset : offset + limit]
    end = offset + len(shown)
    return {
        "page": {
            "next_token": token(end, limit, body) if end < len(results) else "",
            "count": len(shown),
            "total": len(results),
        },
        "context": {"policy_version": version},
        "results": shown,
    }


def page_of(body: dict[str, Any]) -> tuple[int, int]:
    """The offset and limit a request asks for (`page.token`, `page.limit`)."""
    page = body.get("page")
    if page is None:
        return 0, MAX_PAGE
    if type(page) is not dict:
        raise RequestError("`page` must be a JSON object", "page")
    limit = page.get("limit")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise RequestError("`page.limit` must be a non-negative integer", "page.limit")
    given = page.get("token")
    if given is None or given == "":
        return 0, MAX_PAGE if limit is None else min(limit, MAX_PAGE)
    offset, first_limit = offset_of(given, body)
    if limit is not None and min(limit, MAX_PAGE) != first_limit:
        raise RequestError(CHANGED, "page.limit")
    return offset, first_limit


CHANGED = "the request changed during pagination: repeat the first request with the token"


def digest(body: dict[str, Any]) -> str:
    """What must not change while paginating: the request but its `page`."""
    rest = {k: v for k, v in body.items() if k != "page"}
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def token(offset: int, limit: int, body: dict[str, Any]) -> str:
    """The opaque `next_token` for the page at `offset` of this request (and its limit)."""
    text = f"{offset}:{limit}:{digest(body)}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def offset_of(given: Any, body: dict[str, Any]) -> tuple[int, int]:
    """The offset and limit a `page.token` stands for; a token of another request is refused."""
    field = "page.token"
    if type(given) is not str or len(given) > 200:
        raise RequestError(f"`{field}` is not a token this service issued", field)
    try:
        text = base64.urlsafe_b64decode(given + "=" * (-len(given) % 4)).decode()
        offset_text, limit_text, signed = text.split(":")
        offset, limit = int(offset_text), int(limit_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise RequestError(f"`{field}` is not a token this service issued", field) from None
    if signed != digest(body) or not (offset >= 0 and 0 <= limit <= MAX_PAGE):
        raise RequestError(CHANGED, field)
    return offset, limit
