"""`POST /v1/decisions`, `POST /v1/decisions/batch` and `POST /v1/explain`.

The hot path: the body is parsed straight from bytes by pydantic-core
(`model_validate_json`) and the token checked inline, so FastAPI resolves no
dependencies here; validation errors still go through the service's
`RequestValidationError` handler. The request body schemas are declared in
OpenAPI by `openapi_extra` (and registered by `pdp.service.openapi`).
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

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
    body = await parse(request, DecisionRequestV1)
    service: ServiceState = request.app.state.service
    data = service.decider.decide(body, caller.name)
    service.metrics.decision_latency.observe(time.perf_counter() - started)
    return json_response(data)


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
    body = await parse(request, DecisionBatchRequestV1)
    service: ServiceState = request.app.state.service
    limit = service.config.limits.max_batch
    if len(body.requests) > limit:
        raise HTTPException(
            413,
            {
                "code": "batch_too_large",
                "message": f"a batch holds at most {limit} requests, got {len(body.requests)}",
                "field": "requests",
            },
        )
    data = service.decider.decide_batch(body.requests, caller.name)
    service.metrics.batch_latency.observe(time.perf_counter() - started)
    return json_response(data)


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
