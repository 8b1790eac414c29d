"""The Casbin export: version 1 exactly as it always was, version 2 with its conditions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from pdp.casbin_engine import casbin_enforcer, export_casbin, file_enforcer
from pdp.core.casbin_export import (
    MODEL_TEXT,
    MODEL_TEXT_V2,
    NO_RULE,
    casbin_context,
    casbin_model,
    casbin_rules,
    render_policy_csv,
)
from pdp.core.context import Context
from pdp.decision_point import DecisionPoint
from tests.strategies import policies, to_yaml

ROOT = Path(__file__).resolve().parents[2]

V1_POLICY = """\
actions: [use, disclose]
classes:
  identity: {level: C2}
  identity.id_number: {level: C3}
purposes:
  service: {legal_basis: contract}
  marketing: {legal_basis: consent}
roles:
  staff: {}
  teller: {inherits: [staff]}
grants:
  - {id: G1, roles: [teller], classes: [identity], purposes: [service], actions: [use]}
  - {id: D1, effect: deny, roles: ["*"], classes: [identity.id_number], purposes: [marketing],
     actions: ["*"]}
users:
  u1: {roles: [teller]}
"""

# The export of V1_POLICY before version 2 existed, byte for byte.
V1_CSV = """\
p, teller, identity, service, use, allow
p, staff, identity.id_number, marketing, use, deny
p, staff, identity.id_number, marketing, disclose, deny
p, teller, identity.id_number, marketing, use, deny
p, teller, identity.id_number, marketing, disclose, deny
g, teller, staff
g, u1, staff
g, u1, teller
g2, identity.id_number, identity
"""

V2_POLICY = """\
version: 2
timezone: Asia/Shanghai
relationships: [own_customer]
actions: [use]
classes:
  account: {level: C2, sensitive: true}
purposes:
  service: {legal_basis: contract}
  marketing: {legal_basis: consent}
  marketing.partner: {consent: separate}
roles:
  rm: {}
grants:
  - id: G-RM
    roles: [rm]
    classes: [account]
    purposes: [service]
    actions: [use]
    when: {relationship: [own_customer], mfa: true, max_records: 50, hours: "20:00-08:00"}
    valid_until: 2026-12-31
  - id: G-MKT
    roles: [rm]
    classes: [account]
    purposes: [marketing]
    actions: [use]
    break_glass: true
users:
  u1: {roles: [{role: rm, valid_from: 2026-01-01}]}
  u2: {roles: [rm], disabled: true}
"""

# The export of V2_POLICY: one rule per grant (and action), its roles, classes and purposes
# joining the grant's group; u1's dated role as rules of its own; u2 (disabled) absent.
V2_CSV = Path(__file__).with_name("casbin_export_v2.csv")


def point(text: str) -> DecisionPoint:
    return DecisionPoint.from_text(text, "policy.yaml")


def test_version_1_exports_exactly_as_before() -> None:
    compiled = point(V1_POLICY).compiled
    assert casbin_model(compiled) == MODEL_TEXT
    assert render_policy_csv(casbin_rules(compiled)) == V1_CSV


@settings(max_examples=40)
@given(policy=policies())
def test_version_1_rules_carry_no_condition(policy: dict[str, Any]) -> None:
    compiled = point(to_yaml(policy)).compiled
    assert casbin_model(compiled) == MODEL_TEXT
    assert all(len(row) <= 6 for row in casbin_rules(compiled))


def test_model_files_are_the_model_texts() -> None:
    """models/ holds golden copies of both models a policy exports to."""
    assert (ROOT / "models" / "pdp_model.conf").read_text(encoding="utf-8") == MODEL_TEXT
    assert (ROOT / "models" / "pdp_model_v2.conf").read_text(encoding="utf-8") == MODEL_TEXT_V2


def test_declaring_version_2_exports_the_context_model() -> None:
    compiled = point("version: 2\n" + V1_POLICY).compiled
    assert casbin_model(compiled) == MODEL_TEXT_V2
    assert {row[-1] for row in casbin_rules(compiled) if row[0] == "p"} == {"1 == 1"}


def test_version_2_conditions_read_as_documented(tmp_path: Path) -> None:
    dp = point(V2_POLICY)
    assert render_policy_csv(casbin_rules(dp.compiled)) == V2_CSV.read_text(encoding="utf-8")
    model_path, policy_path = export_casbin(dp.compiled, tmp_path)
    night = dt.datetime(2026, 6, 1, 22, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    facts = Context(mfa=True, relationship="own_customer", records=50)
    for enforcer in (casbin_enforcer(dp.compiled), file_enforcer(model_path, policy_path)):
        for user, at, allowed in (
            ("u1", night, True),
            ("u1", night.replace(hour=12), False),  # outside hours
            ("u1", night.replace(year=2025), False),  # before the assignment
            ("u1", night.replace(year=2027), False),  # after the grant's window
            ("u2", night, False),  # disabled
        ):
            ctx = casbin_context(dp.policy, at, user, facts)
            assert enforcer.enforce(user, "account", "service", "use", ctx) is allowed


def test_a_policy_granting_nothing_denies_in_casbin() -> None:
    compiled = point(
        "version: 2\nactions: [use]\nclasses: {c: {level: C1}}\npurposes: {p: {}}\nroles: {r: {}}\n"
    ).compiled
    assert list(NO_RULE) in casbin_rules(compiled)
    ctx = casbin_context(compiled.policy, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "", Context())
    assert casbin_enforcer(compiled).enforce("r", "c", "p", "use", ctx) is False
