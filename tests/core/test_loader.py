"""The loader reports every problem of a policy at once, each with file, line, column and id."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdp.core.load import check_policy, check_texts, load_policy, load_policy_text
from pdp.errors import PolicyError, Problem

FILE_A = """\
version: 1
actions: [use, disclose]
levels: [C1, C2]
classes:
  identity: {level: C2}
  identity.id: {level: C9}
  ghost.child: {level: C1}
purposes:
  service: {legal_basis: contract}
  lost.sub: {}
roles:
  teller: {inherits: [nobody], duties: [nopurpose]}
  a: {inherits: [b]}
  b: {inherits: [c]}
  c: {inherits: [a]}
  typo: {inherts: [teller]}
users:
  u1: {roles: [norole]}
  u2: {roles: teller}
"""

FILE_B = """\
actions: [use]
grants:
  - id: G1
    roles: [teller, unrole]
    classes: [unclass]
    purposes: [unpurpose]
    actions: [unaction]
  - id: G1
    roles: [teller]
    classes: [identity]
    purposes: [service]
    actions: [use]
    obligation: [mfa]
separation_of_duties:
  - id: SOD1
    roles: [teller, sodrole]
  - id: TOX1
    permissions:
      - {classes: [toxclass], purposes: [toxpurpose], actions: [toxaction]}
"""

# (code, file, line, column, id): every problem of FILE_A and FILE_B.
EXPECTED = [
    ("undeclared_level", "a.yaml", 6, 24, "C9"),
    ("undeclared_parent", "a.yaml", 7, 3, "ghost.child"),
    ("undeclared_parent", "a.yaml", 10, 3, "lost.sub"),
    ("undeclared_role", "a.yaml", 12, 23, "nobody"),
    ("undeclared_purpose", "a.yaml", 12, 41, "nopurpose"),
    ("inheritance_cycle", "a.yaml", 13, 3, "a"),
    ("unknown_key", "a.yaml", 16, 10, "inherts"),
    ("undeclared_role", "a.yaml", 18, 16, "norole"),
    ("expected_list", "a.yaml", 19, 15, ""),
    ("duplicate_key", "b.yaml", 1, 1, "actions"),
    ("undeclared_role", "b.yaml", 4, 21, "unrole"),
    ("undeclared_class", "b.yaml", 5, 15, "unclass"),
    ("undeclared_purpose", "b.yaml", 6, 16, "unpurpose"),
    ("undeclared_action", "b.yaml", 7, 15, "unaction"),
    ("duplicate_id", "b.yaml", 8, 5, "G1"),
    ("unknown_key", "b.yaml", 13, 5, "obligation"),
    ("undeclared_role", "b.yaml", 16, 21, "sodrole"),
    ("undeclared_class", "b.yaml", 19, 20, "toxclass"),
    ("undeclared_purpose", "b.yaml", 19, 42, "toxpurpose"),
    ("undeclared_action", "b.yaml", 19, 65, "toxaction"),
]


def _summary(problem: Problem) -> tuple[str, str, int, int, str]:
    where = problem.location
    return (problem.code, Path(where.file).name, where.line, where.column, problem.id)


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(FILE_A)
    (tmp_path / "b.yaml").write_text(FILE_B)
    return tmp_path


def test_every_problem_is_reported_at_once(broken_dir: Path) -> None:
    result = check_policy(broken_dir)
    assert result.policy is None
    assert [_summary(p) for p in result.problems] == EXPECTED


@pytest.mark.parametrize("expected", EXPECTED, ids=[f"{e[0]}-{e[4]}" for e in EXPECTED])
def test_each_problem_has_a_message_and_a_hint(broken_dir: Path, expected: tuple[object]) -> None:
    problems = {_summary(p): p for p in check_policy(broken_dir).problems}
    problem = problems[expected]  # type: ignore[index]
    assert problem.message and problem.message == problem.message.strip()
    assert "\n" not in problem.message
    assert not problem.message[0].isupper() and not problem.message.endswith(".")
    assert problem.hint
    assert problem.severity == "error"
    if problem.id:
        assert f"`{problem.id}`" in problem.message


def test_cycle_names_the_cycle(broken_dir: Path) -> None:
    cycle = next(p for p in check_policy(broken_dir).problems if p.code == "inheritance_cycle")
    assert "`a` -> `b` -> `c` -> `a`" in cycle.message


def test_load_policy_raises_policy_error_with_every_problem(broken_dir: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(broken_dir)
    assert [_summary(p) for p in info.value.problems] == EXPECTED


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("roles: {x: [\n", "yaml_syntax", 2, 1),
        ("actions: [use]\n  bad: indent\n", "yaml_syntax", 2, 3),
        ("actions: [use]\nactions: [use]\n", "duplicate_key", 2, 1),
        ("actions: [use]\nclasses: [a, b]\n", "expected_mapping", 2, 10),
        ("actions: use\n", "expected_list", 1, 10),
        ("actions: [use]\ngrant: []\n", "unknown_key", 2, 1),
        ("actions: [use]\n---\nactions: [use]\n", "multiple_documents", 3, 1),
    ],
)
def test_structural_problems_are_located(text: str, code: str, line: int, column: int) -> None:
    result = check_texts([("p.yaml", text)])
    assert result.policy is None
    found = [(p.code, p.location.file, p.location.line, p.location.column) for p in result.problems]
    assert (code, "p.yaml", line, column) in found


def test_scalar_where_a_list_is_expected_in_a_grant() -> None:
    text = (
        "actions: [use]\nclasses: {c: {level: C1}}\npurposes: {p: {}}\nroles: {r: {}}\n"
        "grants:\n  - {id: G, roles: r, classes: [c], purposes: [p], actions: [use]}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "p.yaml")
    [problem] = info.value.problems
    assert (problem.code, problem.location.line, problem.location.column) == (
        "expected_list",
        6,
        20,
    )
    assert "`[r]`" in problem.hint


def test_wildcard_only_in_grants() -> None:
    text = "actions: [use]\nroles: {r: {inherits: ['*']}}\n"
    result = check_texts([("p.yaml", text)])
    assert [p.code for p in result.problems] == ["invalid_wildcard"]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert [p.code for p in check_policy(tmp_path / "nope").problems] == ["not_found"]
    assert [p.code for p in check_policy(tmp_path).problems] == ["no_policy_files"]


def test_a_valid_policy_has_no_problems() -> None:
    text = (
        "actions: [use]\nclasses: {c: {level: C1}, c.d: {}}\npurposes: {p: {}}\n"
        "roles: {r: {}, s: {inherits: [r]}}\nusers: {u: {roles: [s]}}\n"
        "grants:\n  - {roles: ['*'], classes: [c], purposes: [p], actions: [use]}\n"
    )
    result = check_texts([("p.yaml", text)])
    assert result.problems == [] and result.policy is not None
    assert result.policy.classes["c.d"].level == "C1"
