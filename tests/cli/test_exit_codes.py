"""One exit-code scheme for every command: 0 ok, 1 the check failed, 2 unusable input or usage.

Also the conventions every command keeps: `-h`, `--version`, `--format json`
with `--json` as its alias, and help that shows no value type on a flag.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pdp.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
POLICIES = str(ROOT / "policies")
TESTS = str(ROOT / "tests" / "policy")
POLICY = """\
version: 1
actions: [use, disclose]
classes:
  identity: {level: C2}
purposes:
  service: {legal_basis: contract}
roles:
  teller: {}
users:
  u1: {roles: [teller]}
grants:
  - id: G-USE
    roles: [teller]
    classes: [identity]
    purposes: [service]
    actions: [use]
"""
WIDER = POLICY.replace("actions: [use]\n", "actions: [use, disclose]\n")
UNFORMATTED = POLICY.replace("{level: C2}", "{ level:   C2 }")
BROKEN = "actions: [use]\nroles: {a: {inherits: [nobody]}}\n"
FAILING_TEST = """\
tests:
  - name: teller discloses identity
    request: {role: teller, info_class: identity, purpose: service, action: disclose}
    expect: {allowed: true}
"""
PASSING_TEST = FAILING_TEST.replace("allowed: true", "allowed: false")
UP = "alice p1\nalice p2\nbob p1\n"

runner = CliRunner()


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths of the inputs, by name."""
    root = tmp_path_factory.mktemp("exit-codes")
    texts = {
        "policy.yaml": POLICY,
        "wider.yaml": WIDER,
        "unformatted.yaml": UNFORMATTED,
        "broken.yaml": BROKEN,
        "failing.test.yaml": FAILING_TEST,
        "passing.test.yaml": PASSING_TEST,
        "up.txt": UP,
        "empty.txt": "",
    }
    for name, text in texts.items():
        (root / name).write_text(text, encoding="utf-8")
    paths = {name.split(".")[0]: str(root / name) for name in texts}
    paths["missing"] = str(root / "nope")
    paths["out"] = str(root / "out")
    return paths


ASK = ("--role", "teller", "--class", "identity", "--purpose", "service")

# (command line with {name} for the inputs, exit code)
CASES = [
    ("check {policy}", 0),
    ("check {broken}", 1),
    ("check {missing}", 2),
    ("decide {policy} " + " ".join(ASK) + " --action use", 0),
    ("decide {policy} " + " ".join(ASK) + " --action disclose", 1),
    ("decide {policy} " + " ".join(ASK), 2),  # a missing option
    ("decide {policy} --class identity --purpose service --action use", 2),  # no subject
    ("decide {broken} " + " ".join(ASK) + " --action use", 2),
    ("decide {missing} " + " ".join(ASK) + " --action use", 2),
    ("explain {policy} " + " ".join(ASK) + " --action use", 0),
    ("explain {policy} " + " ".join(ASK) + " --action disclose", 1),
    ("explain {missing} " + " ".join(ASK) + " --action use", 2),
    ("export {policy} --casbin {out}", 0),
    ("export {broken} --casbin {out}", 2),
    ("export {missing} --casbin {out}", 2),
    ("fmt --check {policy}", 0),
    ("fmt --check {unformatted}", 1),
    ("fmt --check {missing}", 2),
    ("test {policy} {passing}", 0),
    ("test {policy} {failing}", 1),
    ("test {policy} {missing}", 2),
    ("test {missing} {passing}", 2),
    ("diff {policy} {policy} --fail-on new-access --no-findings", 0),
    ("diff {policy} {wider} --fail-on new-access --no-findings", 1),
    ("diff {missing} {policy} --no-findings", 2),
    ("review {policy} --fail-on none", 0),
    (f"review {POLICIES} --fail-on high", 1),
    ("review {missing}", 2),
    ("review {policy} --format nope", 2),
    ("mine {policy}", 0),
    ("mine --up {up}", 0),
    ("mine {missing}", 2),
    ("mine {policy} --up {up}", 2),
    ("replay {missing} --policy {policy}", 2),
    ("replay {up} --policy {missing}", 2),
    ("ci --policy {policy} --fail-on none", 0),
    ("ci --policy {broken} --fail-on none", 1),
    ("ci --policy {policy} --tests {failing} --fail-on none", 1),
    ("ci --policy {missing}", 2),
    ("ci --policy {policy} --base orgin/main", 2),
    ("ci --policy {policy} --accept {missing}", 2),
    ("log verify {missing}", 2),
    ("log query {missing}", 2),
    ("log head {missing}", 2),
    ("token new --name x --scope nope", 2),
    ("token hash {empty_token}", 2),
    ("serve {missing}", 2),
    ("bundle build {policy} -o {out}.tgz", 0),
    ("bundle build {broken} -o {out}.tgz", 2),
    ("bundle verify {out}.tgz", 0),
    ("bundle verify {policy}", 2),
    ("bundle verify {missing}", 2),
    ("bundle sign {missing} --key {missing}", 2),
    ("bundle keygen -o {missing}/key", 2),
    ("db upgrade --db sqlite:///{out}.db", 2),
    ("policy push {policy} --db nope", 2),
    ("policy history --db nope", 2),
    ("policy show 1 --db nope", 2),
    ("policy diff 1 2 --db nope", 2),
    ("policy approve 1 --db nope", 2),
    ("policy rollback 1 --db nope", 2),
    ("nope", 2),
]


