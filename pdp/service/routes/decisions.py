"""`POST /v1/decisions`, `POST /v1/decisions/batch` and `POST /v1/explain`."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from pdp.service.schemas import (
    DecisionBatchRequestV1,
    DecisionBatchResponseV1,
    DecisionRequestV1,
    DecisionResponseV1,
    ErrorV1,
    ExplanationV1,
)
from pdp.service.security import Decide, Explain
from pdp.service.state import ServiceState

router = APIRouter(prefix="/v1", tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorV1} for code in (400, 401, 403, 413, 422)
}


def json_response(data: Any) -> Response:
    """Serialise a response once, without FastAPI's generic encoder."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


@router.post("/decisions", response_model=DecisionResponseV1, responses=ERRORS)
async def decide(body: DecisionRequestV1, request: Request, caller: Decide) -> Response:
    """Decide one request; the response names the policy version and the logged decision id."""
    service: ServiceState = request.app.state.service
    started = time.perf_counter()
    data = service.decider.decide(body, caller.name)
    service.metrics.latency.labels("decision").observe(time.perf_counter() - started)
    return json_response(data)


@router.post("/decisions/batch", response_model=DecisionBatchResponseV1, responses=ERRORS)
async def decide_batch(body: DecisionBatchRequestV1, request: Request, caller: Decide) -> Response:
    """Decide many requests in order, all by one policy version (`limits.max_batch` at most)."""
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
    started = time.perf_counter()
    data = service.decider.decide_batch(body.requests, caller.name)
    service.metrics.latency.labels("batch").observe(time.perf_counter() - started)
    return json_response(data)


@router.post("/explain", response_model=ExplanationV1, responses=ERRORS)
async def explain(body: DecisionRequestV1, request: Request, caller: Explain) -> Response:
    """Decide and explain: matched grants, inheritance paths, ancestors, overriding denies."""
    service: ServiceState = request.app.state.service
    started = time.perf_counter()
    data = service.decider.explain(body, caller.name)
    service.metrics.latency.labels("explain").observe(time.perf_counter() - started)
    return json_response(data)
