"""`pdp mine`: JSON, YAML and text output, merge suggestions, and exit codes on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pdp.analysis.mining import relation_from_policy
from pdp.analysis.timing import policy_at
from pdp.cli.app import app
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy, load_policy_text
from pdp.core.queries import held_permissions
from tests.analysis.conftest import AT, AT_OPTION

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["mine", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def up_file(tmp_path: Path) -> Path:
    path = tmp_path / "up.txt"
    # u1 and u2 share {1, 2}; u2 also has 3; u3 has only 3
    path.write_text("  1  1\n  1  2\n  2  1\n  2  2\n  2  3\n  3  3\n")
    return path


def test_json_output_of_an_up_file(up_file: Path) -> None:
    code, out, _ = _run("--up", str(up_file), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["summary"] == {
        "users": 3,
        "permissions": 3,
        "up_edges": 6,
        "roles": 2,
        "verified": True,
        "lower_bound": 2,
        "optimal": True,
        "forced_roles": 2,
        "seconds": document["summary"]["seconds"],
    }
    roles = {tuple(r["permissions"]): r for r in document["roles"]}
    assert roles[("1", "2")]["users"] == ["1", "2"]
    assert roles[("3",)]["users"] == ["2", "3"]
    assert sorted(r["id"] for r in document["roles"]) == ["mined_role_001", "mined_role_002"]


def test_yaml_output_of_an_up_file_lists_roles_and_users(up_file: Path) -> None:
    code, out, _ = _run("--up", str(up_file), "--format", "yaml")
    assert code == 0
    assert out.startswith("# pdp mine: 2 roles mined from")
    document = yaml.safe_load(out)
    assert set(document["roles"]) == {"mined_role_001", "mined_role_002"}
    assert {u: len(v["roles"]) for u, v in document["users"].items()} == {"1": 1, "2": 2, "3": 1}


def test_policy_json_is_verified_and_counts_declared_roles() -> None:
    code, out, _ = _run(str(POLICY), "--format", "json")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["verified"] is True
    assert summary["users"] == len(load_policy(POLICY).users)
    assert summary["declared_roles"] == len(load_policy(POLICY).roles)
    assert summary["lower_bound"] <= summary["roles"]


def test_policy_yaml_fragment_reproduces_every_users_permissions() -> None:
    """Load the fragment with the policy's vocabulary: each user holds exactly what they held.

    At a given time: a disabled user (a leaver) holds nothing, and so is given nothing.
    """
    code, out, _ = _run(str(POLICY), "--format", "yaml", *AT_OPTION)
    assert code == 0
    fragment = yaml.safe_load(out)
    assert all(r.startswith("mined_role_") for r in fragment["roles"])
    source = load_policy(POLICY)
    vocabulary = {
        "version": 1,
        "actions": list(source.actions),
        "levels": list(source.levels),
        "classes": {c.id: {"level": c.level} for c in source.classes.values()},
        "purposes": {p.id: {"legal_basis": p.legal_basis} for p in source.purposes.values()},
    }
    mined = compile_policy(load_policy_text(yaml.safe_dump({**vocabulary, **fragment}), "mined"))
    original = relation_from_policy(policy_at(compile_policy(source), AT))
    for user, permissions in original.assignments.items():
        held = {
            f"{h.info_class}:{h.purpose}:{h.action}"
            for h in held_permissions(mined, mined.user_closure[user])
        }
        assert held == permissions, user
    assert "# not grantable" not in out


def test_merge_suggestions_in_json_and_text() -> None:
    code, out, _ = _run(str(POLICY), "--format", "json", "--merge-threshold", "0.7")
    assert code == 0
    document = json.loads(out)
    merges = document["merge_suggestions"]
    assert merges, "the reference policy has teller and branch_manager at 0.86"
    assert all(m["similarity"] >= 0.7 and m["saves"] == len(m["roles"]) - 1 for m in merges)
    assert document["summary"]["merge_saves"] == sum(m["saves"] for m in merges)
    code, out, _ = _run(str(POLICY), "--merge-threshold", "0.7")
    assert code == 0
    assert "merge branch_manager, teller (similarity 0.86, saves 1)" in out


def test_time_limit_zero_reports_a_bound_instead_of_optimal(tmp_path: Path) -> None:
    path = tmp_path / "crown.txt"
    # a 4-crown: no forced role, so the kernel is the whole graph
    path.write_text("".join(f"{u} {p}\n" for u in range(4) for p in range(4) if u != p))
    code, out, _ = _run("--up", str(path), "--format", "json", "--time-limit", "0")
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["verified"] is True
    assert summary["lower_bound"] <= 4 <= summary["roles"]


def test_text_output(up_file: Path) -> None:
    code, out, _ = _run("--up", str(up_file))
    assert code == 0
    assert out.splitlines()[0].startswith("2 roles (optimal) reproduce 3 users")
    assert "mined_role_001: 2 users, 2 permissions: 1, 2; users: 1, 2" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 1\n1 2 3\n", "up.txt:2: expected `user permission`, got `1 2 3`"),
        ("1 1\n\n7\n", "up.txt:3: expected `user permission`, got `7`"),
    ],
)
def test_bad_up_file_exits_2_with_its_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "up.txt"
    path.write_text(content)
    code, _, err = _run("--up", str(path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_invocations_exit_2(tmp_path: Path, up_file: Path) -> None:
    assert _run()[0] == 2
    assert _run(str(POLICY), "--up", str(up_file))[0] == 2
    assert _run("--up", str(tmp_path / "missing.txt"))[0] == 2
    assert _run(str(tmp_path / "missing-policy"))[0] == 2
    assert _run("--up", str(up_file), "--merge-threshold", "1.5")[0] == 2
    assert _run("--up", str(up_file), "--time-limit", "-1")[0] == 2
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("version: 1\nroles: [\n")
    assert _run(str(bad_policy))[0] == 2
