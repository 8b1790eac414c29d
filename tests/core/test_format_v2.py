"""Version 2 of the policy format: its keys, their checks, and version 1 left exactly as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.core.load import check_texts, load_policy, load_policy_text
from pdp.core.model import Assignment, Conditions, User
from pdp.core.normalize import normalize, policy_version
from tests.generated import generated
from tests.strategies import policy_and_queries, policy_texts

ROOT = Path(__file__).resolve().parents[2]

V2 = """\
version: 2
timezone: Asia/Shanghai
relationships: [own_customer, own_branch]
actions: [use, transmit]
classes:
  account: {level: C2, sensitive: true}
  account.transaction: {level: C2}
  identity: {level: C2}
purposes:
  customer_service: {legal_basis: contract}
  marketing: {legal_basis: consent}
  marketing.third_party: {consent: separate}
  risk_control: {legal_basis: legal_obligation}
roles:
  relationship_manager: {}
  operations: {}
  fraud_investigator: {}
grants:
  - id: G-RM-OWN-CUSTOMERS
    roles: [relationship_manager]
    classes: [account]
    purposes: [customer_service]
    actions: [use]
    when: {relationship: [own_customer], mfa: true, max_records: 50, hours: "08:00-20:00"}
  - id: G-OPS-EXPORT
    roles: [operations]
    classes: [account.transaction]
    purposes: [risk_control]
    actions: [transmit]
    when: {ticket: true, approver: true}
    valid_from: 2026-01-01
    valid_until: 2026-12-31T23:59:59+08:00
  - id: G-BREAK-GLASS-FRAUD
    roles: [fraud_investigator]
    classes: ["*"]
    purposes: [risk_control]
    actions: [use]
    break_glass: true
users:
  u1001: {roles: [operations, {role: relationship_manager, valid_until: 2026-12-31}]}
  u1002: {roles: [operations], disabled: true}
"""


def test_the_v2_example_reads_into_the_model() -> None:
    policy = load_policy_text(V2, "v2.yaml")
    assert (policy.version, policy.timezone) == (2, "Asia/Shanghai")
    assert policy.relationships == ("own_customer", "own_branch")
    assert policy.classes["account"].sensitive
    assert policy.classes["account.transaction"].sensitive  # inherited
    assert not policy.classes["identity"].sensitive
    assert policy.purposes["marketing.third_party"].consent == "separate"
    assert policy.purposes["marketing"].consent is None
    rm, ops, glass = policy.grants
    assert rm.when == Conditions(
        mfa=True, relationship=("own_customer",), max_records=50, hours=(8 * 60, 20 * 60)
    )
    assert ops.when == Conditions(ticket=True, approver=True)
    assert ops.valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert ops.valid_until == datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)
    assert glass.break_glass and glass.when == Conditions(ticket=True)
    u1001 = policy.users["u1001"]
    assert u1001.roles == ("operations", "relationship_manager")
    assert u1001.assignments[1] == Assignment(
        "relationship_manager", None, datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert u1001.roles_at(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == u1001.roles
    assert u1001.roles_at(datetime(2027, 1, 1, tzinfo=UTC)) == ("operations",)
    assert policy.users["u1002"].disabled and not u1001.disabled


def test_dates_read_alike_quoted_or_not_and_on_both_paths() -> None:
    quoted = V2.replace("2026-01-01", '"2026-01-01"').replace(
        "2026-12-31T23:59:59+08:00", '"2026-12-31T23:59:59+08:00"'
    )
    policies = [
        check_texts([("v2.yaml", text)], fast=fast).policy
        for text in (V2, quoted)
        for fast in (True, False)
    ]
    assert all(p is not None and p == policies[0] for p in policies)


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-07-01T09:00:00", datetime(2026, 7, 1, 9, tzinfo=UTC)),
        ('"2026-07-01T09:00:00"', datetime(2026, 7, 1, 9, tzinfo=UTC)),
        ("2026-07-01 09:00:00", datetime(2026, 7, 1, 9, tzinfo=UTC)),
        ('"2026-07-01T09:00:00.5"', datetime(2026, 7, 1, 9, 0, 0, 500000, tzinfo=UTC)),
        ("2026-07-01T09:00:00+08:00", datetime(2026, 7, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_date_time_without_offset_is_utc_not_the_policy_timezone(
    written: str, instant: datetime
) -> None:
    """The spec: no offset means UTC, whatever `timezone` says (it is for `hours` only)."""
    text = V2.replace("valid_from: 2026-01-01", f"valid_from: {written}").replace(
        "valid_until: 2026-12-31}", f"valid_until: {written}}}"
    )
    for fast in (True, False):
        result = check_texts([("v2.yaml", text)], fast=fast)
        assert result.policy is not None, [str(p) for p in result.problems]
        assert result.policy.grants[1].valid_from == instant
        (windowed,) = [a for a in result.policy.users["u1001"].assignments if a.valid_until]
        assert windowed.valid_until == instant  # a date-time is no date: no 24:00


BAD = """\
version: 3
timezone: Mars/Olympus
relationships: [own_customer]
actions: [use]
classes:
  account: {level: C2, sensitive: true}
  account.tx: {sensitive: false}
  other: {level: C1, sensitive: "x"}
