"""docs/seed-mapping.md: every test its table names exists, and every row names one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "seed-mapping.md"
CASES = ROOT / "tests" / "cases" / "reference_policy.yaml"
POLICY_TESTS = ROOT / "tests" / "policy" / "reference.test.yaml"

NAMED = re.compile(r"`(?:(case|policy test): ([^`]+)|(tests/[\w/]+\.py)::(\w+))`")


def _rows() -> list[str]:
    """The table rows of the mapping (after its header and separator)."""
    text = PAGE.read_text(encoding="utf-8").partition("## Seed clause → mechanism → test")[2]
    return [line for line in text.splitlines() if line.startswith("| ")][2:]


def _names(path: Path, key: str) -> set[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {entry["name"] for entry in data[key]}


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_named_test_exists() -> None:
    cases, policy_tests = _names(CASES, "cases"), _names(POLICY_TESTS, "tests")
    rows = _rows()
    assert len(rows) >= 20
    for row in rows:
        test_cell = row.rstrip(" |").rsplit(" | ", 1)[1]
        named = NAMED.findall(test_cell)
        assert named, row
        for kind, name, path, function in named:
            if kind == "case":
                assert name in cases, name
            elif kind == "policy test":
                assert name in policy_tests, name
            else:
                assert function in _functions(ROOT / path), f"{path}::{function}"
