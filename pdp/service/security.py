"""The FastAPI side of authentication: the scope check, a dependency per scope, the scheme.

The decision endpoints call `authorize` inline (no dependency resolution on
the hot path); the other endpoints use the `Decide`/`Review`/... dependencies.
Both document the same `HTTPBearer` scheme in OpenAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pdp.service.auth import Authenticator, AuthFailure, Caller, Scope

SCHEME = "HTTPBearer"
bearer = HTTPBearer(auto_error=False, description="A token from the service configuration.")
SECURED: dict[str, Any] = {"security": [{SCHEME: []}]}

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def refusal(failure: AuthFailure) -> HTTPException:
    """The HTTP error of a refused request (401 with a Bearer challenge, or 403)."""
    headers = None
    if failure.status == 401:
        error = "invalid_token" if failure.code == "invalid_token" else "invalid_request"
        headers = {"WWW-Authenticate": f'Bearer realm="pdp", error="{error}"'}
    detail = {"code": failure.code, "message": failure.message}
    return HTTPException(failure.status, detail, headers)


def authorize(request: Request, scope: Scope | None) -> Caller:
    """The caller of a request holding `scope` (None: any valid token), or raise 401/403."""
    auth: Authenticator = request.app.state.service.auth
    result = auth.authorize(request.headers.get("authorization"), scope)
    if isinstance(result, AuthFailure):
        raise refusal(result)
    return result


def caller_with(scope: Scope | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the authenticated caller, refusing with 401/403 otherwise."""

    async def dependency(request: Request, credentials: Credentials) -> Caller:
        return authorize(request, scope)

    return dependency


Review = Annotated[Caller, Depends(caller_with("review"))]
Admin = Annotated[Caller, Depends(caller_with("admin"))]
AnyCaller = Annotated[Caller, Depends(caller_with(None))]
