"""Reviewer reads: a subject's effective permissions and who holds a permission."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request

from pdp.service.schemas import AccessV1, ErrorV1, SubjectPermissionsV1
from pdp.service.security import Review
from pdp.service.state import ServiceState
from pdp.wire import MAX_ID_LENGTH, PRINTABLE

router = APIRouter(prefix="/v1", tags=["review"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorV1} for code in (401, 403, 404, 422)
}
IdQuery = Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH, pattern=PRINTABLE)]


@router.get(
    "/subjects/{kind}/{subject_id}/permissions",
    response_model=SubjectPermissionsV1,
    responses=ERRORS,
)
def permissions(
    kind: Literal["role", "user"],
    subject_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=PRINTABLE)],
    request: Request,
    caller: Review,
) -> dict[str, Any]:
    """Every permission a role or user holds (after inheritance and denies)."""
    service: ServiceState = request.app.state.service
    version = service.dp.version
    held = service.dp.permissions_of(kind, subject_id)
    if held is None:
        raise HTTPException(
            404,
            {
                "code": f"unknown_{kind}",
                "message": f"no {kind} `{subject_id}` in the policy",
                "field": "subject_id",
            },
        )
    return {
        "kind": kind,
        "id": subject_id,
        "policy_version": version,
        "permissions": [
            {
                "info_class": p.info_class,
                "purpose": p.purpose,
                "action": p.action,
                "grants": list(p.grants),
                "obligations": list(p.obligations),
            }
            for p in held
        ],
    }


@router.get("/access", response_model=AccessV1, responses=ERRORS)
def access(
    info_class: IdQuery, purpose: IdQuery, action: IdQuery, request: Request, caller: Review
) -> dict[str, Any]:
    """Who holds a permission: the roles and users allowed (consent aside)."""
    service: ServiceState = request.app.state.service
    compiled = service.dp.compiled
    for field, value, known in (
        ("info_class", info_class, compiled.class_ancestors),
        ("purpose", purpose, compiled.purpose_ancestors),
        ("action", action, compiled.actions),
    ):
        if value not in known:
            raise HTTPException(
                404,
                {
                    "code": f"unknown_{field}",
                    "message": f"no {field} `{value}` in the policy",
                    "field": field,
                },
            )
    holders = service.dp.who_can(info_class, purpose, action) or ([], [])
    return {
        "info_class": info_class,
        "purpose": purpose,
        "action": action,
        "policy_version": compiled.version,
        "roles": holders[0],
        "users": holders[1],
    }
