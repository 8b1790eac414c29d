"""The review and the diff of version-2 policies, against the naive reading of the spec.

Held at a time (`--at`) is rules 1-4 with the grants and role assignments in
their windows, `when` and consent ignored (`tests/oracle.py`'s `held`); a
disabled user holds nothing. It is also what plain `casbin.Enforcer` on the
version-2 export allows at that time to a context meeting every requirement.
A permission is loosened when a new allow grant behind it asks less than
every old one.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.analysis.checks.controls import expiring_access
from pdp.analysis.context import ReviewContext
from pdp.analysis.review import review
from pdp.analysis.timing import policy_at
from pdp.casbin_engine import casbin_enforcer
from pdp.core.casbin_export import casbin_request
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.decision import Request, SubjectKind
from pdp.core.load import load_policy_text
from pdp.policyci.diff import loosened_access
from tests import oracle
from tests.contexts import meeting_each_relationship
from tests.strategies import CLOCKS, DAYS, policies, to_yaml

INSTANTS = [
    dt.datetime(d.year, d.month, d.day, int(c[:2]), int(c[3:]), tzinfo=dt.UTC) + nudge
    for d in DAYS
    for c in CLOCKS
    for nudge in (dt.timedelta(0), dt.timedelta(seconds=-1))
]


def compiled(data: dict[str, Any]) -> CompiledPolicy:
    return compile_policy(load_policy_text(to_yaml(data)))


def _declared(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c, p, a) for c in data["classes"] for p in data["purposes"] for a in data["actions"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(version=2), st.sampled_from(INSTANTS))
def test_held_at_a_time_is_the_naive_reading(data: dict[str, Any], at: dt.datetime) -> None:
    """Every role's and user's held set at `at`, as the review computes it, is the oracle's."""
    ctx = ReviewContext.build(policy_at(compiled(data), at))
    space = ctx.space
    for role in data["roles"]:
        want = {x for x in _declared(data) if _oracle_held(data, {"role": role}, x, at)}
        assert set(space.decode(ctx.role_held[role])) == want, role
    for uid, user in data.get("users", {}).items():
        roles = ctx.compiled.policy.users[uid].roles
        want = set()
        if not user.get("disabled"):
            want = {x for x in _declared(data) if _oracle_held(data, {"user": uid}, x, at)}
        assert set(space.decode(ctx.full.held(roles))) == want, uid


def _oracle_held(
    data: dict[str, Any], subject: dict[str, str], key: tuple[str, str, str], at: dt.datetime
) -> bool:
    c, p, a = key
    request = {**subject, "info_class": c, "purpose": p, "action": a}
    return oracle.held(data, request, at)


def hours_around(data: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    """The policy with every `hours` that leaves out `at` (in its timezone, by the oracle)
    moved to the hour of the day that holds `at`; `hours` that hold `at` are kept."""
    moved = copy.deepcopy(data)
    local = at.astimezone(ZoneInfo(data.get("timezone", "UTC")))
    around = f"{local.hour:02d}:00-{local.hour + 1:02d}:00"
    for grant in moved["grants"]:
        hours = grant.get("when", {}).get("hours")
        if hours is not None and not oracle.in_hours(data, hours, at):
            grant["when"]["hours"] = around
    return moved


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(version=2), st.sampled_from(INSTANTS))
def test_held_at_a_time_is_what_plain_casbin_allows_with_every_fact(
    generated: dict[str, Any], at: dt.datetime
) -> None:
    """The review's held set at `at` (rules 1-4: `when` and consent ignored) is what plain
    `casbin.Enforcer` on the version-2 export allows at `at` to a context meeting every
    requirement and naming every consent, on policies whose `hours` hold `at`."""
    data = hours_around(generated, at)
    whole = compiled(data)
    ctx = ReviewContext.build(policy_at(whole, at))
    enforcer = casbin_enforcer(whole)
    contexts = meeting_each_relationship(whole.policy, at.isoformat())
    subjects: list[tuple[SubjectKind, str, int]] = [
        ("role", r, ctx.role_held[r]) for r in data["roles"]
    ]
    for uid in data.get("users", {}):
        subjects.append(("user", uid, ctx.full.held(ctx.compiled.policy.users[uid].roles)))
    for kind, subject, mask in subjects:
        held = set(ctx.space.decode(mask))
        for key in _declared(data):
            allowed = False
            for context in contexts:
                args = casbin_request(whole, Request(kind, subject, *key, context), at)
                assert args is not None
                allowed = allowed or enforcer.enforce(*args)
            assert allowed is (key in held), (kind, subject, key, at)


