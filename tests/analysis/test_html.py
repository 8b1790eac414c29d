"""The HTML review report: every finding in the page, plain messages, pictures, in a browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from pdp.analysis.report.render import render
from pdp.analysis.report.triage import Report
from pdp.analysis.review import Review, review
from pdp.core.compile import CompiledPolicy
from pdp.core.model import Role
from tests.generated import generated_compiled

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def _data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_the_page_holds_every_finding_as_plain_text(
    result: Review, compiled: CompiledPolicy
) -> None:
    page = render(result, "html", compiled)
    data = _data(page)
    assert len(data["rows"]) == data["total"] == len(result.findings)
    assert not any("`" in row[5] for row in data["rows"])  # messages without backticks
    assert {row[2] for row in data["rows"]} == {
        r["rule"] for r in Report.of(result, compiled).overview["by_rule"]
    }
    assert "loan origination and approval are kept apart" in page  # the rule's description
    assert 'id="sod"' in page and "user u1021" in page
    assert "matplotlib" not in page and "http" not in page


def test_the_role_graph_labels_its_boxes(result: Review, compiled: CompiledPolicy) -> None:
    page = render(result, "html", compiled)
    graph = page[page.index('id="role-graph"') :]
    graph = graph[: graph.index("</svg>")]
    for role in compiled.policy.roles:
        assert f">{role}</text>" in graph


def test_past_a_few_hundred_roles_the_graph_shows_clusters(
    result: Review, compiled: CompiledPolicy
) -> None:
    from pdp.analysis.report import html

    roles = {f"r{n}": Role(f"r{n}", inherits=(f"r{n // 2}",) if n else ()) for n in range(2000)}
    held = {f"r{n}": ("C3", "C2", None)[n % 3] for n in range(2000)}
    picture = html._role_picture(roles, ["C1", "C2", "C3"], held)
    assert picture["clusters"] and picture["svg"].count('class="node"') <= 3 * 7
    assert "depth 0 · C3 · 1 roles" in picture["svg"] and "depth 6+ · " in picture["svg"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(page: Path, shot: Path) -> str:
    """Open a page in headless Chromium: keep a screenshot, return the DOM after its scripts."""
    common = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                *common,
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1400,2400",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                *common,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page is a few kB
    return dom


def _check_in_browser(name: str, result: Review, compiled: CompiledPolicy) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    page.write_text(render(result, "html", compiled), encoding="utf-8")
    dom = _browse(page, ARTIFACTS / f"{name}.png")
    n = len(result.findings)
    assert re.search(rf"1–{min(n, 100)} of {n} matching of {n} findings", dom), "the list ran"
    visible = re.sub(r'<script type="application/json" id="data">.*?</script>', "", dom, flags=re.S)
    for rule in Report.of(result, compiled).overview["by_rule"]:
        assert f'data-rule="{rule["rule"]}"' in visible
    for entry in result.findings.entries:
        if entry.kind == "sod_violation":
            assert f"{entry.subject_kind} {entry.subject_id}" in visible
    return visible


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_the_bundled_policy_in_chromium(result: Review, compiled: CompiledPolicy) -> None:
    _check_in_browser("review", result, compiled)


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_a_10000_user_policy_in_chromium(tmp_path: Path) -> None:
    big = generated_compiled(
        tmp_path / "bank.yaml",
        grants=3000,
        roles=600,
        users=10_000,
        classes=120,
        purposes=30,
        seed=3,
    )
    found = review(big)
    assert len(found.findings) > 1000 and any(
        e.kind == "sod_violation" for e in found.findings.entries
    )
    visible = _check_in_browser("review-10000-users", found, big)
    assert "role clusters" in visible and 'id="heat-choice"' in visible
