"""The error tree: every exception class of pdp is a kind drawn in `pdp.errors`' docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import pdp
import pdp.errors
from pdp.errors import (
    EXIT_FAILED,
    EXIT_UNUSABLE,
    OUTCOMES,
    CiInputError,
    InternalError,
    Location,
    PdpClientError,
    PdpError,
    PolicyError,
    Problem,
    RequestError,
    ReviewInconsistencyError,
    RevisionError,
    StorageError,
    TestFileError,
    excerpt,
    outcome_of,
)

TREE_LINE = re.compile(r"^\s*(?:[│ ]*[├└]── )?([A-Z]\w*Error)\b", re.MULTILINE)


def _drawn() -> dict[str, int]:
    """The kinds drawn in the docstring, each with its depth in the tree."""
    doc = pdp.errors.__doc__ or ""
    tree = doc.split("The tree::", 1)[1].split("\n\n", 2)[1]
    drawn = {}
    for line in tree.splitlines():
        match = TREE_LINE.match(line)
        if match:
            drawn[match.group(1)] = line.index(match.group(1))
    return drawn


def _exception_classes() -> set[type[BaseException]]:
    """Every exception class defined in a module of the pdp package."""
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(pdp.__path__, "pdp."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                found.add(value)
    return found


def test_every_exception_class_is_a_kind_of_the_drawn_tree() -> None:
    drawn = _drawn()
    for cls in _exception_classes():
        where = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__name__.startswith("_"):  # private control flow that never leaves its module
            continue
        assert issubclass(cls, PdpError), f"{where} does not derive from PdpError"
        assert cls.__module__ == "pdp.errors", f"{where}: define error kinds in pdp/errors.py"
        assert cls.__name__ in drawn, f"{where} is not drawn in the tree of pdp/errors.py"


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn = _drawn()
    kinds = {
        cls.__name__: cls
        for cls in vars(pdp.errors).values()
        if inspect.isclass(cls) and issubclass(cls, PdpError)
    }
    assert set(drawn) == set(kinds)
    doc_lines = (pdp.errors.__doc__ or "").splitlines()
    for name, cls in kinds.items():
        if cls is PdpError:
            continue
        # the parent drawn is the nearest line above at a smaller depth
        row = next(i for i, line in enumerate(doc_lines) if TREE_LINE.match(line) and name in line)
        parent = next(
            m.group(1)
            for line in reversed(doc_lines[:row])
            if (m := TREE_LINE.match(line)) and line.index(m.group(1)) < drawn[name]
        )
        assert cls.__bases__ == (kinds[parent],), f"{name} is drawn under {parent}"


def test_each_kind_has_its_own_stable_code() -> None:
    kinds = [c for c in vars(pdp.errors).values() if inspect.isclass(c) and issubclass(c, PdpError)]
    codes = [c.code for c in kinds]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z_]+", code) for code in codes)


@pytest.mark.parametrize(
    ("error", "exit_code", "status"),
    [
        (PolicyError([Problem("x", "bad")]), EXIT_UNUSABLE, 422),
        (RequestError("bad", "role"), EXIT_UNUSABLE, 422),
        (RevisionError("no such revision"), EXIT_UNUSABLE, 422),
        (CiInputError("bad file"), EXIT_UNUSABLE, 422),
        (TestFileError("bad file"), EXIT_UNUSABLE, 422),
        (StorageError("down"), EXIT_UNUSABLE, 503),
        (PdpClientError("unreachable"), EXIT_UNUSABLE, 503),
        (ReviewInconsistencyError("bug"), EXIT_UNUSABLE, 500),
        (KeyError("not ours"), EXIT_UNUSABLE, 500),
    ],
)
def test_one_table_gives_exit_codes_and_statuses(
    error: BaseException, exit_code: int, status: int
) -> None:
    outcome = outcome_of(error)
    assert (outcome.exit_code, outcome.http_status) == (exit_code, status)


def test_the_table_names_only_kinds_and_uses_the_documented_exit_codes() -> None:
    assert all(issubclass(kind, PdpError) for kind in OUTCOMES)
    assert {o.exit_code for o in OUTCOMES.values()} <= {EXIT_FAILED, EXIT_UNUSABLE}
    assert outcome_of(InternalError()) == OUTCOMES[InternalError]


def test_excerpts_are_short_and_printable() -> None:
    assert excerpt("teller") == "teller"
    assert excerpt("a\x1b[2Jb\nc") == "a\\x1b[2Jb\\nc"
    long = excerpt("x" * 10_000)
    assert len(long) <= 80 and long.endswith("…")


def test_a_problem_never_quotes_a_whole_file() -> None:
    passwd = "\n".join(f"user{i}:x:{i}:{i}::/home/user{i}:/bin/sh" for i in range(500))
    problem = Problem(
        "expected_mapping",
        f"a policy file must be a mapping, found `{passwd}`",
        Location("policies/99.yaml", 1, 1),
        id=passwd,
        hint=f"see `{passwd}`",
    )
    for text in (problem.message, problem.id, problem.hint, str(problem)):
        assert "user499" not in text and "\n" not in text
    assert len(str(problem)) < 1_000
    assert "user0:x:0:0" in problem.message  # the start of what was found is still shown
