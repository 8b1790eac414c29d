"""`POST /v1/decisions`, `POST /v1/decisions/batch` and `POST /v1/explain`.

The hot path: the token is checked inline (FastAPI resolves no dependencies
here), the body parsed by `json.loads` and handed to the `Decider`, which
validates each distinct question once against the schema and answers repeated
ones from its memo (see `pdp.service.deciding`). When anything in the body is
invalid, the body is validated by pydantic (`model_validate_json`) for the
error — the service's `RequestValidationError` handler names the field and the
index. The request body schemas are declared in OpenAPI by `openapi_extra`
(and registered by `pdp.service.openapi`).
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from pdp.service.config import HARD_MAX_BATCH
from pdp.service.deciding import InvalidRequestError, wait_for_log
from pdp.service.schemas import (
    DecisionBatchRequestV1,
    DecisionBatchResponseV1,
    DecisionRequestV1,
    DecisionResponseV1,
    ErrorV1,
    ExplanationV1,
)
from pdp.service.security import SECURED, authorize
from pdp.service.state import ServiceState

router = APIRouter(prefix="/v1", tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorV1} for code in (400, 401, 403, 413, 422)
}
M = TypeVar("M", bound=BaseModel)


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI extras declaring a JSON body of `model`, and the bearer token."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        **SECURED,
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
    }


async def parse(request: Request, model: type[M]) -> M:
    """Validate the raw body as `model`, or raise `RequestValidationError` (loc under `body`)."""
    raw = await request.body()
    if not raw.strip():
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=True, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


async def json_body(request: Request) -> Any:
    """The body as parsed JSON (strict UTF-8), or None when it is not JSON."""
    try:
        return json.loads((await request.body()).decode())
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
        return None


def json_response(data: Any) -> Response:
    """Serialise a response once, without FastAPI's generic encoder."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


@router.post(
    "/decisions",
    response_model=DecisionResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(DecisionRequestV1),
)
async def decide(request: Request) -> Response:
    """Decide one request; the response names the policy version and the logged decision id."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    item = await json_body(request)
    service: ServiceState = request.app.state.service
    await wait_for_log(service.log)
    try:
        data = service.decider.decide_json(item, caller.name)
    except InvalidRequestError:  # the schema names the error (or, should it accept, decides)
        model = await parse(request, DecisionRequestV1)
        data = service.decider.decide_json(model.model_dump(), caller.name)
    service.metrics.decision_latency.observe(time.perf_counter() - started)
    return Response(data, media_type="application/json")


@router.post(
    "/decisions/batch",
    response_model=DecisionBatchResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(DecisionBatchRequestV1),
)
async def decide_batch(request: Request) -> Response:
    """Decide many requests in order, all by one policy version (`limits.max_batch` at most)."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    data = await json_body(request)
    service: ServiceState = request.app.state.service
    limit = service.config.limits.max_batch
    items = data.get("requests") if type(data) is dict and data.keys() == {"requests"} else None
    await wait_for_log(service.log)
    try:
        if type(items) is not list or not 0 < len(items) <= HARD_MAX_BATCH:
            raise InvalidRequestError
        check_batch_size(len(items), limit)
        answer = service.decider.decide_batch_json(items, caller.name)
    except InvalidRequestError:  # the schema names the error (or, should it accept, decides)
        model = await parse(request, DecisionBatchRequestV1)
        check_batch_size(len(model.requests), limit)
        items = [r.model_dump() for r in model.requests]
        answer = service.decider.decide_batch_json(items, caller.name)
    service.metrics.batch_latency.observe(time.perf_counter() - started)
    return Response(answer, media_type="application/json")


def check_batch_size(size: int, limit: int) -> None:
    """Refuse a batch over `limits.max_batch` with a 413 `batch_too_large`."""
    if size > limit:
        raise HTTPException(
            413,
            {
                "code": "batch_too_large",
                "message": f"a batch holds at most {limit} requests, got {size}",
                "field": "requests",
            },
        )


@router.post(
    "/explain",
    response_model=ExplanationV1,
    responses=ERRORS,
    openapi_extra=body_of(DecisionRequestV1),
)
async def explain(request: Request) -> Response:
    """Decide and explain: matched grants, inheritance paths, ancestors, overriding denies."""
    started = time.perf_counter()
    caller = authorize(request, "explain")
    body = await parse(request, DecisionRequestV1)
    service: ServiceState = request.app.state.service
    data = service.decider.explain(body, caller.name)
    service.metrics.latency.labels("explain").observe(time.perf_counter() - started)
    return json_response(data)
