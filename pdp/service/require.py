"""Protect an application's FastAPI endpoint with one line: `Depends(require(...))`.

    app.state.pdp = AsyncPdpClient("http://127.0.0.1:8181", token=...)  # or a DecisionPoint

    @app.get("/customers/{cid}/id-number")
    async def id_number(cid: str, decision: Decision = Depends(require(
            info_class="identity.id_number", purpose="account_opening", action="use",
            user_from="x-user"))):
        ...  # only reached on allow; decision.obligations says what to apply

The subject comes from `role_from` or `user_from`: a header name, or a
function of the `Request`. The decider is `decider=` or `app.state.pdp`: an
in-process `DecisionPoint`, a `PdpClient` or an `AsyncPdpClient`, or an
`AuthzenClient` / `AsyncAuthzenClient` for any AuthZEN PDP (pdp or another;
`pdp.authzen_client.async_client_for` picks one by configuration). Deny is a
403; no subject a 403; a decision service that cannot answer a 503 — never an
allow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from pdp.authzen_client import AsyncAuthzenClient, AuthzenClient
from pdp.client import AsyncPdpClient, PdpClient, PdpClientError
from pdp.core.decision import Decision
from pdp.decision_point import DecisionPoint

Source = str | Callable[[Request], str | None]
Decider = DecisionPoint | PdpClient | AsyncPdpClient | AuthzenClient | AsyncAuthzenClient


def _read(source: Source | None, request: Request) -> str | None:
    if source is None:
        return None
    if isinstance(source, str):
        return request.headers.get(source)
    return source(request)


def require(
    *,
    info_class: str,
    purpose: str,
    action: str,
    role_from: Source | None = None,
    user_from: Source | None = None,
    consent_from: Callable[[Request], Sequence[str]] | None = None,
    decider: Decider | None = None,
) -> Callable[[Request], Awaitable[Decision]]:
    """A FastAPI dependency that allows the request or raises 403 (503 if undecidable)."""
    if (role_from is None) == (user_from is None):
        raise ValueError("give exactly one of `role_from` and `user_from`")

    async def dependency(request: Request) -> Decision:
        role, user = _read(role_from, request), _read(user_from, request)
        if not role and not user:
            raise HTTPException(403, "access denied: no subject for the access check")
        consent = list(consent_from(request)) if consent_from is not None else []
        target = decider if decider is not None else getattr(request.app.state, "pdp", None)
        args: dict[str, Any] = {
            "role": role or None,
            "user": user or None,
            "info_class": info_class,
            "purpose": purpose,
            "action": action,
        }
        try:
            if isinstance(target, DecisionPoint):
                decision = target.decide(**args, context={"consent": consent})
            elif isinstance(target, AsyncPdpClient | AsyncAuthzenClient):
                decision = await target.decide(**args, consent=consent)
            elif isinstance(target, PdpClient | AuthzenClient):
                decision = await run_in_threadpool(lambda: target.decide(**args, consent=consent))
            else:
                raise HTTPException(503, "access check unavailable: no decision point configured")
        except PdpClientError as exc:
            raise HTTPException(503, "access check unavailable; denied") from exc
        if not decision.allowed:
            raise HTTPException(403, f"access denied: {', '.join(decision.reasons)}")
        return decision

    return dependency
