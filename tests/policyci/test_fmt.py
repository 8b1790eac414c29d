"""`pdp fmt`: normalised order, comments kept, idempotent, same policy version."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from pdp.cli.app import app
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from pdp.policyci.fmt import format_text

POLICIES = Path(__file__).parents[2] / "policies"

MESSY = """\
# header comment
grants:
  - actions: [use, collect, use]   # actions of the teller
    purposes: [b, a]
    # about the roles
    roles: [teller, clerk]
    classes: [y, x]
    id: G-1
roles:
  # the teller
  teller: {duties: [b, a], inherits: [clerk]}
  # the clerk comes first once sorted
  clerk: {}
version: 1
"""


def test_order_and_comments() -> None:
    out = format_text(MESSY)
    assert out.index("version:") < out.index("roles:") < out.index("grants:")
    assert out.index("# the clerk comes first") < out.index("clerk: {}") < out.index("# the teller")
    assert "duties: [a, b]" in out
    assert "# header comment" in out and "# about the roles" in out
    assert "# actions of the teller" in out
    assert out.count("#") == MESSY.count("#")


def test_entry_keys_follow_the_spec_when_no_comment_stands_between() -> None:
    out = format_text("grants:\n  - actions: [b, a]\n    roles: [r]\n    id: G\n")
    assert out == "grants:\n  - id: G\n    roles: [r]\n    actions: [a, b]\n"


def test_reference_policy_idempotent_same_version_comments_kept(tmp_path: Path) -> None:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    for file in sorted(target.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        once = format_text(text)
        assert format_text(once) == once, file.name
        assert once.count("#") == text.count("#"), file.name
        file.write_text(once, encoding="utf-8")
    before = compile_policy(load_policy(POLICIES)).version
    assert compile_policy(load_policy(target)).version == before


def test_cli_check_and_write(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(MESSY, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["fmt", "--check", str(file)]).exit_code == 1
    assert file.read_text(encoding="utf-8") == MESSY
    assert runner.invoke(app, ["fmt", str(file)]).exit_code == 0
    assert runner.invoke(app, ["fmt", "--check", str(file)]).exit_code == 0
    assert runner.invoke(app, ["fmt", str(tmp_path / "missing.yaml")]).exit_code == 2
