"""Versioned wire types of the service (pydantic v2): strict, closed, bounded.

Every request type forbids unknown fields and bounds its strings and lists, so
a malformed request is a 4xx naming the field, never a 5xx. Response types
document the JSON the endpoints return.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from pdp.service.config import HARD_MAX_BATCH

MAX_ID_LENGTH = 256
MAX_CONSENTS = 64

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]

_REQUEST = ConfigDict(extra="forbid", strict=True)


class ContextV1(BaseModel):
    """The request context: the purposes the customer consented to (no customer data)."""

    model_config = _REQUEST

    consent: list[Id] = Field(default_factory=list, max_length=MAX_CONSENTS)


class DecisionRequestV1(BaseModel):
    """One question: may this role or user take this action on this class for this purpose?"""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "role": "teller",
                    "info_class": "identity.id_number",
                    "purpose": "account_opening",
                    "action": "use",
                }
            ]
        },
    )

    role: Id | None = None
    user: Id | None = None
    info_class: Id
    purpose: Id
    action: Id
    context: ContextV1 | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> DecisionRequestV1:
        if (self.role is None) == (self.user is None):
            raise PydanticCustomError("one_subject", "give exactly one of `role` and `user`")
        return self

    def decide_args(self) -> dict[str, Any]:
        """The keyword arguments of `DecisionPoint.decide` for this request."""
        return {
            "role": self.role,
            "user": self.user,
            "info_class": self.info_class,
            "purpose": self.purpose,
            "action": self.action,
            "context": None if self.context is None else {"consent": self.context.consent},
        }


class DecisionBatchRequestV1(BaseModel):
    """Several decision requests, answered in the same order by one policy version."""

    model_config = _REQUEST

    requests: list[DecisionRequestV1] = Field(min_length=1, max_length=HARD_MAX_BATCH)


class DecisionResponseV1(BaseModel):
    """The answer to one request; `decision_id` finds it in the decision log."""

    allowed: bool
    reasons: list[str]
    obligations: list[str]
    policy_version: str
    decision_id: str


class DecisionBatchResponseV1(BaseModel):
    """The answers to a batch, in request order, all made by one policy version."""

    policy_version: str
    results: list[DecisionResponseV1]


class MatchV1(BaseModel):
    """A grant that reached the request, through which roles, class and purpose."""

    grant: str
    effect: str
    path: list[str]
    matched_class: str
    matched_purpose: str
    obligations: list[str]
    location: str


class ExplanationV1(DecisionResponseV1):
    """A decision with the allow grants that matched and the denies that overrode them."""

    request: dict[str, Any] | None = None
    matched: list[MatchV1] = []
    overridden_by: list[MatchV1] = []
    class_ancestors: list[str] = []
    purpose_ancestors: list[str] = []
    consent_needed: bool = False


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
    """The outcome of the last reload attempt."""

    time: str
    ok: bool
    trigger: str
    version: str
    problems: list[ProblemV1]


class PolicyInfoV1(BaseModel):
    """The policy deciding now: version, source, load time and element counts."""

    version: str
    source: str | None
    loaded_at: str
    counts: dict[str, int]
    last_reload: ReloadStatusV1 | None


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
