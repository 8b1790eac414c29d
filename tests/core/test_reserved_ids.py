"""A grant cannot take a diagnostic reason code as its id: decisions would be misread."""

from __future__ import annotations

import pytest

from pdp.core.load import check_texts

POLICY = """\
version: 1
actions: [use]
classes:
  identity: {level: C1}
purposes:
  service: {legal_basis: contract}
roles:
  teller: {}
grants:
  - id: {grant_id}
    roles: [teller]
    classes: [identity]
    purposes: [service]
    actions: [use]
"""


@pytest.mark.parametrize(
    "grant_id",
    [
        "default_deny",
        "error",
        "consent_required",
        "unknown_role",
        "invalid_context",
        "mfa_required",
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_a_reserved_code_is_refused_as_a_grant_id(grant_id: str, fast: bool) -> None:
    result = check_texts([("p.yaml", POLICY.replace("{grant_id}", grant_id))], fast=fast)
    assert result.policy is None
    problem = next(p for p in result.problems if p.code == "reserved_id")
    assert (problem.id, problem.location.line) == (grant_id, 10)
    assert f"`{grant_id}`" in problem.message


def test_an_ordinary_grant_id_is_accepted() -> None:
    result = check_texts([("p.yaml", POLICY.replace("{grant_id}", "G-teller-identity"))])
    assert result.policy is not None, result.problems


def test_every_reason_a_decision_gives_is_reserved() -> None:
    from pdp.core import decision
    from pdp.core.validate import RESERVED_PREFIXES, RESERVED_REASONS

    codes = {
        decision.DEFAULT_DENY,
        decision.CONSENT_REQUIRED,
        decision.SEPARATE_CONSENT_REQUIRED,
        decision.USER_DISABLED,
        decision.INVALID_REQUEST,
        decision.INVALID_CONTEXT,
        decision.ERROR,
        *decision.UNKNOWN.values(),
        *decision.UNMET.values(),
    }
    assert {c for c in codes if not c.startswith(RESERVED_PREFIXES)} <= RESERVED_REASONS
