"""Errors at the HTTP edge: every refusal is JSON `{"error": {"code", "message", "field"}}`.

Malformed JSON is a 400, a body or batch over the limits a 413, any other
invalid request a 422 naming the first field at fault. An unexpected error is
a 500 without a traceback (deciding itself never gets here: it fails closed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("pdp.service")

LOCATIONS = ("body", "query", "path", "header")
NOT_JSON = "the body must be JSON (`content-type: application/json`)"


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


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error", exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the service log")


def _count(request: Request, code: str) -> None:
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.rejected.labels(code).inc()


def install_error_handlers(app: FastAPI) -> None:
    """Route validation, HTTP and unexpected errors to the one JSON error shape."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


class BodyLimit:
    """ASGI middleware: refuse bodies over `max_bytes` with a 413, by header or as streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, send, 400, "bad_content_length", "bad content-length")
                    return
                if declared > self.max_bytes:
                    await self._too_large(scope, send)
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        message = f"the body exceeds {self.max_bytes} bytes"
        await self._refuse(scope, send, 413, "body_too_large", message)

    async def _refuse(self, scope: Scope, send: Send, status: int, code: str, msg: str) -> None:
        app = scope.get("app")
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.rejected.labels(code).inc()
        response = error_response(status, code, msg, "body")
        await response(scope, _no_receive, send)


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
