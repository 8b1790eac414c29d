"""Each report format of the review, validated: JSON schema, SARIF subset, CSV, Markdown, HTML."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import jsonschema
import pytest

from pdp.analysis.finding import Finding, Findings, Permissions
from pdp.analysis.register import NO_VERDICT
from pdp.analysis.report import schema_path
from pdp.analysis.report.render import render
from pdp.analysis.report.sarif import bundles, render_sarif
from pdp.analysis.report.stream import PLACEHOLDER, write_json
from pdp.analysis.report.triage import Report
from pdp.analysis.report.wire import encode, finding_document, indented, permission_texts
from pdp.analysis.review import Review, review
from pdp.core.compile import CompiledPolicy
from pdp.errors import Location
from tests.analysis.conftest import generated_policy

ROOT = Path(__file__).resolve().parents[2]
SARIF_SUBSET = Path(__file__).parent / "sarif-2.1.0-subset.schema.json"


def test_json_report_validates_against_the_shipped_schema(
    result: Review, compiled: CompiledPolicy
) -> None:
    schema = json.loads(schema_path().read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(render(result, "json", compiled))
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    assert document["summary"]["findings"] == len(document["findings"]) > 0
    broken = dict(document, findings=[dict(document["findings"][0], severity="urgent")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def report_document(result: Review, compiled: CompiledPolicy) -> dict[str, object]:
    """`Review.to_dict()` plus what the JSON report adds: overview, register, acceptances."""
    document = result.to_dict(findings=False)
    document["overview"] = Report.of(result, compiled).overview
    document["register"] = NO_VERDICT.to_dict()
    document["findings"] = [f.to_dict() | {"accepted": None} for f in result.findings]
    return dict(json.loads(json.dumps(document)))


def test_streamed_json_and_sarif_hold_the_whole_documents_one_finding_a_line(
    result: Review, compiled: CompiledPolicy
) -> None:
    text = render(result, "json", compiled)
    assert json.loads(text) == report_document(result, compiled)
    for f in result.findings:
        identity = [f.kind, f.rule_id or "", f.subject_kind, f.subject_id]
        identity.append(sorted(list(p) for p in f.permissions))
        hashed = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
        assert f.fingerprint == hashlib.sha256(hashed.encode()).hexdigest()[:32]
    lines = text.splitlines()
    assert sum(line.startswith('    {"kind":') for line in lines) == len(result.findings) > 0
    assert lines[:2] == ["{", f'  "policy_version": "{result.policy_version}",']
    sarif = render(result, "sarif", compiled)
    assert json.loads(sarif) == json.loads(json.dumps(render_sarif(Report.of(result, compiled))))
    empty = Review(result.policy_version, result.generated_at, Findings([]), result.summary)
    assert render(empty, "json", compiled) == indented(report_document(empty, compiled)) + "\n"


@pytest.mark.parametrize("stream", ["text", "utf-8", "utf-16"])
@pytest.mark.parametrize("batch", [1, 12, 1 << 20])
def test_streamed_items_are_written_in_place_whatever_the_batch(
    batch: int, stream: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In order and in place, to a text buffer, to a UTF-8 file (its bytes written below
    the text layer) and to a file of another encoding (as text)."""
    monkeypatch.setattr("pdp.analysis.report.stream.BATCH", batch)
    nested = {"a": [1, {"b": PLACEHOLDER}], "c": "d\u00e9"}
    expected = (
        '{\n  "a": [\n    1,\n    {\n      "b": [\n        {"x":[1,2]},\n        "y",\n'
        '        "\u00e9"\n      ]\n    }\n  ],\n  "c": "d\u00e9"\n}\n'
    )
    items = [b'{"x":[1,2]}', b'"y"', '"\u00e9"'.encode()]
    for written, want in ((items, expected), ([], None)):
        if stream == "text":
            out = io.StringIO()
            write_json(nested, iter(written), out)
            text = out.getvalue()
        else:
            path = tmp_path / f"report-{stream}.json"
            with path.open("w", encoding=stream) as file:
                write_json(nested, iter(written), file)
            text = path.read_text(encoding=stream)
        if want is not None:
            assert text == want
        else:
            assert json.loads(text) == {"a": [1, {"b": []}], "c": "d\u00e9"}


def test_the_cached_permission_texts_are_the_encoders_own(result: Review) -> None:
    """The cache layer of the wire form: the same bytes as encoding the mappings."""
    masked = [f for f in result.findings if isinstance(f.permissions, Permissions)]
    listed = [f for f in result.findings if not isinstance(f.permissions, Permissions)]
    assert masked and listed
    for f in result.findings:
        plain = [{"info_class": c, "purpose": p, "action": a} for c, p, a in f.permissions]
        assert bytes(permission_texts(f.permissions)) == encode(plain)
        document = json.loads(encode(finding_document(f, None)))
        assert document == json.loads(json.dumps(f.to_dict())) | {"accepted": None}


def test_sarif_validates_and_points_at_policy_lines(
    result: Review, compiled: CompiledPolicy
) -> None:
    schema = json.loads(SARIF_SUBSET.read_text())
    log = json.loads(render(result, "sarif", compiled))
    jsonschema.validate(log, schema, format_checker=jsonschema.FormatChecker())
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else ROOT / uri
        line = path.read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
        assert line.strip().startswith(("- id:", "u", "svc-", "authentication_service")), line
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(log, version="2.0.0"), schema)


