"""A small Python client of the decision service, sync (`PdpClient`) and async (`AsyncPdpClient`).

    with PdpClient("http://127.0.0.1:8181", token="...") as pdp:
        d = pdp.decide(role="teller", info_class="identity.id_number",
                       purpose="account_opening", action="use")
        if d.allowed: ...

Both return the core `Decision` value, and take the arguments of every
`pdp.decider.Decider` (`context={"consent": [...]}`), so a `DecisionPoint` and
a client are interchangeable. Bodies are written and read by `pdp.wire`.
Errors (the service unreachable, a 4xx or 5xx) raise `PdpClientError` — the
caller must treat them as a deny. A connection that cannot be made is retried
(`retries`, 2 by default, by httpx's transport) before that.

An optional local cache (`cache_ttl` seconds, off by default) keeps decisions
keyed by (policy version, request, whole context): entries expire after the
TTL and the whole cache is dropped as soon as a response carries a different
policy version. A cached decision carries the id of the logged decision it
reuses; the service logs nothing for a cache hit. A request without
`context.time` is judged at the service's time, so a cached answer may
outlive a grant's window or `hours` by up to the TTL: keep the TTL short, or
leave the cache off, where policies have windows or hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import msgspec

from pdp.core.decision import Decision
from pdp.errors import PdpClientError
from pdp.secrets import redact_url
from pdp.wire import decode_decisions, encode, request_body

__all__ = ["AsyncPdpClient", "DecisionCache", "PdpClient", "PdpClientError"]

BATCH_SIZE = 1_000  # the service's default `limits.max_batch`
JSON = {"content-type": "application/json"}
RETRIES = 2  # connection attempts retried by the transport (connect errors only)
CacheKey = tuple[str | None, str | None, str, str, str, bytes, tuple[str, ...]]


def cache_key(body: Mapping[str, Any]) -> CacheKey:
    """The cache key of a request body (the version is kept by the cache itself).

    The consent sorted, and the rest of the context as canonical JSON.
    """
    context = dict(body.get("context", {}))
    consent = context.pop("consent", ())
    return (
        body.get("role"),
        body.get("user"),
        body["info_class"],
        body["purpose"],
        body["action"],
        msgspec.json.encode(context, order="sorted") if context else b"",
        tuple(sorted(consent)),
    )


class DecisionCache:
    """Decisions keyed by (policy version, request) with a TTL; cleared on a new version."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.version: str | None = None
        self._entries: dict[CacheKey, tuple[float, Decision]] = {}

    def get(self, key: CacheKey) -> Decision | None:
        """The cached decision for a request under the current version, if fresh."""
        if self.ttl <= 0:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: CacheKey, decision: Decision) -> None:
        """Remember a decision; a new policy version drops every older entry first."""
        self.saw_version(decision.policy_version)
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl, decision)

    def saw_version(self, version: str) -> None:
        """Note the version of a response; a different one invalidates the cache."""
        if version != self.version:
            self._entries.clear()
            self.version = version

    def __len__(self) -> int:
        return len(self._entries)


def _error_of(response: httpx.Response) -> PdpClientError:
    try:
        error = response.json().get("error", {})
        message, code = str(error.get("message", "")), str(error.get("code", ""))
    except (ValueError, AttributeError):
        message, code = response.text[:200], ""
    return PdpClientError(
        f"decision service answered {response.status_code}: {message}", response.status_code, code
    )


def _results(response: httpx.Response, many: bool) -> list[Decision]:
    if response.status_code != 200:
        raise _error_of(response)
    try:
        return decode_decisions(response.content, many)
    except msgspec.MsgspecError:
        raise PdpClientError("malformed response from the decision service") from None


def _calls(
    bodies: list[dict[str, Any]], missing: list[int], single: bool
) -> list[tuple[str, Any, bool]]:
    """The service calls (path, body, batch?) that decide the `missing` bodies, in order."""
    if single:
        return [("/v1/decisions", bodies[0], False)]
    return [
        (
            "/v1/decisions/batch",
            {"requests": [bodies[i] for i in missing[s : s + BATCH_SIZE]]},
            True,
        )
        for s in range(0, len(missing), BATCH_SIZE)
    ]


