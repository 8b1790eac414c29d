"""Errors at the HTTP edge: every refusal is JSON `{"error": {"code", "message", "field"}}`.

Malformed JSON is a 400, a body or batch over the limits a 413, a body that is
not JSON by its content type a 415, a `Host` not allowed a 421, any other
invalid request a 422 naming the first field at fault. An unexpected error is
a 500 without a traceback (deciding itself never gets here: it fails closed).
`RequestGuard` refuses at the ASGI level, before any route runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pdp.errors import PdpError, outcome_of
from pdp.wire import error_path

log = logging.getLogger("pdp.service")
T = TypeVar("T")

LOCATIONS = ("body", "query", "path", "header")
NOT_JSON = "the body must be JSON (`content-type: application/json`)"
ALWAYS_REACHABLE = ("/healthz", "/readyz")  # liveness and readiness answer any Host
REQUEST_ID = b"x-request-id"  # echoed on every answer (see `RequestGuard`)


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON error response in the service's one error shape."""
    body: dict[str, Any] = {"code": code, "message": message, "field": field, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


def field_path(loc: Sequence[str | int]) -> str:
    """A pydantic location as a field path: `(body, requests, 3, role)` -> `requests[3].role`."""
    parts = list(loc)
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def describe(error: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """Status, code, field and message for one pydantic error."""
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    if kind == "json_invalid":
        return 400, "malformed_json", "body", "the body is not valid JSON"
    field = field_path(loc)
    if kind == "one_subject":
        field = f"{field}.role" if field != "body" else "role"
        return 422, "invalid_request", field, "give exactly one of `role` and `user`"
    if kind == "too_long" and loc[-1:] == ("requests",):
        limit = error.get("ctx", {}).get("max_length", "")
        return 413, "batch_too_large", field, f"a batch holds at most {limit} requests"
    if kind == "missing" and field == "body":
        return 422, "invalid_request", field, "a JSON body is required"
    if field == "body" and isinstance(error.get("input"), bytes | str):
        return (
            422,
            "invalid_request",
            field,
            NOT_JSON,
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return 422, "invalid_request", field, f"`{field}` must be a JSON object"
    return 422, "invalid_request", field, f"`{field}`: {_lower_first(error.get('msg', 'invalid'))}"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    status, code, field, message = describe(errors[0]) if errors else (422, "invalid", "body", "")
    details = [{"field": describe(e)[2], "message": describe(e)[3]} for e in errors[:20]]
    _count(request, code)
    return error_response(status, code, message, field, errors=details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    extra: dict[str, Any] = {}
    if isinstance(detail, dict) and "code" in detail:
        code, message = str(detail["code"]), str(detail.get("message", ""))
        extra = {k: v for k, v in detail.items() if k not in ("code", "message", "field")}
        field = detail.get("field")
    else:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message, field = _lower_first(str(detail)), None
    _count(request, code)
    return error_response(exc.status_code, code, message, field, exc.headers, **extra)


async def _pdp_error(request: Request, exc: Exception) -> JSONResponse:
    """A pdp error, with the HTTP status `pdp.errors.OUTCOMES` gives its kind."""
    assert isinstance(exc, PdpError)
    status = outcome_of(exc).http_status
    _count(request, exc.code)
    if status >= 500:  # the details go to the log, not to the caller
        log.error("%s: %s", exc.code, exc)
        return error_response(status, exc.code, "the service cannot answer; see its log")
    return error_response(status, exc.code, str(exc), getattr(exc, "field", None) or None)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the service log")


def _count(request: Request, code: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rejected.labels(code).inc()


def validated(raw: bytes, decode: Callable[[bytes], T]) -> T:
    """A body decoded by a `pdp.wire` decoder, or the 4xx naming the field at fault."""
    try:
        return decode(raw)
    except msgspec.ValidationError as exc:
        if not _well_formed(raw):
            raise _refusal(400, "malformed_json", "the body is not valid JSON", "body") from None
        field, message = wire_error(exc)
        if field == "requests" and "length <=" in message:
            limit = message.rpartition("<= ")[2]
            raise _refusal(
                413, "batch_too_large", f"a batch holds at most {limit} requests", field
            ) from None
        raise _refusal(422, "invalid_request", message, field) from None
    except msgspec.DecodeError:
        if not raw.strip():
            raise _refusal(422, "invalid_request", "a JSON body is required", "body") from None
        raise _refusal(400, "malformed_json", "the body is not valid JSON", "body") from None


def wire_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """The field and one-line message of a `pdp.wire` validation error."""
    field, message = error_path(error)
    if message.startswith("give exactly one of"):
        field = "role" if field == "body" else f"{field}.role"
    return field, f"`{field}`: {message}" if field != "body" else message


def _well_formed(raw: bytes) -> bool:
    try:
        msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def _refusal(status: int, code: str, message: str, field: str | None) -> HTTPException:
    return HTTPException(status, {"code": code, "message": message, "field": field})


def install_error_handlers(app: FastAPI) -> None:
    """Route validation, HTTP, pdp and unexpected errors to the one JSON error shape."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PdpError, _pdp_error)
    app.add_exception_handler(Exception, _internal_error)


class RequestGuard:
    """ASGI middleware: refuse a `Host` not allowed (421), a body not JSON (415) or too big (413).

    `allowed_hosts` empty allows any `Host`. A body counts by its
    `content-length` and as streamed (chunked), so it is never read past
    `max_bytes`. `/healthz` and `/readyz` answer any `Host`. A request's
    `X-Request-ID` is echoed on its answer, the guard's own refusals included.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, allowed_hosts: Collection[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.hosts = frozenset(h.lower() for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        media: bytes | None = None
        host = b""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"content-length":
                declared = value
            elif name == b"content-type":
                media = value
            elif name == REQUEST_ID:
                send = _echoing(send, value)
        if self.hosts and not self._host_allowed(host) and scope["path"] not in ALWAYS_REACHABLE:
            refused = f"the host `{host_name(host)}` is not served here"
            await self._refuse(scope, send, 421, "host_not_allowed", refused, "host")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await self._refuse(scope, send, 400, "bad_content_length", "bad content-length")
                return
            if size > self.max_bytes:
                await self._too_large(scope, send)
                return
            if size > 0 and not is_json(media):
                await self._not_json(scope, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if body and not is_json(media):
            await self._not_json(scope, send)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)

    def _host_allowed(self, host: bytes) -> bool:
        return host_name(host) in self.hosts or "*" in self.hosts

    async def _too_large(self, scope: Scope, send: Send) -> None:
        message = f"the body exceeds {self.max_bytes} bytes"
        await self._refuse(scope, send, 413, "body_too_large", message)

    async def _not_json(self, scope: Scope, send: Send) -> None:
        await self._refuse(scope, send, 415, "unsupported_media_type", NOT_JSON)

    async def _refuse(
        self, scope: Scope, send: Send, status: int, code: str, msg: str, field: str = "body"
    ) -> None:
        app = scope.get("app")
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejected.labels(code).inc()
        response = error_response(status, code, msg, field)
        await response(scope, _no_receive, send)


def is_json(media: bytes | None) -> bool:
    """True for `application/json` and any `+json` media type (parameters aside)."""
    if media is None:
        return False
    kind = media.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


def host_name(host: bytes) -> str:
    """The name of a `Host` header value, lower case, without its port (`[::1]:80` -> `::1`)."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    name, _, port = text.rpartition(":")
    return name if name and port.isdigit() else text


def _echoing(send: Send, request_id: bytes) -> Send:
    """A send that adds `X-Request-ID: request_id` to the response's headers."""

    async def echo(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(n, v) for n, v in message.get("headers", ()) if n.lower() != REQUEST_ID]
            message = {**message, "headers": [*headers, (REQUEST_ID, request_id)]}
        await send(message)

    return echo


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that first returns the buffered messages, then defers to the real one."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
