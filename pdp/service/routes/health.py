"""`/healthz` (alive), `/readyz` (policy loaded, log healthy) and `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from pdp.service.schemas import ErrorV1, HealthV1
from pdp.service.security import Credentials, authorize
from pdp.service.state import ServiceState

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthV1)
async def healthz() -> dict[str, Any]:
    """The process is alive (never needs a token)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=HealthV1, responses={503: {"model": HealthV1}})
async def readyz(request: Request) -> JSONResponse:
    """Ready when a policy is loaded and the decision log is healthy (never needs a token).

    A replica that cannot reach the policy store stays ready (200) but says
    `degraded`: it keeps deciding with the version it holds (fail static).
    """
    service: ServiceState = request.app.state.service
    reasons = []
    version = None
    try:
        version = service.dp.version
    except Exception:
        reasons.append("no policy loaded")
    if not service.log.healthy:
        reasons.append("decision log is not writable")
    status = 503 if reasons else 200
    degraded = []
    follower = service.follower
    if follower is not None and (not follower.healthy or follower.from_cache):
        # Fail static: the replica still decides with the version it holds.
        degraded.append(follower.problem or "serving the cached policy version")
    body = {
        "status": "not ready" if reasons else "degraded" if degraded else "ready",
        "policy_version": version,
        "reasons": reasons + degraded,
    }
    return JSONResponse(body, status_code=status)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorV1}},
)
async def metrics(request: Request, credentials: Credentials) -> Response:
    """Prometheus metrics; needs any valid token when tokens are configured (unless public)."""
    service: ServiceState = request.app.state.service
    if not service.config.metrics_public:
        authorize(request, None)
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
