"""`POST /v1/decisions`, `POST /v1/decisions/batch` and `POST /v1/explain`.

The hot path: the token is checked inline (FastAPI resolves no dependencies
here), the body is validated by `pdp.wire` (one msgspec decode) and decided by
the `DecisionService`; the answer is encoded by `pdp.wire` too. The request and
response schemas are declared in OpenAPI by `pdp.service.openapi`.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request, Response

from pdp.service.deciding import wait_for_log
from pdp.service.errors import validated
from pdp.service.schemas import ErrorV1, ExplanationV1
from pdp.service.security import SECURED, authorize
from pdp.service.state import ServiceState
from pdp.wire import (
    DecisionBatchResponseV1,
    decode_batch,
    decode_request,
    encode,
    response_of,
)

router = APIRouter(prefix="/v1", tags=["decisions"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorV1} for code in (400, 401, 403, 413, 415, 422)
}
JSON = "application/json"


async def json_body(request: Request) -> Any:
    """The body as parsed JSON, or None when it is not JSON."""
    return parsed(await request.body())


def parsed(body: bytes) -> Any:
    """A body as parsed JSON, or None when it is not JSON."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None


def json_response(data: Any) -> Response:
    """A JSON response encoded by `pdp.wire` (plain data or wire types)."""
    return Response(encode(data), media_type=JSON)


def body_of(model: type) -> dict[str, Any]:
    """OpenAPI extras declaring a JSON body of a schema registered under the model's name."""
    return documented(model.__name__)


def documented(request: str, response: str | None = None) -> dict[str, Any]:
    """OpenAPI extras declaring a JSON body and answer of `pdp.wire` types, and the token."""
    extra: dict[str, Any] = {
        **SECURED,
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{request}"}}},
        },
    }
    if response is not None:
        schema = {"$ref": f"#/components/schemas/{response}"}
        extra["responses"] = {"200": {"content": {JSON: {"schema": schema}}}}
    return extra


@router.post(
    "/decisions",
    responses=ERRORS,
    openapi_extra=documented("DecisionRequestV1", "DecisionResponseV1"),
)
async def decide(request: Request) -> Response:
    """Decide one request; the response names the policy version and the logged decision id."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    question = validated(await request.body(), decode_request)
    service: ServiceState = request.app.state.service
    await wait_for_log(service.log)
    (decision,) = service.decisions.decide([question], caller.name)
    service.metrics.decision_latency.observe(time.perf_counter() - started)
    return Response(encode(response_of(decision)), media_type=JSON)


@router.post(
    "/decisions/batch",
    responses=ERRORS,
    openapi_extra=documented("DecisionBatchRequestV1", "DecisionBatchResponseV1"),
)
async def decide_batch(request: Request) -> Response:
    """Decide many requests in order, all by one policy version (`limits.max_batch` at most)."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    batch = validated(await request.body(), decode_batch)
    service: ServiceState = request.app.state.service
    check_batch_size(len(batch.requests), service.config.limits.max_batch)
    await wait_for_log(service.log)
    decisions = service.decisions.decide(batch.requests, caller.name)
    version = decisions[0].policy_version
    answer = DecisionBatchResponseV1(version, [response_of(d) for d in decisions])
    service.metrics.batch_latency.observe(time.perf_counter() - started)
    return Response(encode(answer), media_type=JSON)


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
    openapi_extra=documented("DecisionRequestV1"),
)
async def explain(request: Request) -> Response:
    """Decide and explain: matched grants, inheritance paths, ancestors, overriding denies."""
    started = time.perf_counter()
    caller = authorize(request, "explain")
    question = validated(await request.body(), decode_request)
    service: ServiceState = request.app.state.service
    data = service.decisions.explain(question, caller.name)
    service.metrics.latency.labels("explain").observe(time.perf_counter() - started)
    return json_response(data)