purposes:
  plain: {consent: separate}
  ads: {legal_basis: consent, consent: joint}
roles:
  rm: {}
grants:
  - id: D1
    effect: deny
    roles: [rm]
    classes: [account]
    purposes: [plain]
    actions: [use]
    when: {mfa: true}
    break_glass: true
  - id: G1
    roles: [rm]
    classes: [account]
    purposes: [plain]
    actions: [use]
    when: {relationship: [own_branch], mfa: 1, colour: red, max_records: 0, hours: "25:00-08:00"}
    valid_from: 2026-02-30
  - id: G2
    roles: [rm]
    classes: [account]
    purposes: [plain]
    actions: [use]
    valid_until: "yesterday"
    when: {hours: "08:00-08:00"}
  - id: G3
    roles: [rm]
    classes: [account]
    purposes: [plain]
    actions: [use]
    valid_from: 2026-06-01
    valid_until: 2026-01-01
users:
  u1: {roles: [rm, {role: rm, valid_until: 2026-12-31}, {role: nope}, {valid_from: 2026-01-01}]}
  u2: {roles: [rm], disabled: 1}
"""

# (code, line, id): every problem of BAD, reported at once.
BAD_PROBLEMS = [
    ("unsupported_version", 1, ""),
    ("invalid_timezone", 2, "Mars/Olympus"),
    ("sensitive_lowered", 7, "account.tx"),
    ("expected_bool", 8, "other"),
    ("consent_without_basis", 10, "plain"),
    ("invalid_value", 11, "ads"),
    ("when_on_deny", 21, "D1"),
    ("break_glass_on_deny", 22, "D1"),
    ("undeclared_relationship", 28, "own_branch"),
    ("expected_bool", 28, "G1"),
    ("unknown_key", 28, "colour"),
    ("invalid_value", 28, "G1"),
    ("invalid_hours", 28, "G1"),
    ("invalid_date", 29, "G1"),
    ("invalid_date", 35, "G2"),
    ("invalid_hours", 36, "G2"),
    ("invalid_window", 42, "G3"),
    ("duplicate_assignment", 45, "rm"),
    ("undeclared_role", 45, "nope"),
    ("missing_key", 45, "u1"),
    ("expected_bool", 46, "u2"),
]


def test_every_v2_problem_is_reported_at_once_with_code_line_and_id() -> None:
    result = check_texts([("bad.yaml", BAD)])
    assert result.policy is None
    found = [(p.code, p.location.line, p.id) for p in result.problems]
    assert found == BAD_PROBLEMS
    assert all(p.location.file == "bad.yaml" and p.location.column for p in result.problems)


@pytest.mark.parametrize(
    "hours",
    ["8:00-20:00", "08:00-20:60", "24:00-08:00", "00:00-24:00", "08:00", 800, "08:00-20:00x"],
)
def test_bad_hours_are_refused(hours: Any) -> None:
    text = V2.replace('hours: "08:00-20:00"', f"hours: {yaml.safe_dump(hours).split()[0]}")
    codes = [p.code for p in check_texts([("v2.yaml", text)]).problems]
    assert codes == ["invalid_hours"]


@pytest.mark.parametrize(
    ("hours", "window"), [("22:00-06:00", (1320, 360)), ("08:00-24:00", (480, 1440))]
)
def test_hours_may_wrap_or_end_at_midnight(hours: str, window: tuple[int, int]) -> None:
    policy = load_policy_text(V2.replace("08:00-20:00", hours))
    assert policy.grants[0].when is not None and policy.grants[0].when.hours == window


def test_a_wrong_typed_when_or_date_is_a_problem_not_a_traceback() -> None:
    text = V2.replace("when: {ticket: true, approver: true}", "when: [ticket]").replace(
        "valid_from: 2026-01-01", "valid_from: [2026]"
    )
    codes = sorted(p.code for p in check_texts([("v2.yaml", text)]).problems)
    assert codes == ["expected_mapping", "invalid_date"]


def test_an_empty_when_and_false_flags_require_nothing() -> None:
    text = V2.replace("when: {ticket: true, approver: true}", "when: {mfa: false}")
    policy = load_policy_text(text)
    assert policy.grants[1].when is None
    same = load_policy_text(V2.replace("when: {ticket: true, approver: true}", "when: {}"))
    assert policy_version(policy) == policy_version(same)


def test_break_glass_means_a_ticket_is_required() -> None:
    spelled = V2.replace("    break_glass: true", "    break_glass: true\n    when: {ticket: true}")
    assert policy_version(load_policy_text(spelled)) == policy_version(load_policy_text(V2))


def test_every_v2_key_changes_the_version() -> None:
    base = policy_version(load_policy_text(V2))
    edits = [
        ("timezone: Asia/Shanghai", "timezone: Europe/London"),
        ("account: {level: C2, sensitive: true}", "account: {level: C2}"),
        ("marketing.third_party: {consent: separate}", "marketing.third_party: {}"),
        ("mfa: true, max_records: 50", "max_records: 50"),
        ("max_records: 50", "max_records: 51"),
        ('"08:00-20:00"', '"08:00-21:00"'),
        ("relationship: [own_customer]", "relationship: [own_customer, own_branch]"),
        ("approver: true", "approver: false"),
        ("valid_from: 2026-01-01", "valid_from: 2026-01-02"),
        ("valid_until: 2026-12-31T23:59:59+08:00", "valid_until: 2026-12-31"),
        ("    break_glass: true", "    when: {ticket: true}"),
        ("valid_until: 2026-12-31}", "valid_until: 2027-12-31}"),
        ("disabled: true", "disabled: false"),
    ]
    for old, new in edits:
        assert old in V2, old
        assert policy_version(load_policy_text(V2.replace(old, new))) != base, new


# Versions of version-1 policies as computed before version 2 existed: they must not move.
GENERATED_V1_VERSIONS = {
    0: "sha256:36f6bac364d8b6a2",
    1: "sha256:928fb6c1f8380608",
    2: "sha256:ef0148a5fd3b4596",
}


@pytest.mark.parametrize("seed", sorted(GENERATED_V1_VERSIONS))
def test_generated_v1_policies_keep_their_versions(seed: int) -> None:
    data = generated(
        grants=300,
        roles=40,
        users=200,
        classes=30,
        purposes=10,
        sod_rules=3,
        toxic_rules=3,
        seed=seed,
    )
    policy = load_policy_text(yaml.safe_dump(data, sort_keys=False))
    assert policy_version(policy) == GENERATED_V1_VERSIONS[seed]


V2_ONLY = {"timezone", "relationships", "sensitive", "consent", "when", "break_glass"}
V2_ONLY |= {"valid_from", "valid_until", "windows", "disabled"}


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data).union(*(_keys(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_keys(v) for v in data))
    return set()


@settings(max_examples=60, deadline=None)
@given(policy_texts())
def test_a_v1_policy_has_a_v1_normal_form_and_v1_model_values(text: str) -> None:
    policy = load_policy_text(text)
    assert not _keys(normalize(policy)) & V2_ONLY
    assert (policy.version, policy.timezone, policy.relationships) == (1, "UTC", ())
    assert all(g.when is None and not g.timed and not g.break_glass for g in policy.grants)
    assert all(u == User(u.id, u.roles) for u in policy.users.values())
    declared_v2 = load_policy_text(text.replace("version: 1", "version: 2"))
    assert declared_v2.version == 2 and policy_version(declared_v2) == policy_version(policy)


def test_the_bundled_policy_loads() -> None:
    assert load_policy(ROOT / "policies").grants


V2_FACTS = st.fixed_dictionaries(
    {},
    optional={
        "mfa": st.booleans(),
        "ticket": st.just("T-1"),
        "approver": st.just("u-2"),
        "records": st.integers(1, 10_000),
        "customer": st.just("C-1"),
        "time": st.datetimes(
            min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(datetime.isoformat),
    },
)


@settings(max_examples=60, deadline=None)
@given(policy_and_queries(count=10), st.lists(V2_FACTS, min_size=10, max_size=10))
def test_a_v1_policy_ignores_the_v2_context(
    generated: tuple[dict[str, Any], list[dict[str, Any]]], facts: list[dict[str, Any]]
) -> None:
    """On a version-1 policy, MFA, tickets, records, customers and time change no decision."""
    from pdp import DecisionPoint

    policy, queries = generated
    dp = DecisionPoint.from_text(yaml.safe_dump(policy, sort_keys=False))
    for query, extra in zip(queries, facts, strict=True):
        plain = dp.decide(**query)
        richer = dp.decide(**{**query, "context": {**query["context"], **extra}})
        assert richer == plain