@st.composite
def loosened_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A version-2 policy and an edit of its grants' requirements and windows, either way."""
    old = draw(policies(version=2))
    new = copy.deepcopy(old)
    for grant in new["grants"]:
        if grant.get("effect") == "deny" or not draw(st.booleans()):
            continue
        edit = draw(st.sampled_from(["drop_when", "drop_key", "records", "hours", "window", "add"]))
        when = grant.get("when", {})
        if edit == "drop_when":
            grant.pop("when", None)
            grant.pop("break_glass", None)
        elif edit == "drop_key" and when:
            when.pop(draw(st.sampled_from(sorted(when))))
        elif edit == "records":
            when["max_records"] = draw(st.sampled_from([1, 10, 50, 100]))
        elif edit == "hours":
            first, second = draw(st.lists(st.sampled_from(CLOCKS), min_size=2, max_size=2))
            if first != second:
                when["hours"] = f"{first}-{second}"
        elif edit == "window":
            grant.pop(draw(st.sampled_from(["valid_from", "valid_until"])), None)
        else:
            when["mfa"] = True
        if when:
            grant["when"] = when
        else:
            grant.pop("when", None)
    return old, new


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loosened_pairs(), st.sampled_from(INSTANTS))
def test_loosened_is_the_naive_comparison(
    pair: tuple[dict[str, Any], dict[str, Any]], at: dt.datetime
) -> None:
    old, new = pair
    found = loosened_access(policy_at(compiled(old), at), policy_at(compiled(new), at))
    got = {(x.role, x.info_class, x.purpose, x.action) for x in found}
    want = set()
    for role in new["roles"]:
        if role not in old["roles"]:
            continue
        for key in _declared(new):
            if key in _declared(old) and _naive_loosened(old, new, role, key, at):
                want.add((role, *key))
    assert got == want


def _naive_loosened(
    old: dict[str, Any], new: dict[str, Any], role: str, key: tuple[str, str, str], at: dt.datetime
) -> bool:
    c, p, a = key
    request = {"role": role, "info_class": c, "purpose": p, "action": a}
    before, denied_before = oracle.matching(old, request, at)
    after, denied_after = oracle.matching(new, request, at)
    if not before or denied_before or not after or denied_after:
        return False
    return any(not any(_as_strict(n, o, new, old) for _, o in before) for _, n in after)


def _as_strict(
    n: dict[str, Any], o: dict[str, Any], new: dict[str, Any], old: dict[str, Any]
) -> bool:
    """Every request grant `n` accepts, grant `o` accepts (read from the plain data)."""
    wn, wo = _when(n), _when(o)
    for flag in ("mfa", "ticket", "approver"):
        if wo.get(flag) and not wn.get(flag):
            return False
    if "relationship" in wo and not set(wn.get("relationship", [None])) <= set(wo["relationship"]):
        return False
    if "max_records" in wo and wn.get("max_records", float("inf")) > wo["max_records"]:
        return False
    if "hours" in wo:
        if "hours" not in wn:
            return False
        if not _minutes(wn["hours"]) <= _minutes(wo["hours"]):
            return False
    if "valid_from" in o:
        if "valid_from" not in n:
            return False
        if oracle._instant(n["valid_from"], False) < oracle._instant(o["valid_from"], False):
            return False
    if "valid_until" in o:
        if "valid_until" not in n:
            return False
        if oracle._instant(n["valid_until"], True) > oracle._instant(o["valid_until"], True):
            return False
    return True


def _when(grant: dict[str, Any]) -> dict[str, Any]:
    when = dict(grant.get("when", {}))
    if grant.get("break_glass"):
        when["ticket"] = True
    return when


def _minutes(hours: str) -> set[int]:
    start, end = (int(t[:2]) * 60 + int(t[3:]) for t in hours.split("-"))
    day = range(24 * 60)
    return {m for m in day if (start <= m < end if start < end else m >= start or m < end)}


