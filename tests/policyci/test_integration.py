"""The pre-commit hooks and the example GitHub Actions workflow run real pdp commands."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pdp.cli.app import app

ROOT = Path(__file__).parents[2]


def _invoke(args: list[str]) -> int:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        return CliRunner().invoke(app, args).exit_code
    finally:
        os.chdir(cwd)


def test_pre_commit_hooks_run_on_this_repository() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"pdp-check", "pdp-fmt", "pdp-test"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["entry"].startswith("pdp ")
    assert _invoke([*hooks["pdp-check"]["entry"].split()[1:], *hooks["pdp-check"]["args"]]) == 0
    assert _invoke([*hooks["pdp-test"]["entry"].split()[1:], *hooks["pdp-test"]["args"]]) == 0
    files = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "policies").glob("*.yaml"))]
    assert re.match(hooks["pdp-fmt"]["files"], files[0])
    assert _invoke(["fmt", "--check", *files]) in (0, 1)


@pytest.mark.parametrize("base", ["HEAD"])
def test_workflow_runs_pdp_ci_with_options_that_exist(base: str, tmp_path: Path) -> None:
    workflow = yaml.safe_load((ROOT / "docs" / "github-actions-policy-ci.yml").read_text())
    steps = workflow["jobs"]["pdp-ci"]["steps"]
    script = next(s["run"] for s in steps if s.get("id") == "ci")
    command = script[script.index("pdp ci") :].split("\n  echo")[0].split("echo ")[0]
    command = command.replace("\\\n", " ").replace('"origin/${{ github.base_ref }}"', base)
    args = shlex.split(command)[1:]
    args = [a.replace("pdp-summary.md", str(tmp_path / "s.md")) for a in args]
    args = [a.replace("pdp.sarif", str(tmp_path / "s.sarif")) for a in args]
    assert _invoke(args) == 0
    assert (tmp_path / "s.md").read_text(encoding="utf-8").startswith("## pdp policy CI")
