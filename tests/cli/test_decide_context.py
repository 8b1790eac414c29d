"""CLI: `pdp decide --context JSON` and `pdp explain` on a version-2 policy."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pdp.cli.app import app

POLICY = str(Path(__file__).resolve().parents[1] / "cases" / "v2_policy.yaml")
ASK = ["--class", "account", "--purpose", "customer_service", "--action", "use"]
IN_HOURS = '"time": "2026-06-15T10:00:00+08:00"'
SEPARATE = ["--context", "{}", "--consent", "marketing.third_party"]
runner = CliRunner()


def test_context_decides_and_consent_options_join_it() -> None:
    good = f'{{"mfa": true, "relationship": "own_customer", {IN_HOURS}}}'
    result = runner.invoke(app, ["decide", POLICY, "--user", "u-rm", *ASK, "--context", good])
    assert result.exit_code == 0 and "G-RM-OWN-CUSTOMERS" in result.output
    result = runner.invoke(
        app, ["decide", POLICY, "--user", "u-rm", *ASK, "--context", f"{{{IN_HOURS}}}", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["reasons"] == ["mfa_required", "relationship_required"]
    third_party = ["--class", "identity", "--purpose", "marketing.third_party", "--action", "use"]
    result = runner.invoke(
        app,
        [
            "decide",
            POLICY,
            "--role",
            "marketer",
            *third_party,
            "--context",
            '{"consent": ["marketing"]}',
        ],
    )
    assert result.exit_code == 1 and "separate_consent_required" in result.output
    result = runner.invoke(
        app,
        ["decide", POLICY, "--role", "marketer", *third_party, *SEPARATE],
    )
    assert result.exit_code == 0


def test_bad_context_is_exit_2_or_an_invalid_context_deny() -> None:
    result = runner.invoke(app, ["decide", POLICY, "--user", "u-rm", *ASK, "--context", "{x"])
    assert result.exit_code == 2 and "--context is not JSON" in result.output
    result = runner.invoke(
        app, ["decide", POLICY, "--user", "u-rm", *ASK, "--context", '{"urgent": true}']
    )
    assert result.exit_code == 1 and "invalid_context" in result.output


def test_explain_shows_each_requirement() -> None:
    context = f'{{"relationship": "own_branch", {IN_HOURS}}}'
    result = runner.invoke(
        app, ["explain", POLICY, "--role", "senior_manager", *ASK, "--context", context]
    )
    assert result.exit_code == 1
    assert "mfa unmet (mfa_required)" in result.output and "relationship held" in result.output