POLICY = """
version: 2
actions: [use, read]
classes: {account: {level: C2, sensitive: true}, account.pin: {level: C3}, public: {level: C1}}
purposes: {service: {}, fraud: {}}
roles: {teller: {duties: [service]}, investigator: {duties: [fraud]}, svc: {duties: [service]}}
users:
  u1: {roles: [teller, {role: investigator, valid_until: 2026-04-10}]}
  u2: {roles: [{role: teller, valid_from: 2026-05-01}]}
  u3: {roles: [investigator], disabled: true}
grants:
  - {id: G-TELLER, roles: [teller], classes: [account], purposes: [service], actions: [read],
     when: {mfa: true, max_records: 10}}
  - {id: G-PUBLIC, roles: [teller], classes: [public], purposes: [service], actions: [read]}
  - {id: G-BG, roles: [investigator], classes: [account], purposes: [fraud], actions: [use],
     break_glass: true}
  - {id: G-SVC, roles: [svc], classes: [account.pin], purposes: [service], actions: [use],
     valid_until: 2026-04-20}
"""


def test_version_2_kinds_and_conditions_in_the_evidence() -> None:
    compiled_policy = compile_policy(load_policy_text(POLICY))
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    result = review(compiled_policy, now=at)
    found = {(f.kind, f.rule_id, f.subject_id) for f in result.findings}
    assert ("break_glass_grant", "G-BG", "investigator") in found
    assert ("expiring_access", "G-SVC", "svc") in found  # 19 days left
    assert ("expiring_access", "investigator", "u1") in found  # the assignment, 9 days left
    assert ("sensitive_without_mfa", "G-BG", "investigator") in found
    assert ("sensitive_without_mfa", "G-SVC", "svc") in found
    assert not any(k == "sensitive_without_mfa" and r == "G-TELLER" for k, r, _ in found)
    glass = next(f for f in result.findings if f.kind == "break_glass_grant")
    assert glass.statistics == {"users": 1}  # u1; u3 is disabled
    assert "users: u1" in glass.details
    assert result.summary["at"] == "2026-04-01T00:00:00Z"
    outside = [f for f in result.findings if any("grant:G-TELLER" in p for p in f.evidence)]
    for f in outside:
        assert "G-TELLER applies only with: mfa, at most 10 records" in f.details
    later = review(compiled_policy, now=at, at=dt.datetime(2026, 4, 25, tzinfo=dt.UTC))
    kinds = {(f.kind, f.rule_id, f.subject_id) for f in later.findings}
    assert ("expired_access", "G-SVC", "svc") in kinds
    assert ("expired_access", "investigator", "u1") in kinds
    assert not any(k == "break_glass_grant" and s == "u1" for k, _, s in kinds)
    glass_later = next(f for f in later.findings if f.kind == "break_glass_grant")
    assert glass_later.statistics == {"users": 0}  # u1's assignment has ended


def test_a_version_1_policy_gets_none_of_the_version_2_kinds() -> None:
    """A version-1 policy cannot ask for MFA: C3 grants there are not `sensitive_without_mfa`."""
    text = (
        "actions: [use]\nclasses: {a: {level: C3}}\npurposes: {p: {}}\n"
        "roles: {r: {duties: [p]}}\nusers: {u: {roles: [r]}}\n"
        "grants: [{id: G, roles: [r], classes: [a], purposes: [p], actions: [use]}]\n"
    )
    result = review(compile_policy(load_policy_text(text)))
    assert not {f.kind for f in result.findings} & {
        "break_glass_grant",
        "expired_access",
        "expiring_access",
        "sensitive_without_mfa",
    }
    assert "at" not in result.summary


BASE = """
version: 2
actions: [read]
classes: {account: {level: C2}}
purposes: {service: {}}
roles: {teller: {duties: [service]}}
users: {u1: {roles: [teller]}}
grants:
  - {id: G, roles: [teller], classes: [account], purposes: [service], actions: [read],
     when: {mfa: true, max_records: 10, hours: "08:00-18:00"}, valid_until: 2026-06-01}
"""
LOOSER = [
    ('hours: "08:00-18:00"', 'hours: "07:00-18:00"'),
    ("max_records: 10", "max_records: 50"),
    ("mfa: true, ", ""),
    ("valid_until: 2026-06-01", "valid_until: 2026-09-01"),
    ('hours: "08:00-18:00"', 'hours: "20:00-09:00"'),
]
STRICTER = [
    ('hours: "08:00-18:00"', 'hours: "09:00-17:00"'),
    ("max_records: 10", "max_records: 5"),
    ("mfa: true", "mfa: true, ticket: true"),
    ("valid_until: 2026-06-01", "valid_until: 2026-05-01"),
]


