"""Caller authentication: bearer tokens stored as sha256 hex, compared in constant time.

With no token configured the service is open (every caller is `anonymous`)
and the admin endpoints are off. With any token configured every endpoint but
`/healthz` and `/readyz` needs a valid one (see docs/service.md). The `admin`
scope implies every other scope.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from pdp.service.config import ServiceConfig, TokenConfig

ANONYMOUS = "anonymous"
Scope = Literal["decide", "explain", "review", "admin"]


def hash_token(token: str) -> str:
    """The sha256 hex digest of a token, the form the config file stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's name and scopes, or the anonymous caller of an open service."""

    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        """True when the caller holds `scope` (or `admin`)."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request was refused: 401 (no or unknown token) or 403 (scope or feature off)."""

    status: Literal[401, 403]
    code: str
    message: str


OPEN_CALLER = Caller(ANONYMOUS, frozenset({"decide", "explain", "review"}))


class Authenticator:
    """Checks a request's bearer token against the configured hashes."""

    def __init__(self, config: ServiceConfig) -> None:
        self._tokens: tuple[TokenConfig, ...] = config.tokens
        self.enabled = config.auth_enabled
        self.admin_enabled = config.admin_enabled

    def identify(self, authorization: str | None) -> Caller | AuthFailure:
        """The caller behind an `Authorization` header value, or why it is refused."""
        if not self.enabled:
            return OPEN_CALLER
        if not authorization:
            return AuthFailure(401, "unauthenticated", "a bearer token is required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return AuthFailure(401, "unauthenticated", "use `Authorization: Bearer <token>`")
        digest = hash_token(token.strip())
        found: TokenConfig | None = None
        for candidate in self._tokens:  # no early exit: the time does not depend on which matched
            if hmac.compare_digest(digest, candidate.sha256):
                found = candidate
        if found is None:
            return AuthFailure(401, "invalid_token", "the bearer token is not valid")
        return Caller(found.name, found.scopes)

    def authorize(self, authorization: str | None, scope: Scope | None) -> Caller | AuthFailure:
        """The caller when it may use an endpoint needing `scope` (None: any valid token)."""
        if scope == "admin" and not self.admin_enabled:
            return AuthFailure(
                403, "admin_disabled", "admin endpoints are off: configure a token with `admin`"
            )
        caller = self.identify(authorization)
        if isinstance(caller, AuthFailure) or scope is None or caller.may(scope):
            return caller
        return AuthFailure(403, "forbidden", f"this token lacks the `{scope}` scope")
