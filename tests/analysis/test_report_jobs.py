"""The JSON review report's findings encoded by several processes: the same bytes as one."""

from __future__ import annotations

import io
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pdp.analysis.report.stream import finding_items, write_json_report
from pdp.analysis.report.triage import Report
from pdp.analysis.review import review
from pdp.cli import report_jobs, ring
from pdp.cli.app import app
from pdp.cli.jobs import Steps
from tests.analysis.conftest import generated_policy


@pytest.mark.parametrize(
    ("jobs", "late", "small"),
    [(1, False, False), (2, False, False), (3, False, False), (2, True, False), (3, False, True)],
)
def test_the_report_is_the_same_whatever_the_jobs(
    jobs: int, late: bool, small: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes with workers, also when this process is ahead of a late worker and
    reads its ring as it fills, and when the rings are smaller than a finding."""
    monkeypatch.setattr(report_jobs, "MIN_PER_JOB", 10)
    monkeypatch.setattr(report_jobs, "BLOCK", 97)  # blocks of every kind, dealt in turn
    if small:
        monkeypatch.setattr(ring, "SIZE", 512)
        monkeypatch.setattr(ring, "TAKE", 100)
    if late:
        encode = report_jobs._encode

        def slow(*args: Any) -> int:
            time.sleep(0.3)
            return encode(*args)

        monkeypatch.setattr(report_jobs, "_encode", slow)
    compiled = generated_policy(1, tmp_path)
    result = review(compiled)
    report = Report.of(result, compiled)
    alone, together = io.StringIO(), io.StringIO()
    write_json_report(report, alone, finding_items(report))
    seen: list[tuple[str, int, int]] = []
    report = Report.of(result, compiled, progress=lambda *a: seen.append(a))
    with Steps(jobs) as steps:
        write_json_report(report, together, report_jobs.report_items(report, steps))
    assert together.getvalue() == alone.getvalue()
    assert len(json.loads(together.getvalue())["findings"]) > 1000
    total = len(report.findings.entries)
    assert seen[-1] == ("writing", total, total)  # the workers' runs counted too


def test_a_failing_worker_fails_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's error reaches this process, which does not wait for lines never written."""
    monkeypatch.setattr(report_jobs, "MIN_PER_JOB", 10)

    def broken(*args: Any) -> int:
        raise OSError("no space left on device")

    monkeypatch.setattr(report_jobs, "_encode", broken)
    compiled = generated_policy(1, tmp_path)
    report = Report.of(review(compiled), compiled)
    with Steps(2) as steps, pytest.raises(OSError, match="no space left"):
        write_json_report(report, io.StringIO(), report_jobs.report_items(report, steps))


def test_each_process_owns_its_weight_of_the_slots() -> None:
    for jobs in (2, 3, 4):
        table = report_jobs._table(jobs)
        share = report_jobs.OWN_WEIGHT / (report_jobs.OWN_WEIGHT + jobs - 1)
        assert abs(table.count(0) - share * report_jobs.SLOTS) <= 1
        weight = report_jobs.OWN_WEIGHT
        assert all(abs(table.count(0) - weight * table.count(j)) <= 2 for j in range(1, jobs))


def test_pdp_review_with_jobs_writes_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_jobs, "MIN_PER_JOB", 10)
    generated_policy(2, tmp_path)
    policy = str(tmp_path / "bank-2.yaml")
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"review-{jobs}.json"
        args = ["review", policy, "--format", "json", "--out", str(out), "--jobs", jobs]
        result = CliRunner().invoke(app, [*args, "--fail-on", "none"])
        assert result.exit_code == 0, result.output
        document = json.loads(out.read_text(encoding="utf-8"))
        del document["generated_at"]
        outputs.append(document)
    assert outputs[0] == outputs[1]


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("no space left on device")


def test_a_report_failing_before_its_findings_ends_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers waiting for room in rings never read end when the report fails (no hang)."""
    monkeypatch.setattr(report_jobs, "MIN_PER_JOB", 10)
    monkeypatch.setattr(ring, "SIZE", 512)
    compiled = generated_policy(1, tmp_path)
    report = Report.of(review(compiled), compiled)
    signal.alarm(60)  # a hang ends the run (SIGALRM) instead of blocking it
    try:
        with Steps(2) as steps, pytest.raises(OSError, match="no space left"):
            write_json_report(report, _FullDisk(), report_jobs.report_items(report, steps))
    finally:
        signal.alarm(0)
