"""The OpenAPI documentation of the service's other answers (pydantic models).

The decision requests and answers are `pdp.wire` types (msgspec), validated
and encoded there; the models here only document the JSON that the policy,
review, health and error endpoints return.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class RequirementV1(BaseModel):
    """One condition of a grant (`mfa`, `ticket`, ...) and whether the request met it.

    `reason` is what a deny says when it was not met (`mfa_required`, ...).
    """

    requirement: str
    held: bool
    reason: str


class MatchV1(BaseModel):
    """A grant that reached the request, through which roles, class and purpose.

    It `applies` when the request's time is inside its validity window
    (`in_window`) and every requirement held; `break_glass` marks an
    emergency grant, whose allow carries the `break_glass` obligation.
    """

    grant: str
    effect: str
    path: list[str]
    matched_class: str
    matched_purpose: str
    obligations: list[str]
    location: str
    in_window: bool = True
    requirements: list[RequirementV1] = []
    break_glass: bool = False
    applies: bool = True


class ExplanationV1(BaseModel):
    """A decision with the allow grants that matched and the denies that overrode them.

    `time` is the instant the request was decided at (ISO 8601);
    `consent_separate` says the purpose needs its own consent, and
    `consent_missing` names the consent the request lacked.
    """

    allowed: bool
    reasons: list[str]
    obligations: list[str]
    policy_version: str
    decision_id: str
    request: dict[str, Any] | None = None
    matched: list[MatchV1] = []
    overridden_by: list[MatchV1] = []
    class_ancestors: list[str] = []
    purpose_ancestors: list[str] = []
    consent_needed: bool = False
    time: str | None = None
    consent_separate: bool = False
    consent_missing: str | None = None


class ProblemV1(BaseModel):
    """One problem of an invalid policy, with its location."""

    code: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    id: str
    hint: str


class ReloadStatusV1(BaseModel):
    """One policy change attempt, applied or refused (problems shown to the admin scope only)."""

    time: str
    ok: bool
    trigger: str
    version: str
    previous_version: str
    changed: bool
    source_kind: str
    signed: bool
    problem_count: int
    problems: list[ProblemV1]


class PolicyInfoV1(BaseModel):
    """The policy deciding now (version, source, load time, counts) and the recent changes."""

    version: str
    source: str | None
    source_kind: str | None
    store: dict[str, Any] | None = None
    loaded_at: str
    counts: dict[str, int]
    last_reload: ReloadStatusV1 | None
    history: list[ReloadStatusV1]


class ReloadResponseV1(BaseModel):
    """A successful reload: the version now deciding and whether it changed."""

    version: str
    previous_version: str
    changed: bool


class PermissionV1(BaseModel):
    """A permission held, with the allow grants behind it and their obligations."""

    info_class: str
    purpose: str
    action: str
    grants: list[str]
    obligations: list[str]


class SubjectPermissionsV1(BaseModel):
    """Every permission a role or user holds under the policy deciding now."""

    kind: Literal["role", "user"]
    id: str
    policy_version: str
    permissions: list[PermissionV1]


class AccessV1(BaseModel):
    """Who holds a permission: the reverse query for reviewers."""

    info_class: str
    purpose: str
    action: str
    policy_version: str
    roles: list[str]
    users: list[str]


class ErrorBodyV1(BaseModel):
    """What went wrong: a stable code, a one-line message and the field at fault."""

    code: str
    message: str
    field: str | None = None
    problems: list[ProblemV1] | None = None


class ErrorV1(BaseModel):
    """The body of every 4xx (and the rare 5xx) response."""

    error: ErrorBodyV1


class HealthV1(BaseModel):
    """Liveness or readiness, with the reasons when not ready."""

    status: str
    policy_version: str | None = None
    reasons: list[str] = []
