"""Protect an application's FastAPI endpoint with one line: `Depends(require(...))`.

    app.state.pdp = AsyncPdpClient("http://127.0.0.1:8181", token=...)  # or a DecisionPoint

    @app.get("/customers/{cid}/id-number")
    async def id_number(cid: str, decision: Decision = Depends(require(
            info_class="identity.id_number", purpose="account_opening", action="use",
            user_from="x-user"))):
        ...  # only reached on allow; decision.obligations says what to apply

The subject comes from `role_from` or `user_from`, the consent from
`consent_from`: a header name (consent: comma-separated), or a function of the
`Request`. Empty or absent values mean none. The rest of the request context
(`mfa`, `ticket`, `approver`, `relationship`, `records`, `customer`, `time`:
see the policy format) comes from `context_from`, a function of the `Request`
(plain or async) returning a mapping of those keys, so a route passes the
user's MFA state, a ticket or the customer relationship:

    def facts(request: Request) -> dict[str, Any]:
        session = request.state.session
        return {"mfa": session.mfa, "relationship": session.relationship_to(
            request.path_params["cid"])}

    Depends(require(..., user_from="x-user", context_from=facts))

Consent from `consent_from` is added to any `consent` that `context_from` gives.
The decider is `decider=` or `app.state.pdp`: any `pdp.decider.Decider`
(`DecisionPoint`, `PdpClient`) or `AsyncDecider` (`AsyncPdpClient`), and the
AuthZEN clients (`pdp.authzen_client`) for any AuthZEN PDP.

A deny is a 403 whose body says only `access denied` and the decision id,
with the code `access_denied`, or the one reason a caller can act on:
`consent_required` or `separate_consent_required` (ask the customer),
`mfa_required` (step up the user's authentication). The reasons go to the
`pdp.service.require` log, and into the body only with `details=True`. No
subject is a 403 too; a decision service that cannot answer, or a
`context_from` that fails, a 503 — never an allow.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from pdp.client import PdpClientError
from pdp.core.decision import (
    CONSENT_REQUIRED,
    SEPARATE_CONSENT_REQUIRED,
    UNMET,
    Decision,
)
from pdp.decider import AsyncDecider, Decider

log = logging.getLogger("pdp.service.require")

Source = str | Callable[[Request], str | None]
ConsentSource = str | Callable[[Request], Sequence[str] | None]
ContextSource = Callable[[Request], Mapping[str, Any] | Awaitable[Mapping[str, Any] | None] | None]
# The reasons a caller can act on, given as the 403's code when a deny has only that one.
ACTIONABLE = {
    CONSENT_REQUIRED: "access denied: the customer's consent is required",
    SEPARATE_CONSENT_REQUIRED: "access denied: the customer's separate consent is required",
    UNMET["mfa"]: "access denied: multi-factor authentication is required",
}


def _read(source: Source | None, request: Request) -> str | None:
    if source is None:
        return None
    value = request.headers.get(source) if isinstance(source, str) else source(request)
    return value.strip() or None if value else None


def _consent(source: ConsentSource | None, request: Request) -> list[str]:
    """The consent given with a request: its non-empty values (none when absent)."""
    if source is None:
        return []
    if isinstance(source, str):
        values: Sequence[str] | None = request.headers.get(source, "").split(",")
    else:
        values = source(request)
    return [v.strip() for v in values or () if v and v.strip()]


async def _decide(target: Decider | AsyncDecider, args: dict[str, Any]) -> Decision:
    """Ask any decider; a synchronous one runs in the thread pool (it may wait on the network)."""
    if inspect.iscoroutinefunction(target.decide):
        return await cast(AsyncDecider, target).decide(**args)
    blocking = cast(Decider, target)
    return await run_in_threadpool(lambda: blocking.decide(**args))


async def _context(
    source: ContextSource | None, consent: list[str], request: Request
) -> dict[str, Any]:
    """The request context: what `context_from` gives, with the consent of `consent_from` added."""
    given: Any = None if source is None else source(request)
    if inspect.isawaitable(given):
        given = await given
    context = dict(given or {})
    if consent:
        context["consent"] = list(dict.fromkeys([*context.get("consent", ()), *consent]))
    return context


def _denied(decision: Decision, details: bool) -> HTTPException:
    actionable = len(decision.reasons) == 1 and decision.reasons[0] in ACTIONABLE
    body: dict[str, Any] = {
        "code": decision.reasons[0] if actionable else "access_denied",
        "message": ACTIONABLE[decision.reasons[0]] if actionable else "access denied",
        "decision_id": decision.decision_id or None,
    }
    if details:
        body["reasons"] = list(decision.reasons)
    return HTTPException(403, body)


def require(
    *,
    info_class: str,
    purpose: str,
    action: str,
    role_from: Source | None = None,
    user_from: Source | None = None,
    consent_from: ConsentSource | None = None,
    context_from: ContextSource | None = None,
    decider: Decider | AsyncDecider | None = None,
    details: bool = False,
) -> Callable[[Request], Awaitable[Decision]]:
    """A FastAPI dependency that allows the request or raises 403 (503 if undecidable).

    `context_from` gives the request context (MFA, ticket, relationship...);
    `details=True` puts the deny's reasons (grant ids, codes) in the 403 body.
    """
    if (role_from is None) == (user_from is None):
        raise ValueError("give exactly one of `role_from` and `user_from`")

    async def dependency(request: Request) -> Decision:
        role, user = _read(role_from, request), _read(user_from, request)
        if role is None and user is None:
            raise HTTPException(
                403, {"code": "access_denied", "message": "access denied: no subject"}
            )
        target = decider if decider is not None else getattr(request.app.state, "pdp", None)
        if target is None:
            raise HTTPException(503, "access check unavailable: no decision point configured")
        try:
            context = await _context(context_from, _consent(consent_from, request), request)
        except Exception as exc:  # the application's own function failed: never an allow
            log.exception("access check unavailable: context_from failed; denied")
            raise HTTPException(503, "access check unavailable; denied") from exc
        args: dict[str, Any] = {
            "role": role,
            "user": user,
            "info_class": info_class,
            "purpose": purpose,
            "action": action,
            "context": context,
        }
        try:
            decision = await _decide(target, args)
        except PdpClientError as exc:
            log.warning("access check unavailable, denied: %s", exc)
            raise HTTPException(503, "access check unavailable; denied") from exc
        if not decision.allowed:
            log.info(
                "access denied: decision %s, reasons %s",
                decision.decision_id or "-",
                ", ".join(decision.reasons),
            )
            raise _denied(decision, details)
        return decision

    return dependency