def test_csv_parses_one_row_per_finding(result: Review, compiled: CompiledPolicy) -> None:
    rows = list(csv.DictReader(io.StringIO(render(result, "csv", compiled))))
    assert len(rows) == len(result.findings)
    assert {r["fingerprint"] for r in rows} == {f.fingerprint for f in result.findings}
    assert rows[0]["severity"] == "critical" and rows[0]["file"].endswith(".yaml")


def test_markdown_and_text_summarise(result: Review, compiled: CompiledPolicy) -> None:
    markdown = render(result, "markdown", compiled)
    assert "| critical | 4 |" in markdown and "### Critical: `TOX-REIDENTIFY` (3)" in markdown
    text = render(result, "text", compiled)
    assert text.splitlines()[0].endswith("findings (4 critical, 2 high, 7 medium)")


def test_html_is_self_contained(result: Review, compiled: CompiledPolicy) -> None:
    page = render(result, "html", compiled)
    assert not re.search(r"(https?:)?//[a-z]", page.replace("://", "")), "external reference"
    assert "http" not in page
    assert page.count("<svg") == 1 + 3  # the role graph and one per toxic finding
    assert (
        'id="heat"' in page and 'id="findings"' in page and "SOD-CREDIT-ORIGINATE-APPROVE" in page
    )


def test_sarif_bundles_findings_per_rule_and_location_and_fits_the_limit() -> None:
    findings = [
        Finding(
            kind=kind,
            rule_id=None,
            subject={"user": f"u{n}"},
            severity="medium",
            level="C3",
            message=f"user u{n}",
            location=Location(f"{kind}.yaml", n + 1, 3),
        )
        for kind in ("high_exposure", "orphan_user")
        for n in range(300 if kind == "high_exposure" else 40)
    ]
    every = bundles(findings)
    assert len(every) == 340  # one per location
    fitted = bundles(findings, limit=50)
    assert len(fitted) <= 50
    assert sorted(e.subject_id for b in fitted for e in b.entries) == sorted(
        f.subject_id for f in findings
    )
    merged = [b for b in fitted if len(b.entries) > 1]
    assert [b.kind for b in merged] == ["high_exposure"]  # the kind with most results first


def test_review_and_ci_speak_the_same_sarif(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pdp.cli.app import app

    policy = str(ROOT / "policies")
    review_log = json.loads(CliRunner().invoke(app, ["review", policy, "--format", "sarif"]).stdout)
    ci_file = tmp_path / "ci.sarif"
    CliRunner().invoke(app, ["ci", "--policy", policy, "--sarif", str(ci_file)])
    ci_log = json.loads(ci_file.read_text(encoding="utf-8"))
    review_run, ci_run = review_log["runs"][0], ci_log["runs"][0]
    assert review_run["tool"]["driver"]["name"] == ci_run["tool"]["driver"]["name"] == "pdp"
    review_rules = {r["id"]: r for r in review_run["tool"]["driver"]["rules"]}
    assert all(
        r["helpUri"].endswith(r["id"].split("/")[1].replace("_", "-"))
        for r in review_rules.values()
    )
    ci_ids = {r["ruleId"] for r in ci_run["results"] if r["ruleId"].startswith("pdp/")}
    found_ids = {r["ruleId"] for r in review_run["results"]}
    assert found_ids and found_ids <= ci_ids and found_ids <= set(review_rules)


def test_sarif_help_links_lead_to_the_docs(tmp_path: Path) -> None:
    """Each rule's `helpUri` is a section of docs/review.md, under --docs-url when given."""
    from typer.testing import CliRunner

    from pdp.cli.app import app

    policy = str(ROOT / "policies")
    headings = {
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "review.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    plain = json.loads(CliRunner().invoke(app, ["review", policy, "--format", "sarif"]).stdout)
    driver = plain["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver  # SARIF wants it absolute: only with --docs-url
    for r in driver["rules"]:
        page, _, anchor = r["helpUri"].partition("#")
        assert page == "docs/review.md" and anchor in headings, r["helpUri"]
    base = "https://git.bank.example/pdp/blob/main/docs"
    args = ["review", policy, "--format", "sarif", "--docs-url", base]
    linked = json.loads(CliRunner().invoke(app, args).stdout)["runs"][0]["tool"]["driver"]
    assert linked["informationUri"] == f"{base}/review.md"
    assert all(r["helpUri"].startswith(f"{base}/review.md#") for r in linked["rules"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_streamed_json_report_is_json_dumps_of_the_report_on_generated_policies(
    seed: int, tmp_path: Path
) -> None:
    """Differential: the fast writer (msgspec, cached permission texts, streamed findings)
    against the straightforward `json.dumps` of the same report, every finding built."""
    generated = generated_policy(seed, tmp_path)
    found = review(generated)
    kinds = {e.kind for e in found.findings.entries}
    assert {"toxic_combination", "outside_duties"} <= kinds
    text = render(found, "json", generated)
    assert json.loads(text) == report_document(found, generated)
    expected = json.dumps(report_document(found, generated), ensure_ascii=False)
    assert json.dumps(json.loads(text), ensure_ascii=False) == expected