@pytest.mark.parametrize(("line", "code"), CASES, ids=[c[0] for c in CASES])
def test_exit_code(d: dict[str, str], line: str, code: int) -> None:
    args = [part.format(**d, empty_token="") for part in line.split()]
    if line.startswith("token hash"):
        args = ["token", "hash", ""]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def _commands() -> dict[str, object]:
    commands: dict[str, object] = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    return dict(commands)


def test_every_command_is_covered() -> None:
    commands = set(_commands())
    covered = {line.split()[0] for line, _ in CASES}
    assert commands <= covered, commands - covered


def test_a_missing_policy_says_what_is_wrong_like_check(d: dict[str, str]) -> None:
    check = runner.invoke(app, ["check", d["missing"]])
    ci = runner.invoke(app, ["ci", "--policy", d["missing"]])
    assert "not_found" in check.output and f"`{d['missing']}` does not exist" in ci.output


@pytest.mark.parametrize(
    "line",
    [
        "check {policy}",
        "decide {policy} " + " ".join(ASK) + " --action use",
        "explain {policy} " + " ".join(ASK) + " --action use",
        "test {policy} {passing}",
        "ci --policy {policy} --fail-on none",
        "mine {policy}",
    ],
)
def test_format_json_and_its_alias_json_print_the_same(d: dict[str, str], line: str) -> None:
    args = [part.format(**d) for part in line.split()]
    long = runner.invoke(app, [*args, "--format", "json"])
    alias = runner.invoke(app, [*args, "--json"])
    data = json.loads(long.stdout)
    assert data and json.loads(alias.stdout).keys() == data.keys()


def _help_texts() -> list[tuple[str, str]]:
    texts = [("pdp", runner.invoke(app, ["-h"]).output)]
    for name, command in _commands().items():
        texts.append((name, runner.invoke(app, [name, "-h"]).output))
        for sub in getattr(command, "commands", {}):
            texts.append((f"{name} {sub}", runner.invoke(app, [name, sub, "-h"]).output))
    return texts


def test_help_is_clean_and_takes_dash_h() -> None:
    for name, text in _help_texts():
        assert text.startswith("Usage: "), name
        assert "<bool>" not in text, name
        assert "-h, --help" in text, name
        assert "\x1b[" not in text, name


def test_command_summaries_fit_the_listing() -> None:
    listing = runner.invoke(app, ["-h"]).output
    rows = listing.split("Commands:", 1)[1].splitlines()
    assert rows and not any(row.rstrip().endswith("...") for row in rows), listing


def test_version() -> None:
    from pdp import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"pdp {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)
