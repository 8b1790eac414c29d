"""Wire types of the AuthZEN endpoints, for the OpenAPI document (pydantic v2).

The routes do not validate with these: an evaluation is mapped onto pdp's
request and checked by the native validator (`pdp.service.authzen`). They are
open (unknown members allowed), as the specification asks receivers to ignore
unknown fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_OPEN = ConfigDict(extra="allow")


class AuthzenSubjectV1(BaseModel):
    """Who asks: `type` is `role` or `user`, `id` its id."""

    model_config = _OPEN

    type: Literal["role", "user"]
    id: str = Field(min_length=1)
    properties: dict[str, Any] | None = None


class AuthzenResourceV1(BaseModel):
    """What is accessed: `type` is `info_class`, `id` the class; `properties.customer` optional."""

    model_config = _OPEN

    type: Literal["info_class"]
    id: str = Field(min_length=1)
    properties: dict[str, Any] | None = None


class AuthzenActionV1(BaseModel):
    """The lifecycle action (`name`)."""

    model_config = _OPEN

    name: str = Field(min_length=1)
    properties: dict[str, Any] | None = None


class AuthzenContextV1(BaseModel):
    """The purpose of the access, and pdp's request context (consent, ...)."""

    model_config = _OPEN

    purpose: str = Field(min_length=1)


class AuthzenEvaluationRequestV1(BaseModel):
    """Access Evaluation: may this subject take this action on this class for this purpose?"""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"type": "role", "id": "teller"},
                    "resource": {"type": "info_class", "id": "identity.id_number"},
                    "action": {"name": "use"},
                    "context": {"purpose": "account_opening"},
                }
            ]
        },
    )

    subject: AuthzenSubjectV1
    resource: AuthzenResourceV1
    action: AuthzenActionV1
    context: AuthzenContextV1


class AuthzenEvaluationItemV1(BaseModel):
    """One evaluation of a boxcar; a member left out takes the request's top-level default."""

    model_config = _OPEN

    subject: AuthzenSubjectV1 | None = None
    resource: AuthzenResourceV1 | None = None
    action: AuthzenActionV1 | None = None
    context: AuthzenContextV1 | None = None


class AuthzenOptionsV1(BaseModel):
    """How to run a boxcar: every evaluation, or stop at the first deny or permit."""

    model_config = _OPEN

    evaluations_semantic: Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"] = (
        "execute_all"
    )


class AuthzenEvaluationsRequestV1(AuthzenEvaluationItemV1):
    """Access Evaluations: defaults, the evaluations (in order) and options."""

    evaluations: list[AuthzenEvaluationItemV1] | None = None
    options: AuthzenOptionsV1 | None = None


class AuthzenDecisionContextV1(BaseModel):
    """pdp's decision (`DecisionResponseV1`) and `reason_admin`: reasons keyed by status."""

    model_config = _OPEN

    allowed: bool
    reasons: list[str]
    obligations: list[str]
    policy_version: str
    decision_id: str
    reason_admin: dict[str, str]


class AuthzenEvaluationResponseV1(BaseModel):
    """An AuthZEN decision; obligations in `context.obligations` must be applied by the PEP."""

    decision: bool
    context: AuthzenDecisionContextV1


class AuthzenEvaluationsResponseV1(BaseModel):
    """The decisions of a boxcar in request order (cut after the first deny or permit if asked)."""

    evaluations: list[AuthzenEvaluationResponseV1]


class AuthzenSubjectQueryV1(BaseModel):
    """The kind of subject searched for (`id` is ignored)."""

    model_config = _OPEN

    type: Literal["role", "user"]


class AuthzenResourceQueryV1(BaseModel):
    """The kind of resource searched for (`id` is ignored)."""

    model_config = _OPEN

    type: Literal["info_class"]


class AuthzenPageRequestV1(BaseModel):
    """Which page: the `next_token` of the previous page, and the page size."""

    model_config = _OPEN

    token: str | None = None
    limit: int | None = Field(default=None, ge=0)


class AuthzenSubjectSearchRequestV1(BaseModel):
    """Which roles or users may take this action on this class for this purpose?"""

    model_config = _OPEN

    subject: AuthzenSubjectQueryV1
    resource: AuthzenResourceV1
    action: AuthzenActionV1
    context: AuthzenContextV1
    page: AuthzenPageRequestV1 | None = None


class AuthzenResourceSearchRequestV1(BaseModel):
    """Which classes may this subject reach for this purpose and action?"""

    model_config = _OPEN

    subject: AuthzenSubjectV1
    resource: AuthzenResourceQueryV1
    action: AuthzenActionV1
    context: AuthzenContextV1
    page: AuthzenPageRequestV1 | None = None


class AuthzenActionSearchRequestV1(BaseModel):
    """Which actions may this subject take on this class for this purpose?"""

    model_config = _OPEN

    subject: AuthzenSubjectV1
    resource: AuthzenResourceV1
    context: AuthzenContextV1
    page: AuthzenPageRequestV1 | None = None


class AuthzenPageV1(BaseModel):
    """Where a page stands: the token of the next page (empty at the end), count and total."""

    next_token: str
    count: int
    total: int


class AuthzenSearchResponseV1(BaseModel):
    """One page of search results, with the policy version that found them."""

    page: AuthzenPageV1
    context: dict[str, Any]
    results: list[dict[str, str]]


class AuthzenMetadataV1(BaseModel):
    """The PDP's AuthZEN metadata: its identifier and every endpoint it serves."""

    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str
    search_subject_endpoint: str
    search_resource_endpoint: str
    search_action_endpoint: str


REQUESTS: tuple[type[BaseModel], ...] = (
    AuthzenEvaluationRequestV1,
    AuthzenEvaluationsRequestV1,
    AuthzenSubjectSearchRequestV1,
    AuthzenResourceSearchRequestV1,
    AuthzenActionSearchRequestV1,
)
