"""The university dataset (`.ass` format, named permissions) and the `.ass` parser."""

from __future__ import annotations

import pytest

from pdp.analysis.mining import (
    RelationError,
    mine_roles,
    parse_ass_text,
    read_up_file,
    verify_roles,
)
from tests.shared_data import DATASETS

UNIVERSITY = DATASETS / "rolemining" / "university"
needs_data = pytest.mark.skipif(not UNIVERSITY.is_dir(), reason="university dataset not present")


@needs_data
def test_university_large_is_mined_with_named_permissions() -> None:
    relation = read_up_file(UNIVERSITY / "university_large.ass")
    assert (len(relation.assignments), len(relation.permissions), relation.edges) == (493, 56, 3955)
    assert len(set(relation.assignments.values())) == 22
    result = mine_roles(relation)
    verify_roles(relation, result.roles)
    assert result.optimal
    assert len(result.roles) <= 22
    grading = [r for r in result.roles if "assignGrade_GradeBook" in r.permissions]
    assert grading
    graders = {u for u, perms in relation.assignments.items() if "assignGrade_GradeBook" in perms}
    assert {u for r in grading for u in r.users} == graders
    assert "approveGradeChange_GradeBook" in relation.permissions


@needs_data
def test_university_running_example() -> None:
    relation = read_up_file(UNIVERSITY / "university_runningexample.ass")
    assert (len(relation.assignments), len(relation.permissions), relation.edges) == (400, 14, 3073)
    result = mine_roles(relation)
    verify_roles(relation, result.roles)
    assert result.lower_bound <= len(result.roles) <= 11


def test_ass_parser_reads_names_and_rejects_bad_rows() -> None:
    text = "@dimension user{a,b}\n@dimension permission {x,y}\n@matrix\n1,0\n1,1\n"
    relation = parse_ass_text(text, "t.ass")
    assert relation.assignments == {"a": frozenset({"x"}), "b": frozenset({"x", "y"})}
    with pytest.raises(RelationError, match=r"t\.ass:5: expected 2"):
        parse_ass_text(text.replace("1,1\n", "1,2\n"), "t.ass")
    with pytest.raises(RelationError, match="2 users but 1 matrix rows"):
        parse_ass_text(text.replace("1,1\n", ""), "t.ass")
