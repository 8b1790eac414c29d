"""The JSON review report's findings encoded by several processes: the same bytes as one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.analysis.report.stream import finding_items, write_json_report
from pdp.analysis.report.triage import Report
from pdp.analysis.review import review
from pdp.cli import report_jobs
from pdp.cli.app import app
from pdp.cli.jobs import Steps
from tests.analysis.conftest import generated_policy


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_the_report_is_the_same_whatever_the_jobs(
    jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_jobs, "MIN_PER_JOB", 10)
    monkeypatch.setattr(report_jobs, "BLOCK", 97)  # blocks of every kind, dealt in turn
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
