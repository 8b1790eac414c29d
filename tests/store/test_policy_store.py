"""The policy store: versions, chained history, maker-checker, serialised pushes, casbin_rule."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from pdp.cli.app import app
from pdp.core.decision import Request
from pdp.decision_point import DecisionPoint
from pdp.errors import PolicyError, StoreRefusedError
from pdp.store.policy_store import CASBIN_CHANNEL, PolicyStore
from pdp.store.replica import listen_conninfo
from pdp.store.source import named_texts
from tests.contexts import meeting_everything
from tests.store.conftest import POLICIES

pytestmark = pytest.mark.postgres
runner = CliRunner()


def texts_of(policy: Path) -> list[tuple[str, str]]:
    texts, problems = named_texts(policy)
    assert not problems
    return texts


def without_prohibitions(tmp_path: Path) -> Path:
    target = tmp_path / "partial"
    shutil.copytree(POLICIES, target)
    (target / "50-prohibitions.yaml").unlink()
    return target


def sql(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_push_stores_activates_and_chains(store_url: str, tmp_path: Path) -> None:
    store = PolicyStore.open(store_url)
    try:
        first = store.push(texts_of(POLICIES), "the bundled policy")
        second = store.push(texts_of(without_prohibitions(tmp_path)), "drop prohibitions")
        current = store.active()
        assert current.version is not None and current.version.id == second.id
        assert second.parent_id == first.id and second.author == "postgres"
        assert [e.kind for e in store.history()] == ["push", "push"]
        assert store.verify().ok
        assert store.rollback(str(first.id)).version == first.version
        assert store.active().version.version == first.version  # type: ignore[union-attr]
        assert store.version(first.version[:12]).id in {first.id}
    finally:
        store.close()
    history = runner.invoke(app, ["policy", "history", "--db", store_url])
    assert history.exit_code == 0 and "rollback" in history.output
    # The decision-level diff of two stored versions: the prohibitions' removal adds access
    # (u1022's marketing grant, denied only by its analyst role's D-ANALYST-IDENTIFIED).
    diff = runner.invoke(app, ["policy", "diff", "1", "2", "--db", store_url, "--json"])
    assert diff.exit_code == 0, diff.output
    result = json.loads(diff.output)
    assert result["removed"] == [] and result["users"]["removed"] == []
    assert {
        "user": "u1022",
        "info_class": "identity.name",
        "purpose": "marketing",
        "action": "use",
    } in result["users"]["added"]
    shown = runner.invoke(
        app, ["policy", "show", "1", "--db", store_url, "--file", "50-prohibitions.yaml"]
    )
    assert shown.output == (POLICIES / "50-prohibitions.yaml").read_text()
    # Tampering with the history breaks its chain: `pdp policy history` exits 1.
    sql(
        store_url,
        "UPDATE pdp_policy_events SET body = replace(body, 'postgres', 'mallory') WHERE seq = 2",
    )
    tampered = runner.invoke(app, ["policy", "history", "--db", store_url])
    assert tampered.exit_code == 1 and "chain broken" in tampered.output


def test_db_upgrade_prints_the_store_url_redacted(store_url: str) -> None:
    secret = store_url.replace("postgres@", "postgres:s3cret-pw@", 1)  # trust auth ignores it
    result = runner.invoke(app, ["db", "upgrade", "--db", secret])
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output and "postgres:***@" in result.output


def test_an_invalid_push_changes_nothing(store_url: str, tmp_path: Path) -> None:
    store = PolicyStore.open(store_url)
    try:
        store.push(texts_of(POLICIES))
        before = (store.history(), store.active().event_seq)
        rules = sql(store_url, "SELECT count(*) FROM casbin_rule")
        broken = tmp_path / "broken"
        shutil.copytree(POLICIES, broken)
        grants = broken / "40-grants.yaml"
        grants.write_text(grants.read_text().replace("roles: [teller]", "roles: [ghost]", 1))
        with pytest.raises(PolicyError) as caught:
            store.push(texts_of(broken))
        assert any("ghost" in p.message for p in caught.value.problems)
        assert (store.history(), store.active().event_seq) == before
        assert sql(store_url, "SELECT count(*) FROM pdp_policy_versions") == [(1,)]
        assert sql(store_url, "SELECT count(*) FROM casbin_rule") == rules
    finally:
        store.close()
    result = runner.invoke(app, ["policy", "push", str(broken), "--db", store_url])
    assert result.exit_code == 2 and "40-grants.yaml" in result.output


def test_maker_checker_refuses_self_approval(
    store_url: str, identities: dict[str, str], tmp_path: Path
) -> None:
    maker, checker = PolicyStore.open(identities["maker"]), PolicyStore.open(identities["checker"])
    try:
        active = maker.push(texts_of(POLICIES), "baseline")
        proposal = maker.push(texts_of(without_prohibitions(tmp_path)), "risky", propose=True)
        assert proposal.status == "proposed" and proposal.author == "pdp_test_maker"
        assert maker.active().version.id == active.id  # type: ignore[union-attr]
        with pytest.raises(StoreRefusedError, match="cannot approve it"):
            maker.approve(str(proposal.id))
        refused = runner.invoke(
            app, ["policy", "approve", str(proposal.id), "--db", identities["maker"]]
        )
        assert refused.exit_code == 2 and "maker-checker" in refused.output
        assert maker.active().version.id == active.id  # type: ignore[union-attr]
        checker.approve(str(proposal.id), "four eyes")
        assert maker.active().version.id == proposal.id  # type: ignore[union-attr]
        kinds = [(e.kind, e.actor) for e in maker.history()]
        assert kinds == [
            ("push", "pdp_test_maker"),
            ("propose", "pdp_test_maker"),
            ("approve", "pdp_test_checker"),
        ]
        with pytest.raises(StoreRefusedError, match="not a proposal"):
            checker.approve(str(proposal.id))
        assert maker.verify().ok
    finally:
        maker.close()
        checker.close()


def test_concurrent_pushes_serialise_into_a_clean_history(store_url: str, tmp_path: Path) -> None:
    policies = [texts_of(POLICIES), texts_of(without_prohibitions(tmp_path))]
    errors: list[BaseException] = []

    def push(n: int) -> None:
        store = PolicyStore.open(store_url)
        try:
            store.push(policies[n % 2], f"push {n}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=push, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = PolicyStore.open(store_url)
    try:
        history = store.history()
        assert [e.seq for e in history] == list(range(1, 9))
        assert sorted(e.version_id for e in history) == list(range(1, 9))
        parents = sql(store_url, "SELECT id, parent_id FROM pdp_policy_versions ORDER BY id")
        order = {e.version_id: e.seq for e in history}
        for version_id, parent in parents:  # each parent is the version active just before
            seq = order[version_id]  # type: ignore[index]
            expected = None if seq == 1 else next(e.version_id for e in history if e.seq == seq - 1)
            assert parent == expected
        assert store.verify().ok
        assert store.active().version.id == history[-1].version_id  # type: ignore[union-attr]
    finally:
        store.close()


def test_plain_pycasbin_enforces_the_active_version_from_casbin_rule(
    store_url: str, tmp_path: Path
) -> None:
    """A Casbin service with the SQL adapter sees the same allow/deny as pdp."""
    import casbin  # plain pycasbin, as any application using Casbin would
    from casbin_sqlalchemy_adapter import Adapter

    from pdp.core.casbin_export import casbin_model, casbin_request

    # Listen as casbin-postgresql-watcher does: any notification on its channel means reload.
    with psycopg.connect(listen_conninfo(store_url), autocommit=True) as watcher:
        watcher.execute(f"LISTEN {CASBIN_CHANNEL}")
        store = PolicyStore.open(store_url)
        try:
            pushed = store.push(texts_of(POLICIES))
        finally:
            store.close()
        (note,) = list(watcher.notifies(timeout=10, stop_after=1))
        assert json.loads(note.payload)["version"] == pushed.version
    dp = DecisionPoint.from_path(POLICIES)
    model = tmp_path / "model.conf"
    model.write_text(casbin_model(dp.compiled))
    engine = create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        enforcer = casbin.Enforcer(str(model), Adapter(engine))
        policy = dp.policy
        space = list(
            itertools.product(
                sorted(policy.roles), sorted(policy.classes), sorted(policy.purposes), ["use"]
            )
        )
        # Plain Casbin scans every rule per request: a seeded sample keeps the test fast.
        asks = random.Random(11).sample(space, 150)
        asks += [("fraud_investigator", "sensitive.biometric", "risk_control.fraud", "use")]
        allowed = 0
        everything = meeting_everything(policy)
        for role, info_class, purpose, action in asks:
            request = Request("role", role, info_class, purpose, action, everything)
            ours = dp.decide(**request.to_dict())
            args = casbin_request(dp.compiled, request, dp.clock())
            assert args is not None
            theirs = enforcer.enforce(*args)
            assert theirs == ours.allowed, (role, info_class, purpose, action)
            allowed += theirs
        assert 0 < allowed < len(asks)
    finally:
        engine.dispose()
