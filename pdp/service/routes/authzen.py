"""The OpenID AuthZEN Authorization API 1.0 endpoints, beside pdp's own.

    POST /access/v1/evaluation          one decision              scope `decide`
    POST /access/v1/evaluations         a boxcar, in order        scope `decide`
    POST /access/v1/search/subject      who may                   scope `review`
    POST /access/v1/search/resource     which classes             scope `review`
    POST /access/v1/search/action       which actions             scope `review`
    GET  /.well-known/authzen-configuration   the metadata       no token needed

Evaluations go through the `DecisionService` like `POST /v1/decisions` (see
`pdp.service.authzen`): same validation, log record and metrics. A bad
request is a 400 in the service's error shape, naming the AuthZEN field; a
denied request is a 200 with `"decision": false`. An `X-Request-ID` header is
echoed on every answer, errors included (by `RequestGuard`, for every route).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request, Response

from pdp.errors import RequestError
from pdp.service.authzen import (
    AuthzenDecisionsV1,
    answered,
    decision_json,
    evaluations_of,
    native_error,
    question_of,
    typed_evaluation,
    typed_evaluations,
)
from pdp.service.authzen_schemas import (
    AuthzenActionSearchRequestV1,
    AuthzenEvaluationRequestV1,
    AuthzenEvaluationResponseV1,
    AuthzenEvaluationsRequestV1,
    AuthzenEvaluationsResponseV1,
    AuthzenMetadataV1,
    AuthzenResourceSearchRequestV1,
    AuthzenSearchResponseV1,
    AuthzenSubjectSearchRequestV1,
)
from pdp.service.authzen_search import search
from pdp.service.deciding import wait_for_log
from pdp.service.routes.decisions import body_of, check_batch_size, json_body, json_response, parsed
from pdp.service.schemas import ErrorV1
from pdp.service.security import authorize
from pdp.service.state import ServiceState
from pdp.wire import DecisionRequestV1, convert_request

PREFIX = "/access/v1"
ENDPOINTS = {
    "access_evaluation_endpoint": f"{PREFIX}/evaluation",
    "access_evaluations_endpoint": f"{PREFIX}/evaluations",
    "search_subject_endpoint": f"{PREFIX}/search/subject",
    "search_resource_endpoint": f"{PREFIX}/search/resource",
    "search_action_endpoint": f"{PREFIX}/search/action",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorV1} for code in (400, 401, 403, 413)
}


router = APIRouter(tags=["authzen"])


def latency(service: ServiceState, endpoint: str) -> Any:
    """The latency histogram of an endpoint (`labels` looked up once, not per request)."""
    return _child(service.metrics.latency, endpoint)


@lru_cache(maxsize=64)
def _child(histogram: Any, endpoint: str) -> Any:
    return histogram.labels(endpoint)


def bad_request(error: RequestError) -> HTTPException:
    """The 400 of an invalid AuthZEN request, in the service's error shape."""
    detail = {"code": "invalid_request", "message": str(error), "field": error.field}
    return HTTPException(400, detail)


def validated_items(items: list[dict[str, Any]], listed: bool) -> list[DecisionRequestV1]:
    """The native requests of mapped items (`listed`: from `evaluations`), or a 400 naming one."""
    requests = []
    for i, item in enumerate(items):
        try:
            requests.append(convert_request(item))
        except msgspec.ValidationError:
            error = native_error(item, f"evaluations[{i}]" if listed else "")
            raise bad_request(error or RequestError("invalid request", "body")) from None
    return requests


@router.post(
    f"{PREFIX}/evaluation",
    response_model=AuthzenEvaluationResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(AuthzenEvaluationRequestV1),
)
async def evaluation(request: Request) -> Response:
    """Access Evaluation: one decision, logged and counted like `POST /v1/decisions`."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    service: ServiceState = request.app.state.service
    body = await request.body()
    question = typed_evaluation(body)
    if question is None:  # not the common shape, or invalid: map it and name what is wrong
        try:
            item = question_of(parsed(body))
        except RequestError as exc:
            raise bad_request(exc) from None
        (question,) = validated_items([item], listed=False)
    await wait_for_log(service.log)
    (decision,) = service.decisions.decide([question], caller.name)
    latency(service, "authzen_evaluation").observe(time.perf_counter() - started)
    return json_response(decision_json(decision))


@router.post(
    f"{PREFIX}/evaluations",
    response_model=AuthzenEvaluationsResponseV1 | AuthzenEvaluationResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(AuthzenEvaluationsRequestV1),
)
async def evaluations(request: Request) -> Response:
    """Access Evaluations: decisions in request order by one policy version, cut as asked."""
    started = time.perf_counter()
    caller = authorize(request, "decide")
    service: ServiceState = request.app.state.service
    body = await request.body()
    typed = typed_evaluations(body)
    if typed is not None:
        requests, semantic, single = typed
        check_batch_size(len(requests), service.config.limits.max_batch)
    else:  # not the common shape, or invalid: map it and name what is wrong
        try:
            items, semantic, single = evaluations_of(parsed(body))
        except RequestError as exc:
            raise bad_request(exc) from None
        check_batch_size(len(items), service.config.limits.max_batch)
        requests = validated_items(items, listed=not single)
    await wait_for_log(service.log)
    decisions = service.decisions.unrecorded(requests)
    cut = answered([d.allowed for d in decisions], semantic)
    made = service.decisions.record(requests[:cut], decisions[:cut], caller.name)
    answers = [decision_json(d) for d in made]
    data = answers[0] if single else AuthzenDecisionsV1(answers)
    latency(service, "authzen_evaluations").observe(time.perf_counter() - started)
    return json_response(data)


async def _search(request: Request, what: str) -> Response:
    started = time.perf_counter()
    authorize(request, "review")
    service: ServiceState = request.app.state.service
    try:
        data = search(service.dp, what, await json_body(request))
    except RequestError as exc:
        raise bad_request(exc) from None
    latency(service, f"authzen_search_{what}").observe(time.perf_counter() - started)
    return json_response(data)


@router.post(
    f"{PREFIX}/search/subject",
    response_model=AuthzenSearchResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(AuthzenSubjectSearchRequestV1),
)
async def search_subject(request: Request) -> Response:
    """Subject Search: the roles or users holding a permission (consent aside), paged."""
    return await _search(request, "subject")


@router.post(
    f"{PREFIX}/search/resource",
    response_model=AuthzenSearchResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(AuthzenResourceSearchRequestV1),
)
async def search_resource(request: Request) -> Response:
    """Resource Search: the classes a subject holds for a purpose and action, paged."""
    return await _search(request, "resource")


@router.post(
    f"{PREFIX}/search/action",
    response_model=AuthzenSearchResponseV1,
    responses=ERRORS,
    openapi_extra=body_of(AuthzenActionSearchRequestV1),
)
async def search_action(request: Request) -> Response:
    """Action Search: the actions a subject holds on a class for a purpose, paged."""
    return await _search(request, "action")


@router.get("/.well-known/authzen-configuration", response_model=AuthzenMetadataV1)
def configuration(request: Request) -> dict[str, str]:
    """The PDP metadata: its identifier (the base URL it was reached at) and its endpoints."""
    base = str(request.base_url).rstrip("/")
    return {"policy_decision_point": base, **{k: base + p for k, p in ENDPOINTS.items()}}
