"""Loading both sides of a diff at once gives exactly what loading them one by one gives."""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import pytest

from pdp.analysis import review
from pdp.core import background
from pdp.core.compile import CompiledPolicy
from pdp.errors import PolicyError, RevisionError
from pdp.policyci import diff as diffing
from pdp.policyci import parallel
from pdp.policyci.git import compile_source
from tests.policyci.policies import SMALL, compiled

ROOT = Path(__file__).parents[2]
POLICIES = ROOT / "policies"

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker processes fork")


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fork a worker for any size of policy; the list counts the workers started."""
    started: list[int] = []
    start = parallel._start

    def counted(texts: parallel.Texts) -> background.Background[CompiledPolicy]:
        started.append(1)
        return start(texts)

    monkeypatch.setattr(parallel, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)
    monkeypatch.setattr(parallel, "_start", counted)
    return started


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, str]:
    """The reference policy, a changed and a broken copy, and a copy with one more comment."""
    edits = {
        "changed": ("G-TELLER-ACCOUNT-OPENING", "G-RENAMED"),
        "broken": ("roles:", "roles: [oops"),
        "commented": ("G-TELLER-ACCOUNT-OPENING", "G-TELLER-ACCOUNT-OPENING  # a comment"),
    }
    result = {"reference": str(POLICIES)}
    for name, (old, new) in edits.items():
        directory = tmp_path / name
        directory.mkdir()
        for path in sorted(POLICIES.glob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if path.name == "40-grants.yaml":
                assert old in text
                text = text.replace(old, new, 1)
            (directory / path.name).write_text(text, encoding="utf-8")
        result[name] = str(directory)
    return result


def test_parallel_compiles_equal_sequential_ones(
    forking: list[int], sources: dict[str, str]
) -> None:
    names = [sources["reference"], sources["changed"], sources["commented"]]
    compiled = parallel.compile_sources(names)
    assert len(forking) == 2
    expected = [compile_source(name) for name in names]
    assert compiled == expected  # every field: policy, closures, index, version
    assert compiled[0].version != compiled[1].version
    assert compiled[0].version == compiled[2].version


@pytest.mark.parametrize("broken", [0, 1])
def test_the_first_broken_source_raises_its_problems(
    forking: list[int], sources: dict[str, str], broken: int
) -> None:
    names = [sources["reference"], sources["reference"]]
    names[broken] = sources["broken"]
    with pytest.raises(PolicyError) as raised:
        parallel.compile_sources(names)
    with pytest.raises(PolicyError) as alone:
        compile_source(sources["broken"])
    assert raised.value.problems == alone.value.problems


def test_an_unreadable_source_raises_as_alone(
    forking: list[int], sources: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not a git repository: `nope` is neither path nor revision
    with pytest.raises(RevisionError):
        parallel.compile_sources([sources["reference"], "nope"])
    with pytest.raises(PolicyError):  # an earlier broken source wins, as one by one
        parallel.compile_sources([sources["broken"], "nope"])


def test_a_failing_worker_is_replaced_by_loading_here(
    forking: list[int], sources: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(background, "_work", lambda func, writing: os._exit(1))
    compiled = parallel.compile_sources([sources["reference"], sources["changed"]])
    assert len(forking) == 1
    assert compiled[1] == compile_source(sources["changed"])


def test_findings_computed_in_workers_equal_those_computed_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wider = copy.deepcopy(SMALL)
    wider["grants"][0]["classes"] = ["a"]
    old, new = compiled(SMALL), compiled(wider)
    here = diffing.diff_policies(old, new)
    diffing.add_findings(here)
    assert here.new_findings and here.resolved_findings
    forks: list[bool] = []
    started = background.Background

    def recorded(func: object, fork: bool) -> object:
        forks.append(fork)
        return started(func, fork)  # type: ignore[arg-type]

    monkeypatch.setattr(diffing, "PARALLEL_GRANTS", 0)
    monkeypatch.setattr(diffing, "can_fork", lambda: True)
    monkeypatch.setattr(review, "can_fork", lambda: True)  # the findings' process splits too
    monkeypatch.setattr(background, "Background", recorded)
    forked = diffing.diff_with_findings(old, new)
    assert forks == [True]
    assert forked.to_dict() == here.to_dict()
    assert [f.to_dict() for f in forked.new_findings] == [f.to_dict() for f in here.new_findings]


def test_small_policies_are_loaded_here(sources: dict[str, str]) -> None:
    assert sum(p.stat().st_size for p in POLICIES.glob("*.yaml")) * 2 < parallel.PARALLEL_BYTES
    compiled = parallel.compile_sources([sources["reference"], sources["changed"]])
    assert [c.version for c in compiled] == [
        compile_source(sources["reference"]).version,
        compile_source(sources["changed"]).version,
    ]
