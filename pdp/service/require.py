"""Protect an application's FastAPI endpoint with one line: `Depends(require(...))`.

    app.state.pdp = AsyncPdpClient("http://127.0.0.1:8181", token=...)  # or a DecisionPoint

    @app.get("/customers/{cid}/id-number")
    async def id_number(cid: str, decision: Decision = Depends(require(
            info_class="identity.id_number", purpose="account_opening", action="use",
            user_from="x-user"))):
        ...  # only reached on allow; decision.obligations says what to apply

The subject comes from `role_from` or `user_from`, the consent from
`consent_from`: a header name (consent: comma-separated), or a function of the
`Request`. Empty or absent values mean none. The decider is `decider=` or
`app.state.pdp`: any `pdp.decider.Decider` (`DecisionPoint`, `PdpClient`) or
`AsyncDecider` (`AsyncPdpClient`), and the AuthZEN clients
(`pdp.authzen_client`) for any AuthZEN PDP.

A deny is a 403 whose body says only `access denied` (code `access_denied`, or
`consent_required` when the customer's consent is missing) and the decision id;
the reasons go to the `pdp.service.require` log, and into the body only with
`details=True`. No subject is a 403 too; a decision service that cannot
answer a 503 — never an allow.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from pdp.client import PdpClientError
from pdp.core.decision import CONSENT_REQUIRED, Decision
from pdp.decider import AsyncDecider, Decider

log = logging.getLogger("pdp.service.require")

Source = str | Callable[[Request], str | None]
ConsentSource = str | Callable[[Request], Sequence[str] | None]


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


def _denied(decision: Decision, details: bool) -> HTTPException:
    consent = decision.reasons == (CONSENT_REQUIRED,)
    body: dict[str, Any] = {
        "code": CONSENT_REQUIRED if consent else "access_denied",
        "message": "access denied: the customer's consent is required"
        if consent
        else "access denied",
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
    decider: Decider | AsyncDecider | None = None,
    details: bool = False,
) -> Callable[[Request], Awaitable[Decision]]:
    """A FastAPI dependency that allows the request or raises 403 (503 if undecidable).

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
        args: dict[str, Any] = {
            "role": role,
            "user": user,
            "info_class": info_class,
            "purpose": purpose,
            "action": action,
            "context": {"consent": _consent(consent_from, request)},
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
