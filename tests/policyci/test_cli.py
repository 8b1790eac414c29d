"""`pdp diff` and `pdp ci` from the command line: exit codes, formats, git-revision inputs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdp.cli.app import app
from pdp.policyci.git import compile_source

ROOT = Path(__file__).parents[2]
POLICIES = ROOT / "policies"

BASE = """\
version: 1
actions: [use, disclose]
classes:
  identity: {level: C2}
  identity.name: {level: C2}
  identity.id_number: {level: C3}
  account: {level: C1}
purposes:
  service: {legal_basis: contract}
  marketing: {legal_basis: consent}
roles:
  staff: {}
  teller: {inherits: [staff], duties: [service]}
users:
  u1: {roles: [teller]}
grants:
  - id: G-NAME
    roles: [teller]
    classes: [identity.name]
    purposes: [service]
    actions: [use]
"""
WIDER = BASE.replace("classes: [identity.name]", "classes: [identity]")
LOW = BASE.replace("classes: [identity.name]", "classes: [identity.name, account]")
NARROWER = BASE.replace("actions: [use]\n", "actions: [use]\n    effect: deny\n")


CI_VS_PARENT = ("ci", "--policy", "policies", "--base", "HEAD~1")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test with its own compiled-policy cache, never the user's."""
    monkeypatch.delenv("PDP_NO_CACHE", raising=False)
    monkeypatch.setenv("PDP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (("base", BASE), ("wider", WIDER), ("low", LOW), ("narrower", NARROWER)):
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_fail_on_new_access_exits_1_exactly_when_something_is_added(files: dict[str, Path]) -> None:
    base, wider, narrower = str(files["base"]), str(files["wider"]), str(files["narrower"])
    assert _run("diff", base, wider, "--fail-on", "new-access")[0] == 1
    assert _run("diff", base, base, "--fail-on", "new-access")[0] == 0
    assert _run("diff", base, narrower, "--fail-on", "new-access")[0] == 0
    assert _run("diff", base, narrower, "--fail-on", "any")[0] == 1
    assert _run("diff", base, wider)[0] == 0  # --fail-on none by default


def test_level_limits_the_gate(files: dict[str, Path]) -> None:
    base, low, wider = str(files["base"]), str(files["low"]), str(files["wider"])
    assert _run("diff", base, low, "--fail-on", "new-access", "--level", "C2")[0] == 0
    assert _run("diff", base, low, "--fail-on", "new-access")[0] == 1
    assert _run("diff", base, wider, "--fail-on", "new-access", "--level", "C3")[0] == 1
    assert _run("diff", base, wider, "--level", "C9")[0] == 2


def test_invalid_input_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BASE.replace("[identity.name]", "[nowhere]"), encoding="utf-8")
    assert _run("diff", str(files["base"]), str(broken))[0] == 2
    code, _ = _run("diff", str(files["base"]), "no-such-revision-or-path")
    assert code == 2


