"""`pdp fmt`: layout normalised, the author's order and comments kept, same data and version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pdp.cli.app import app
from pdp.core.compile import compile_policy
from pdp.core.load import load_policy
from pdp.errors import InternalError
from pdp.policyci import fmt as fmt_module
from pdp.policyci.fmt import format_text, needs_format

ROOT = Path(__file__).parents[2]
POLICIES = ROOT / "policies"

MESSY = """\


# header comment
grants:
- actions:   [ use,collect ,use ]   # actions of the teller
  purposes: [ 'b', "a" ]
  # about the roles
  roles:
      - teller
      - clerk
  classes: [y,
            x]
  id:   'G-1'
  description: 'it''s the "teller" grant'
roles:
    # the teller
    teller: { duties: [b, a],   inherits: [clerk] }


    # the clerk comes after the teller, as written
    clerk: {}
version: 1
"""

NORMAL = """\
# header comment
grants:
  - actions: [use, collect, use]  # actions of the teller
    purposes: [b, a]
    # about the roles
    roles: [teller, clerk]
    classes: [y, x]
    id: G-1
    description: "it's the \\"teller\\" grant"
roles:
  # the teller
  teller: {duties: [b, a], inherits: [clerk]}

  # the clerk comes after the teller, as written
  clerk: {}
version: 1
"""


def _data(text: str) -> object:
    return yaml.safe_load(text)


def test_layout_is_normalised_with_order_and_comments_kept() -> None:
    assert format_text(MESSY) == NORMAL
    assert _data(NORMAL) == _data(MESSY)


def test_the_normal_form_is_a_fixed_point() -> None:
    assert format_text(NORMAL) == NORMAL
    assert not needs_format(NORMAL) and needs_format(MESSY)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("a:    b\n", "a: b\n"),
        ("a: b   \n\n\n\nc: d", "a: b\n\nc: d\n"),
        (
            "ids: ['*', \"x\", 'yes', '1', 'mask:partial']\n",
            'ids: ["*", x, "yes", "1", mask:partial]\n',
        ),
        ("m: {a:   1 ,b: [x,y]}\n", "m: {a: 1, b: [x, y]}\n"),
        (
            "text: |\n   kept   as\n     written\nnext: 1\n",
            "text: |\n   kept   as\n     written\nnext: 1\n",
        ),
        (
            "long: a plain scalar\n    continued here\n",
            "long: a plain scalar\n    continued here\n",
        ),
        ("l:\n- a\n- b\nm: 1\n", "l: [a, b]\nm: 1\n"),
        ("l:\n  - a  # one\n  - b\n", "l:\n  - a  # one\n  - b\n"),
        ("s:\n  - {x: 1}\n  - [a, b]\n", "s:\n  - {x: 1}\n  - [a, b]\n"),
        ("k: &anchor [a]\nj: *anchor\n", "k: &anchor [a]\nj: *anchor\n"),
    ],
)
def test_each_rule(text: str, normal: str) -> None:
    assert format_text(text) == normal
    assert _data(normal) == _data(text)
    assert format_text(normal) == normal


def test_a_long_flow_list_wraps_under_its_bracket() -> None:
    ids = ", ".join(f"identity.item_{i}" for i in range(12))
    out = format_text(f"grants:\n  - classes: [{ids}]\n")
    lines = out.splitlines()
    assert len(lines) > 2 and all(len(line) <= 100 for line in lines)
    assert lines[2].startswith(" " * len("    classes: [")) and lines[2][14] != " "
    assert format_text(out) == out and _data(out) == _data(f"grants:\n  - classes: [{ids}]\n")


def test_sort_orders_sections_keys_entries_and_id_lists() -> None:
    out = format_text(MESSY, sort=True)
    assert out.index("version:") < out.index("roles:") < out.index("grants:")
    assert out.index("clerk: {}") < out.index("teller:")
    assert "duties: [a, b]" in out and "actions: [collect, use]" in out
    assert out.count("#") == MESSY.count("#")
    assert format_text(out, sort=True) == out


def test_a_change_of_meaning_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt_module, "format_layout", lambda text: text.replace("a", "b"))
    with pytest.raises(InternalError):
        format_text("a: 1\n")


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


def test_the_bundled_policy_is_in_normal_form() -> None:
    result = CliRunner().invoke(app, ["fmt", "--check", str(POLICIES)])
    assert result.exit_code == 0, f"run `pdp fmt policies`:\n{result.output}"


def test_the_pre_commit_hook_leaves_the_bundled_policy_as_it_is(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    fmt_hook = next(h for h in hooks if h["id"] == "pdp-fmt")
    assert fmt_hook["entry"].split()[:2] == ["pdp", "fmt"]
    args = [*fmt_hook["entry"].split()[2:], *fmt_hook.get("args", [])]
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    result = CliRunner().invoke(app, ["fmt", *args, *sorted(map(str, copy.glob("*.yaml")))])
    assert result.exit_code == 0 and "reformatted" not in result.output
    for file in POLICIES.glob("*.yaml"):
        assert (copy / file.name).read_bytes() == file.read_bytes(), file.name


def test_cli_check_and_write(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(MESSY, encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(app, ["fmt", "--check", str(file)])
    assert checked.exit_code == 1 and "would reformat" in checked.output
    assert file.read_text(encoding="utf-8") == MESSY
    assert runner.invoke(app, ["fmt", str(file)]).exit_code == 0
    assert file.read_text(encoding="utf-8") == NORMAL
    assert runner.invoke(app, ["fmt", "--check", str(file)]).exit_code == 0
    assert runner.invoke(app, ["fmt", "--sort", str(file)]).exit_code == 0
    assert runner.invoke(app, ["fmt", "--check", "--sort", str(file)]).exit_code == 0
    assert runner.invoke(app, ["fmt", str(tmp_path / "missing.yaml")]).exit_code == 2
    (tmp_path / "bad.yaml").write_text("a:    b\nc: [d\n", encoding="utf-8")
    bad = runner.invoke(app, ["fmt", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2 and "cannot format" in bad.output