def test_each_way_of_asking_less_is_loosened_and_asking_more_is_not() -> None:
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    old = policy_at(compile_policy(load_policy_text(BASE)), at)
    for before, after in LOOSER + STRICTER:
        assert before in BASE
        new = policy_at(compile_policy(load_policy_text(BASE.replace(before, after))), at)
        found = loosened_access(old, new)
        assert bool(found) == ((before, after) in LOOSER), after
        for x in found:
            assert (x.role, x.info_class, x.grants) == ("teller", "account", ("G",))


def test_diff_fails_on_loosened_access(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from pdp.cli.app import app

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(BASE, encoding="utf-8")
    new.write_text(BASE.replace("max_records: 10", "max_records: 50"), encoding="utf-8")
    args = ["diff", str(old), str(new), "--at", "2026-04-01", "--no-findings"]
    result = CliRunner().invoke(app, [*args, "--fail-on", "new-access"])
    assert result.exit_code == 1, result.output
    assert "loosened: 1 still-held permission(s)" in result.output
    assert "G asks mfa, at most 50 records" in result.output
    same = CliRunner().invoke(
        app,
        [
            "diff",
            str(old),
            str(old),
            "--at",
            "2026-04-01",
            "--no-findings",
            "--fail-on",
            "new-access",
        ],
    )
    assert same.exit_code == 0
    late = CliRunner().invoke(app, [*args, "--at", "2026-07-01", "--fail-on", "new-access"])
    assert late.exit_code == 0  # G no longer exists then: nothing is held in both
    bad = CliRunner().invoke(app, ["diff", str(old), str(new), "--at", "soon"])
    assert bad.exit_code == 2


def test_review_at_a_time_from_the_cli(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from pdp.cli.app import app

    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    args = ["review", str(path), "--json", "--fail-on", "none"]
    result = CliRunner().invoke(app, [*args, "--at", "2026-04-25T00:00:00Z"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["at"] == "2026-04-25T00:00:00Z"
    assert report["summary"]["by_kind"]["expired_access"] == 2
    assert CliRunner().invoke(app, [*args, "--at", "next week"]).exit_code == 2


def test_role_mining_reads_a_version_2_policy_at_a_time(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from pdp.cli.app import app

    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    early = CliRunner().invoke(app, ["mine", str(path), "--json", "--at", "2026-04-01"])
    late = CliRunner().invoke(app, ["mine", str(path), "--json", "--at", "2026-05-02"])
    assert early.exit_code == late.exit_code == 0, early.output
    holders = [
        sorted(u for role in json.loads(r.stdout)["roles"] for u in role["users"])
        for r in (early, late)
    ]
    assert holders == [["u1"], ["u1", "u2"]]  # u2 is a teller from 2026-05-01; u3 is disabled


EXPIRY = """
version: 2
actions: [use]
classes: {a: {level: C1}}
purposes: {p: {}}
roles: {r: {}}
grants:
  - {id: G-LAST-DAY, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_until: "2026-05-01T00:00:00Z"}
  - {id: G-A-SECOND-LATER, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_until: "2026-05-01T00:00:01Z"}
  - {id: G-ENDS-NOW, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_until: "2026-04-01T00:00:00Z"}
  - {id: G-LONG-GONE, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_until: 2025-01-01}
  - {id: G-NOT-YET, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_from: 2026-04-05, valid_until: "2026-04-30T23:00:00Z"}
  - {id: G-FROM-ONLY, roles: [r], classes: [a], purposes: [p], actions: [use],
     valid_from: 2026-04-05}
"""


def test_expiring_means_within_30_days_included_and_expired_however_long_ago() -> None:
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    found = {
        f.rule_id: (f.kind, f.statistics["days"])
        for f in expiring_access(compile_policy(load_policy_text(EXPIRY)), at)
    }
    assert found == {
        "G-LAST-DAY": ("expiring_access", 30),
        "G-ENDS-NOW": ("expired_access", 0),
        "G-LONG-GONE": ("expired_access", 454),  # a date ends at its 24:00
        "G-NOT-YET": ("expiring_access", 29),  # 29 days and 23 hours: whole days
    }