def test_json_text_markdown_sarif(files: dict[str, Path]) -> None:
    code, out = _run("diff", str(files["base"]), str(files["wider"]), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"old_version", "new_version", "added", "removed", "summary"}
    assert {
        "role": "teller",
        "info_class": "identity.id_number",
        "purpose": "service",
        "action": "use",
    } in data["added"]
    assert data["summary"]["highest_level_added"] == "C3"
    assert data["users"]["added"] and data["users"]["added"][0]["user"] == "u1"
    _, text = _run("diff", str(files["base"]), str(files["wider"]))
    assert "teller gains use on identity and 1 of its 2 sub-classes for service" in text
    assert "1 user(s) gain access: u1" in text
    _, md = _run("diff", str(files["base"]), str(files["wider"]), "--format", "markdown")
    assert "**Added access** (up to C3)" in md
    _, sarif = _run("diff", str(files["base"]), str(files["wider"]), "--format", "sarif")
    log = json.loads(sarif)
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["results"][0]["ruleId"] == "pdp/new-access"
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A git repository with a two-file policy in policies/, committed twice (base, wider)."""
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    head, _, grants = BASE.partition("grants:\n")
    (root / "policies" / "10-model.yaml").write_text(head, encoding="utf-8")
    (root / "policies" / "20-grants.yaml").write_text("grants:\n" + grants, encoding="utf-8")
    (root / "policies" / "README.md").write_text("not a policy file\n", encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base")
    wider_grants = "grants:\n" + WIDER.partition("grants:\n")[2]
    (root / "policies" / "20-grants.yaml").write_text(wider_grants, encoding="utf-8")
    _git(root, "commit", "-qam", "widen")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)


def test_git_revisions(repo: Path) -> None:
    code, out = _run(
        "diff",
        "HEAD~1",
        "HEAD",
        "--path",
        "policies/",
        "--format",
        "json",
        "--fail-on",
        "new-access",
    )
    assert code == 1
    added = json.loads(out)["added"]
    assert len(added) == 2 and {a["info_class"] for a in added} == {
        "identity",
        "identity.id_number",
    }
    assert _run("diff", "HEAD", "HEAD~1", "--fail-on", "new-access")[0] == 0
    # a revision against the working tree, and a single file at a revision
    assert _run("diff", "HEAD", "policies", "--fail-on", "any")[0] == 0
    # without --path, a revision is read at the other side's (here absolute) path
    assert _run("diff", "HEAD~1", str(repo / "policies"), "--fail-on", "new-access")[0] == 1
    code, _ = _run("diff", "HEAD~1", "HEAD", "--path", "policies/missing.yaml")
    assert code == 2


def test_ci_against_a_base_revision(repo: Path, tmp_path: Path) -> None:
    summary, sarif = tmp_path / "summary.md", tmp_path / "ci.sarif"
    code, out = _run(
        "ci",
        "--policy",
        "policies",
        "--base",
        "HEAD~1",
        "--fail-on",
        "none",
        "--summary",
        str(summary),
        "--sarif",
        str(sarif),
    )
    assert code == 0, out
    text = summary.read_text(encoding="utf-8")
    assert "## pdp policy CI ✅ passed" in text and "teller gains use on identity" in text
    assert json.loads(sarif.read_text(encoding="utf-8"))["version"] == "2.1.0"
    code, out = _run(
        "ci",
        "--policy",
        "policies",
        "--base",
        "HEAD~1",
        "--fail-on",
        "none",
        "--diff-fail-on",
        "new-access",
    )
    assert code == 1 and "fail  diff" in out
    code, out = _run("ci", "--policy", "policies", "--base", "orgin/main", "--fail-on", "none")
    assert code == 2 and "base revision `orgin/main` does not resolve" in out
    code, out = _run("ci", "--policy", "policies", "--fail-on", "none")
    assert code == 0 and "skip  diff: no base revision given" in out


def test_a_base_the_first_commit_lacks_is_unusable(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "p.yaml").write_text(BASE, encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "first")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        code, out = _run("ci", "--policy", "p.yaml", "--base", "HEAD~1", "--fail-on", "none")
    finally:
        os.chdir(cwd)
    assert code == 2 and "`HEAD~1` does not resolve" in out


def test_ci_on_the_reference_policy() -> None:
    code, out = _run(
        "ci",
        "--policy",
        str(POLICIES),
        "--tests",
        str(ROOT / "tests" / "policy"),
        "--accept",
        str(ROOT / "tests" / "policy" / "accepted-findings.yaml"),
    )
    assert code == 0, out
    code, out = _run("ci", "--policy", str(POLICIES), "--fail-on", "high")
    assert code == 1 and "fail  review" in out


def test_ci_fails_on_an_invalid_policy_and_failing_tests(
    files: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nroles: {a: {inherits: [zz]}}\n", encoding="utf-8")
    code, out = _run("ci", "--policy", str(broken))
    assert code == 1 and "fail  check" in out
    tests = tmp_path / "t.yaml"
    tests.write_text(
        "tests:\n  - request: {role: teller, info_class: identity.id_number, "
        "purpose: service, action: use}\n    expect: {allowed: true}\n",
        "utf-8",
    )
    code, out = _run(
        "ci", "--policy", str(files["base"]), "--tests", str(tests), "--fail-on", "none"
    )
    assert code == 1 and "fail  test" in out
    code, _ = _run(
        "ci", "--policy", str(files["wider"]), "--tests", str(tests), "--fail-on", "none"
    )
    assert code == 0


SOD = BASE.replace("  staff: {}\n", "  staff: {}\n  auditor: {}\n") + (
    "separation_of_duties:\n  - id: SOD-TELLER-AUDIT\n    roles: [teller, auditor]\n"
    "    severity: high\n"
)


def test_new_and_resolved_findings(tmp_path: Path) -> None:
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(SOD, encoding="utf-8")
    after.write_text(
        SOD.replace("u1: {roles: [teller]}", "u1: {roles: [teller, auditor]}"), "utf-8"
    )
    code, out = _run("diff", str(before), str(after), "--format", "json")
    assert code == 0
    findings = json.loads(out)["findings"]
    assert [(f["kind"], f["rule_id"], f["subject"]) for f in findings["new"]] == [
        ("sod_violation", "SOD-TELLER-AUDIT", {"user": "u1"})
    ]
    # auditor had no user: giving it one resolves the dormant-role finding
    assert [(f["kind"], f["subject"]) for f in findings["resolved"]] == [
        ("dormant_role", {"role": "auditor"})
    ]
    _, text = _run("diff", str(after), str(before))
    assert "findings: 1 new, 1 resolved" in text and "resolved high sod_violation" in text


def test_ci_reviews_only_the_new_version_in_full_and_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy tests and the gate share one review; the base is compared by the diff."""
    from pdp.policyci import gate

    review = gate.review_function()
    reviewed: list[str] = []

    def counted(compiled: Any) -> Any:
        reviewed.append(compiled.version)
        return review(compiled)

    tests = repo / "findings.test.yaml"
    tests.write_text(
        "tests:\n  - name: no SoD violation\n    findings:\n"
        "      absent:\n        - {kind: sod_violation}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(gate, "review_function", lambda: counted)
    code, out = _run(
        *CI_VS_PARENT, "--tests", str(tests), "--fail-on", "none", "--gate", "new", "--json"
    )
    assert code == 0, out
    assert reviewed == [compile_source("policies").version]
    steps = {s["name"]: s for s in json.loads(out)["steps"]}
    assert steps["test"]["status"] == "pass" and steps["diff"]["status"] == "pass"


def test_gate_new_fails_only_on_findings_the_base_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = "u1: {roles: [teller, auditor]}\n  u2: {roles: [teller]}"
    base = SOD.replace("u1: {roles: [teller]}", both)
    root = tmp_path / "gated"
    (root / "policies").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "policies" / "policy.yaml").write_text(base, encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base: u1 already holds both roles")
    (root / "policies" / "policy.yaml").write_text(
        base.replace("u2: {roles: [teller]}", "u2: {roles: [teller, auditor]}"), "utf-8"
    )
    _git(root, "commit", "-qam", "u2 now holds both roles too")
    monkeypatch.chdir(root)
    gated, counts = {}, {}
    for gate in ("new", "all"):
        summary = tmp_path / f"{gate}.md"
        code, out = _run(
            *CI_VS_PARENT, "--fail-on", "high", "--gate", gate, "--json", "--summary", str(summary)
        )
        assert code == 1, out
        step = next(s for s in json.loads(out)["steps"] if s["name"] == "review")
        assert step["status"] == "fail"
        counts[gate] = step["summary"].split("; ")[1]
        failing = summary.read_text("utf-8").split("### Findings that fail the gate")[1]
        failing = failing.split("\n#")[0]  # the table alone, not the sections after it
        gated[gate] = {u for u in ("u1", "u2") if f"user `{u}`" in failing}
    assert gated == {"new": {"u2"}, "all": {"u1", "u2"}}
    assert counts == {
        "new": "1 new at or above `high` not accepted",
        "all": "2 at or above `high` not accepted",
    }


def test_ci_gives_the_same_answer_with_any_number_of_jobs(repo: Path) -> None:
    args = (*CI_VS_PARENT, "--fail-on", "none", "--json")
    here = _run(*args, "--jobs", "1")
    assert _run(*args, "--jobs", "2") == here
    assert _run(*args, "--jobs", "3", "--no-cache") == here
    steps = [s["name"] for s in json.loads(here[1])["steps"]]
    assert steps == ["check", "format", "test", "review", "diff", "replay"]


def test_diff_gives_the_same_answer_with_any_number_of_jobs(files: dict[str, Path]) -> None:
    base, wider = str(files["base"]), str(files["wider"])
    for args in (("--format", "json"), ("--format", "sarif"), ("--no-findings",)):
        here = _run("diff", base, wider, *args, "--jobs", "1")
        assert _run("diff", base, wider, *args, "--jobs", "2") == here
    summary = json.loads(_run("diff", base, wider, "--format", "json")[1])["summary"]
    assert summary["added"] and summary["new_findings"]  # the comparison above compared something


def test_a_broken_side_loaded_by_a_worker_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BASE.replace("[identity.name]", "[nowhere]"), encoding="utf-8")
    for jobs in ("1", "2"):
        code, out = _run("diff", str(files["base"]), str(broken), "--jobs", jobs)
        assert code == 2 and "nowhere" in out


def test_diff_json_is_the_alias_of_format_json(files: dict[str, Path]) -> None:
    base, wider = str(files["base"]), str(files["wider"])
    code, alias = _run("diff", base, wider, "--json", "--no-findings")
    assert code == 0
    assert json.loads(alias) == json.loads(
        _run("diff", base, wider, "--format", "json", "--no-findings")[1]
    )
