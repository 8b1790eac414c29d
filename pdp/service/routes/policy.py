"""`GET /v1/policy` and `POST /v1/policy/reload` (admin).

Problems of refused changes name files relative to the policy's root, and
only the `admin` scope sees them; other callers see that a change was refused
and how many problems it had.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pdp.service.errors import error_response
from pdp.service.schemas import ErrorV1, PolicyInfoV1, ReloadResponseV1
from pdp.service.security import Admin, AnyCaller
from pdp.service.state import ServiceState
from pdp.store.source import source_kind

router = APIRouter(prefix="/v1/policy", tags=["policy"])


@router.get("", response_model=PolicyInfoV1, responses={401: {"model": ErrorV1}})
async def policy_info(request: Request, caller: AnyCaller) -> dict[str, Any]:
    """The policy deciding now (version, source, load time, counts) and the recent changes."""
    service: ServiceState = request.app.state.service
    compiled = service.dp.compiled
    policy = compiled.policy
    reloader = service.reloader
    admin = caller.may("admin")
    source = service.dp.source
    follower = service.follower
    store = None
    if follower is not None:
        store = {
            "event_seq": follower.event_seq,
            "connected": follower.healthy,
            "from_cache": follower.from_cache,
        }
    history = [outcome.to_dict(problems=admin) for outcome in reversed(reloader.history)]
    return {
        "version": compiled.version,
        "source": None if source is None else source.name,
        "source_kind": "store"
        if follower is not None
        else None
        if source is None
        else source_kind(source),
        "store": store,
        "loaded_at": datetime.fromtimestamp(reloader.loaded_at, UTC).isoformat(),
        "counts": {
            "classes": len(policy.classes),
            "purposes": len(policy.purposes),
            "roles": len(policy.roles),
            "users": len(policy.users),
            "grants": len(policy.grants),
            "rules": len(policy.rules),
            "actions": len(policy.actions),
        },
        "last_reload": history[0] if history else None,
        "history": history,
    }


@router.post(
    "/reload",
    response_model=ReloadResponseV1,
    responses={code: {"model": ErrorV1} for code in (401, 403, 422)},
)
def reload_policy(request: Request, caller: Admin) -> Any:
    """Reload the policy from its source; 422 with every problem when it is refused."""
    service: ServiceState = request.app.state.service
    outcome = service.reloader.reload("api", caller.name)
    if not outcome.ok:
        problems = [p.to_dict() for p in outcome.problems]
        first = outcome.problems[0] if outcome.problems else None
        message = "the new policy is refused; the last good policy keeps deciding"
        if first is not None:
            message += f" (first: {first})"
        return error_response(422, "policy_invalid", message, None, problems=problems)
    return JSONResponse(
        {
            "version": outcome.version,
            "previous_version": outcome.previous_version,
            "changed": outcome.changed,
        }
    )
