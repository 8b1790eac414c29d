"""A Python client of any AuthZEN Authorization API 1.0 PDP, sync and async (httpx).

    with AuthzenClient("https://pdp.example.com", token="...") as pdp:
        d = pdp.decide(role="teller", info_class="identity.id_number",
                       purpose="account_opening", action="use")
        if d.allowed: ...

It asks pdp's question in AuthZEN terms (`AuthzenMapping` says how: by
default subject type `role`/`user`, resource type `info_class`, the purpose
in `context.purpose`, as pdp's own AuthZEN endpoints expect) and returns the
core `Decision` (`AuthzenClient` is a `pdp.decider.Decider`,
`AsyncAuthzenClient` an `AsyncDecider`). From pdp, the decision carries
reasons, obligations, policy version and decision id (the answer's
`context`); from another PDP whatever of those its `context` holds, else
empty. Anything but `"decision": true` is
a deny; errors (unreachable, a 4xx or 5xx, a malformed answer) raise
`PdpClientError` — treat them as a deny.

With `discover=True` the client reads the PDP's metadata
(`/.well-known/authzen-configuration`) once and uses the endpoints it names;
metadata naming another PDP is refused. `client_for` / `async_client_for`
choose the native or the AuthZEN client by configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from pdp.client import AsyncPdpClient, PdpClient, PdpClientError
from pdp.client import _error_of as error_of
from pdp.core.decision import Decision

__all__ = [
    "AsyncAuthzenClient",
    "AuthzenClient",
    "AuthzenMapping",
    "async_client_for",
    "client_for",
]

METADATA = "/.well-known/authzen-configuration"
DEFAULT_PATHS = {
    "access_evaluation_endpoint": "/access/v1/evaluation",
    "access_evaluations_endpoint": "/access/v1/evaluations",
}
BOXCAR_SIZE = 1_000  # pdp's default `limits.max_batch`
Protocol = Literal["native", "authzen"]


@dataclass(frozen=True, slots=True)
class AuthzenMapping:
    """How pdp's question is written in AuthZEN: entity types and the context key of the purpose."""

    role_type: str = "role"
    user_type: str = "user"
    resource_type: str = "info_class"
    purpose_key: str = "purpose"

    def evaluation(
        self,
        role: str | None,
        user: str | None,
        info_class: str,
        purpose: str,
        action: str,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The AuthZEN evaluation of a request (`context`: pdp's request context)."""
        if (role is None) == (user is None):
            raise ValueError("give exactly one of `role` and `user`")
        subject = (
            {"type": self.role_type, "id": role}
            if role is not None
            else {"type": self.user_type, "id": user}
        )
        return {
            "subject": subject,
            "resource": {"type": self.resource_type, "id": info_class},
            "action": {"name": action},
            "context": {**(context or {}), self.purpose_key: purpose},
        }


def decision_of(data: Any) -> Decision:
    """A `Decision` from an AuthZEN decision (raises `PdpClientError` when malformed)."""
    if type(data) is not dict or type(data.get("decision")) is not bool:
        raise PdpClientError("malformed decision from the AuthZEN PDP: no boolean `decision`")
    context = data.get("context")
    context = context if type(context) is dict else {}
    return Decision(
        data["decision"],
        _strings(context.get("reasons")),
        _strings(context.get("obligations")),
        str(context.get("policy_version", "")),
        str(context.get("decision_id", "")),
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if type(value) is list else ()


def question(
    role: str | None,
    user: str | None,
    info_class: str,
    purpose: str,
    action: str,
    context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A request as a mapping of `decide_many`'s keys."""
    return {
        "role": role,
        "user": user,
        "info_class": info_class,
        "purpose": purpose,
        "action": action,
        "context": context,
    }


def _answers(response: httpx.Response, many: bool) -> list[Decision]:
    if response.status_code != 200:
        raise error_of(response)
    try:
        data = response.json()
        items = data["evaluations"] if many else [data]
    except (ValueError, KeyError, TypeError):
        raise PdpClientError("malformed response from the AuthZEN PDP") from None
    if type(items) is not list:
        raise PdpClientError("malformed response from the AuthZEN PDP: `evaluations`")
    return [decision_of(item) for item in items]


def endpoints_of(base_url: str, response: httpx.Response) -> dict[str, str]:
    """The endpoints named by a metadata response, checked to be this PDP's."""
    if response.status_code != 200:
        raise error_of(response)
    try:
        data = response.json()
        named = str(data["policy_decision_point"]).rstrip("/")
    except (ValueError, KeyError, TypeError):
        raise PdpClientError("malformed AuthZEN metadata") from None
    if named != base_url.rstrip("/"):
        raise PdpClientError(f"the AuthZEN metadata names another PDP: `{named}`")
    found = dict(DEFAULT_PATHS)
    found.update({k: str(data[k]) for k in DEFAULT_PATHS if type(data.get(k)) is str})
    if "access_evaluations_endpoint" not in data:
        del found["access_evaluations_endpoint"]
    return found


class _Base:
    """What the sync and async clients share: headers, mapping, endpoints and bodies."""

    def __init__(
        self, base_url: str, token: str | None, mapping: AuthzenMapping | None, discover: bool
    ) -> None:
        self.base_url = base_url
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.mapping = mapping or AuthzenMapping()
        self.endpoints: dict[str, str] | None = None if discover else dict(DEFAULT_PATHS)

    def _bodies(self, requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [
            self.mapping.evaluation(
                r.get("role"),
                r.get("user"),
                r["info_class"],
                r["purpose"],
                r["action"],
                r.get("context"),
            )
            for r in requests
        ]

    def _calls(self, bodies: list[dict[str, Any]]) -> list[tuple[str, Any, bool]]:
        """The calls (url, body, boxcar?) that decide `bodies` in order."""
        assert self.endpoints is not None
        boxcars = self.endpoints.get("access_evaluations_endpoint")
        if len(bodies) == 1 or boxcars is None:
            return [(self.endpoints["access_evaluation_endpoint"], b, False) for b in bodies]
        return [
            (boxcars, {"evaluations": bodies[s : s + BOXCAR_SIZE]}, True)
            for s in range(0, len(bodies), BOXCAR_SIZE)
        ]


class AuthzenClient(_Base):
    """A synchronous client of an AuthZEN PDP."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        mapping: AuthzenMapping | None = None,
        discover: bool = False,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, mapping, discover)
        self.http = httpx.Client(
            base_url=base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def _send(self, method: str, url: str, body: Any = None) -> httpx.Response:
        try:
            return self.http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise PdpClientError(f"AuthZEN PDP unreachable: {exc}") from None

    def decide(
        self,
        *,
        info_class: str,
        purpose: str,
        action: str,
        role: str | None = None,
        user: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Ask for one decision; `context` is pdp's (`consent`, ...). Raises `PdpClientError`."""
        request = question(role, user, info_class, purpose, action, context)
        return self.decide_many([request])[0]

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Ask for many decisions, in order (boxcars when the PDP serves them)."""
        bodies = self._bodies(requests)
        if self.endpoints is None:
            self.endpoints = endpoints_of(self.base_url, self._send("GET", METADATA))
        decided: list[Decision] = []
        for url, body, many in self._calls(bodies):
            decided += _answers(self._send("POST", url, body), many)
        return decided

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> AuthzenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAuthzenClient(_Base):
    """An asynchronous client of an AuthZEN PDP."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        mapping: AuthzenMapping | None = None,
        discover: bool = False,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, mapping, discover)
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def _send(self, method: str, url: str, body: Any = None) -> httpx.Response:
        try:
            return await self.http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise PdpClientError(f"AuthZEN PDP unreachable: {exc}") from None

    async def decide(
        self,
        *,
        info_class: str,
        purpose: str,
        action: str,
        role: str | None = None,
        user: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Ask for one decision; `context` is pdp's (`consent`, ...). Raises `PdpClientError`."""
        request = question(role, user, info_class, purpose, action, context)
        return (await self.decide_many([request]))[0]

    async def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Ask for many decisions, in order (boxcars when the PDP serves them)."""
        bodies = self._bodies(requests)
        if self.endpoints is None:
            self.endpoints = endpoints_of(self.base_url, await self._send("GET", METADATA))
        decided: list[Decision] = []
        for url, body, many in self._calls(bodies):
            decided += _answers(await self._send("POST", url, body), many)
        return decided

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> AsyncAuthzenClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def client_for(
    base_url: str,
    token: str | None = None,
    *,
    protocol: Protocol = "native",
    mapping: AuthzenMapping | None = None,
    discover: bool = False,
    timeout: float = 5.0,
) -> PdpClient | AuthzenClient:
    """The client a configuration names: pdp's native API, or AuthZEN (to pdp or any PDP)."""
    if protocol == "authzen":
        return AuthzenClient(base_url, token, mapping=mapping, discover=discover, timeout=timeout)
    if protocol == "native":
        return PdpClient(base_url, token, timeout=timeout)
    raise ValueError(f"unknown protocol `{protocol}`: use `native` or `authzen`")


def async_client_for(
    base_url: str,
    token: str | None = None,
    *,
    protocol: Protocol = "native",
    mapping: AuthzenMapping | None = None,
    discover: bool = False,
    timeout: float = 5.0,
) -> AsyncPdpClient | AsyncAuthzenClient:
    """The async client a configuration names: pdp's native API, or AuthZEN."""
    if protocol == "authzen":
        return AsyncAuthzenClient(
            base_url, token, mapping=mapping, discover=discover, timeout=timeout
        )
    if protocol == "native":
        return AsyncPdpClient(base_url, token, timeout=timeout)
    raise ValueError(f"unknown protocol `{protocol}`: use `native` or `authzen`")
