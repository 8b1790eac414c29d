"""`pdp replay`: logged decisions re-decided under a candidate policy, on a generated log."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.audit import export_log, open_log, read_records
from pdp.audit.record import decision_record
from pdp.cli.app import app
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.decision import CONSENT_REQUIRED, Request, decide
from pdp.core.load import load_policy
from pdp.policyci.diff import diff_policies
from pdp.policyci.replay import replay
from tests.contexts import meeting_everything

POLICIES = Path(__file__).parents[2] / "policies"
WIDEN = """\
grants:
  - id: G-CANDIDATE-WIDEN
    roles: [teller]
    classes: [identity, account]
    purposes: [customer_service, account_opening]
    actions: [use, disclose, store]
"""


def _requests(compiled: CompiledPolicy, n: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    p = compiled.policy
    met = meeting_everything(p)
    roles, users = sorted(p.roles), sorted(p.users)
    classes, purposes, actions = sorted(p.classes), sorted(p.purposes), list(p.actions)
    result = []
    for _ in range(n):
        kind = rng.choice(["role", "user"])
        purpose = rng.choice(purposes)
        # Every requirement met (MFA, ticket...), so that a flip is a change of what is held.
        context = {**met, "consent": [purpose] if rng.random() < 0.5 else []}
        result.append(
            Request(
                kind,  # type: ignore[arg-type]
                rng.choice(roles if kind == "role" else users),
                rng.choice(classes),
                purpose,
                rng.choice(actions),
                context,
            )
        )
    # also requests that surely reach grants: every held permission of a few roles
    from pdp.core.queries import held_permissions

    for role in roles[:6]:
        for h in held_permissions(compiled, compiled.role_closure[role]):
            result.append(Request("role", role, h.info_class, h.purpose, h.action, met))
    # and consent-based permissions asked without the customer's consent
    for h in held_permissions(compiled, compiled.role_closure["marketing_specialist"]):
        if h.purpose in compiled.consent_scope:
            no_consent = {**met, "consent": []}
            asked = (h.info_class, h.purpose, h.action)
            result.append(Request("role", "marketing_specialist", *asked, no_consent))
    return result


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSONL export of a SQLite decision log of decisions under the reference policy."""
    root = tmp_path_factory.mktemp("replay")
    compiled = compile_policy(load_policy(POLICIES))
    db = open_log(str(root / "decisions.db"))
    for request in _requests(compiled, 3000, seed=7):
        db.append(decision_record(request, decide(compiled, request), caller="test"))
    db.close()
    out = root / "decisions.jsonl"
    export_log(str(root / "decisions.db"), out)
    return out


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference policy plus a grant widening what tellers may do with identity data."""
    target = tmp_path_factory.mktemp("candidate") / "policies"
    shutil.copytree(POLICIES, target)
    (target / "99-candidate.yaml").write_text(WIDEN, encoding="utf-8")
    return target


def test_same_policy_flips_nothing(log: Path) -> None:
    compiled = compile_policy(load_policy(POLICIES))
    records = list(read_records(str(log)))
    report = replay(compiled, records)
    assert report.decisions == len(records) > 3000
    assert report.flips == [] and report.obligations_changed == 0
    assert any(CONSENT_REQUIRED in r.reasons for r in records)


def test_flips_are_exactly_the_held_changes(log: Path, changed: Path) -> None:
    old = compile_policy(load_policy(POLICIES))
    new = compile_policy(load_policy(changed))
    diff = diff_policies(old, new)
    moved = {("role", a.subject, *a.key) for a in [*diff.added, *diff.removed]}
    moved |= {("user", a.subject, *a.key) for a in [*diff.users_added, *diff.users_removed]}
    report = replay(new, read_records(str(log)))
    flipped = {id(f.record) for f in report.flips}
    assert report.flips, "the widened grant must flip some logged decision"
    checked = 0
    for record in read_records(str(log)):
        if record.purpose in new.consent_scope or record.kind != "decision":
            continue
        key = (
            record.subject_kind,
            record.subject,
            record.info_class,
            record.purpose,
            record.action,
        )
        expected = key in moved
        got = any(
            (
                f.record.subject_kind,
                f.record.subject,
                f.record.info_class,
                f.record.purpose,
                f.record.action,
            )
            == key
            for f in report.flips
        )
        assert got == expected, key
        checked += 1
    assert checked > 1000 and flipped


def test_cli_formats_and_exit_codes(log: Path, changed: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    same = runner.invoke(app, ["replay", str(log), "--policy", str(POLICIES), "--fail-on-flip"])
    assert same.exit_code == 0, same.output
    assert "0 would flip" in same.output
    result = runner.invoke(app, ["replay", str(log), "--policy", str(changed), "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["flips"] == data["deny_to_allow"] + data["allow_to_deny"] > 0
    assert sum(g["count"] for g in data["groups"]) == data["flips"]
    flip = runner.invoke(app, ["replay", str(log), "--policy", str(changed), "--fail-on-flip"])
    assert flip.exit_code == 1 and "deny->allow" in flip.output
    db = runner.invoke(
        app, ["replay", str(log.with_suffix(".db")), "--policy", str(changed), "--format", "json"]
    )
    assert db.exit_code == 0 and json.loads(db.output)["flips"] == data["flips"]
    md = runner.invoke(app, ["replay", str(log), "--policy", str(changed), "--format", "markdown"])
    assert "| count |" in md.output
    missing = runner.invoke(
        app, ["replay", str(tmp_path / "none.jsonl"), "--policy", str(POLICIES)]
    )
    assert missing.exit_code == 2
