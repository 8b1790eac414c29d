"""The reader's view of a review: the overview every format opens with, selection, grouping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pdp.analysis.finding import Finding, Findings
from pdp.analysis.report.render import render
from pdp.analysis.report.text import FIRST, MAX_GROUPS
from pdp.analysis.report.triage import Report, View
from pdp.analysis.review import Review
from pdp.cli.app import app
from pdp.core.compile import CompiledPolicy
from tests.analysis.conftest import AT_OPTION

ROOT = Path(__file__).resolve().parents[2]


def test_the_overview_counts_per_kind_rule_severity_level_and_subject(
    result: Review, compiled: CompiledPolicy
) -> None:
    o = Report.of(result, compiled).overview
    assert o["findings"] == o["of"] == len(result.findings) == 13
    assert o["by_severity"] == {"critical": 4, "high": 2, "medium": 7, "low": 0, "info": 0}
    assert sum(o["by_level"].values()) == 13 and set(o["by_level"]) <= {"C1", "C2", "C3", "none"}
    assert o["by_kind"]["toxic_combination"] == 3
    rules = {r["rule"]: r for r in o["by_rule"]}
    assert rules["TOX-REIDENTIFY"]["findings"] == 3
    sod = rules["SOD-CREDIT-ORIGINATE-APPROVE"]
    assert sod["description"] == "loan origination and approval are kept apart"
    assert rules["outside_duties"]["kind"] == "outside_duties"  # a kind without rule ids
    assert sum(t["findings"] for t in o["top_subjects"]) <= 13


@pytest.mark.parametrize(
    ("view", "wanted"),
    [
        (View(kinds=frozenset({"toxic_combination"})), 3),
        (View(rules=frozenset({"TOX-REIDENTIFY", "SOD-CREDIT-ORIGINATE-APPROVE"})), 4),
        (View(rules=frozenset({"outside_duties"})), 2),
        (View(min_severity="high"), 6),
        (View(subjects=frozenset({"u1009"})), 1),
        (View(subjects=frozenset({"user:u1021", "role:u1021"})), 1),
        (View(subjects=frozenset({"role:u1009"})), 0),
        (View(limit=2), 2),
        (View(min_severity="critical", kinds=frozenset({"toxic_combination"}), limit=1), 1),
    ],
)
def test_a_view_selects_findings(
    result: Review, compiled: CompiledPolicy, view: View, wanted: int
) -> None:
    report = Report.of(result, compiled, view=view)
    assert len(report.findings) == report.overview["findings"] == wanted
    assert report.overview["of"] == 13
    assert all(view.keeps(e) for e in report.findings.entries)


def _many(rules: int, per_rule: int) -> Findings:
    return Findings(
        Finding(
            kind="toxic_combination",
            rule_id=f"TOX-{r:03d}",
            subject={"user": f"u{n:05d}"},
            severity="high",
            level="C3",
            message=f"user u{n:05d} holds every pattern of TOX-{r:03d}",
        )
        for r in range(rules)
        for n in range(per_rule)
    )


def test_text_at_scale_lists_groups_with_counts_and_their_first_few(
    result: Review, compiled: CompiledPolicy
) -> None:
    big = Review(result.policy_version, result.generated_at, _many(60, 2000), result.summary)
    text = render(big, "text", compiled)
    lines = text.splitlines()
    assert lines[0].endswith("120000 findings (120000 high)")
    assert len(lines) < 60 * (FIRST + 3)  # not 120,000 lines
    assert text.count("HIGH TOX-") == MAX_GROUPS
    assert "… and 1995 more (user u00005, user u00006" in text
    assert f"… and {60 - MAX_GROUPS} more groups" in text
    one = render(big, "text", compiled, view=View(rules=frozenset({"TOX-007"}), detail=True))
    assert one.count("holds every pattern of TOX-007") == 2000


def test_every_format_opens_with_the_overview(result: Review, compiled: CompiledPolicy) -> None:
    document = json.loads(render(result, "json", compiled))
    assert list(document)[:4] == ["policy_version", "generated_at", "summary", "overview"]
    sarif = json.loads(render(result, "sarif", compiled))
    assert sarif["runs"][0]["properties"]["overview"]["by_rule"]
    markdown = render(result, "markdown", compiled)
    assert markdown.index("| rule | kind |") < markdown.index("### ")
    html = render(result, "html", compiled)
    assert html.index('id="by-rule"') < html.index('id="findings"')


def _review(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(app, ["review", str(ROOT / "policies"), *AT_OPTION, *args])
    return outcome.exit_code, outcome.stdout


def test_the_cli_selects_and_groups() -> None:
    code, out = _review("--kind", "toxic_combination", "--format", "json", "--fail-on", "none")
    document = json.loads(out)
    assert code == 0 and {f["kind"] for f in document["findings"]} == {"toxic_combination"}
    assert document["overview"]["findings"] == 3 and document["overview"]["of"] == 13
    code, out = _review("--group-by", "subject", "--subject", "u1009")
    assert code == 1  # the exit code judges every finding, not the selection
    assert "user u1009 [1 finding]" in out
    code, out = _review("--min-severity", "high", "--limit", "1", "--format", "csv")
    assert len(out.splitlines()) == 2


@pytest.mark.parametrize(
    "args", [("--group-by", "colour"), ("--kind", "toxic"), ("--min-severity", "urgent")]
)
def test_bad_view_options_exit_2(args: tuple[str, ...]) -> None:
    assert _review(*args)[0] == 2


def _recorder(calls: list[tuple[str, int, int]]) -> Callable[[str, int, int], None]:
    def record(stage: str, done: int, total: int) -> None:
        calls.append((stage, done, total))

    return record


def test_writing_a_report_reports_its_progress(result: Review, compiled: CompiledPolicy) -> None:
    import io

    from pdp.analysis.report.render import write_report

    for fmt in ("json", "sarif", "html"):
        calls: list[tuple[str, int, int]] = []
        write_report(result, fmt, compiled, io.StringIO(), progress=_recorder(calls))
        n = len(result.findings)
        assert ("summary", n, n) in calls and ("writing", n, n) in calls, fmt
        assert calls.index(("summary", n, n)) < calls.index(("writing", n, n))
    calls = []
    write_report(result, "csv", compiled, io.StringIO(), progress=_recorder(calls))
    assert calls[-1] == ("writing", len(result.findings), len(result.findings))  # rows only
