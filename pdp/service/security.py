"""The FastAPI side of authentication: a dependency per scope, and the OpenAPI scheme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pdp.service.auth import Authenticator, AuthFailure, Caller, Scope

bearer = HTTPBearer(auto_error=False, description="A token from the service configuration.")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def caller_with(scope: Scope | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the authenticated caller, refusing with 401/403 otherwise.

    `scope=None` accepts any valid token.
    """

    async def dependency(request: Request, credentials: Credentials) -> Caller:
        header = None if credentials is None else f"Bearer {credentials.credentials}"
        if header is None:
            header = request.headers.get("authorization")
        auth: Authenticator = request.app.state.service.auth
        result = auth.authorize(header, scope)
        if isinstance(result, AuthFailure):
            headers = None
            if result.status == 401:
                error = "invalid_token" if result.code == "invalid_token" else "invalid_request"
                headers = {"WWW-Authenticate": f'Bearer realm="pdp", error="{error}"'}
            raise HTTPException(
                result.status, {"code": result.code, "message": result.message}, headers
            )
        return result

    return dependency


Decide = Annotated[Caller, Depends(caller_with("decide"))]
Explain = Annotated[Caller, Depends(caller_with("explain"))]
Review = Annotated[Caller, Depends(caller_with("review"))]
Admin = Annotated[Caller, Depends(caller_with("admin"))]
AnyCaller = Annotated[Caller, Depends(caller_with(None))]