class _Base:
    """What the sync and async clients share: headers, bodies and the cache."""

    def __init__(self, token: str | None, cache_ttl: float) -> None:
        self.headers = {"authorization": f"Bearer {token}"} if token else {}
        self.cache = DecisionCache(cache_ttl)

    def _split(self, bodies: list[dict[str, Any]]) -> tuple[list[Decision | None], list[int]]:
        found = [self.cache.get(cache_key(b)) for b in bodies]
        return found, [i for i, d in enumerate(found) if d is None]

    def _fill(
        self,
        bodies: list[dict[str, Any]],
        found: list[Decision | None],
        missing: list[int],
        decided: list[Decision],
    ) -> list[Decision]:
        for i, decision in zip(missing, decided, strict=True):
            self.cache.put(cache_key(bodies[i]), decision)
            found[i] = decision
        return [d for d in found if d is not None]


def _bodies(requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        request_body(
            role=r.get("role"),
            user=r.get("user"),
            info_class=r["info_class"],
            purpose=r["purpose"],
            action=r["action"],
            context=r.get("context"),
        )
        for r in requests
    ]


class PdpClient(_Base):
    """A synchronous client of the decision service (httpx)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        cache_ttl: float = 0.0,
        retries: int = RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(token, cache_ttl)
        transport = transport or httpx.HTTPTransport(retries=retries)
        self.http = httpx.Client(
            base_url=base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    def _post(self, path: str, body: Any) -> httpx.Response:
        try:
            return self.http.post(path, content=encode(body), headers=JSON)
        except httpx.HTTPError as exc:
            raise PdpClientError(f"decision service unreachable: {redact_url(str(exc))}") from None

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
        """Ask for one decision (raises `PdpClientError` when the service cannot answer)."""
        body = request_body(
            role=role,
            user=user,
            info_class=info_class,
            purpose=purpose,
            action=action,
            context=context,
        )
        return self._many([body], single=True)[0]

    def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Ask for many decisions in one batch; mappings take `decide`'s keys (or `context`)."""
        return self._many(_bodies(requests), single=False)

    def _many(self, bodies: list[dict[str, Any]], single: bool) -> list[Decision]:
        found, missing = self._split(bodies)
        if not missing:
            return [d for d in found if d is not None]
        decided: list[Decision] = []
        for path, body, many in _calls(bodies, missing, single):
            decided += _results(self._post(path, body), many=many)
        return self._fill(bodies, found, missing, decided)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> PdpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPdpClient(_Base):
    """An asynchronous client of the decision service (httpx)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        cache_ttl: float = 0.0,
        retries: int = RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(token, cache_ttl)
        transport = transport or httpx.AsyncHTTPTransport(retries=retries)
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=self.headers, timeout=timeout, transport=transport
        )

    async def _post(self, path: str, body: Any) -> httpx.Response:
        try:
            return await self.http.post(path, content=encode(body), headers=JSON)
        except httpx.HTTPError as exc:
            raise PdpClientError(f"decision service unreachable: {redact_url(str(exc))}") from None

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
        """Ask for one decision (raises `PdpClientError` when the service cannot answer)."""
        body = request_body(
            role=role,
            user=user,
            info_class=info_class,
            purpose=purpose,
            action=action,
            context=context,
        )
        return (await self._many([body], single=True))[0]

    async def decide_many(self, requests: Iterable[Mapping[str, Any]]) -> list[Decision]:
        """Ask for many decisions in one batch; mappings take `decide`'s keys (or `context`)."""
        return await self._many(_bodies(requests), single=False)

    async def _many(self, bodies: list[dict[str, Any]], single: bool) -> list[Decision]:
        found, missing = self._split(bodies)
        if not missing:
            return [d for d in found if d is not None]
        decided: list[Decision] = []
        for path, body, many in _calls(bodies, missing, single):
            decided += _results(await self._post(path, body), many=many)
        return self._fill(bodies, found, missing, decided)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> AsyncPdpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
