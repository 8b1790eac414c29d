"""Suite-wide rules: under `CI=true` a skipped test is a failed test.

Tests that need PostgreSQL (`postgres`), headless Chromium (`browser`) or the
shared datasets skip on a developer's machine that lacks them; in CI those are
required, so a skip there would hide a missing service. `.ci/run` provides all
of them and fails loudly when it cannot.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from _pytest.reports import TestReport
from hypothesis import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# No hypothesis deadline: on a shared machine an example's time is noise, not a failure.
settings.register_profile("pdp", deadline=None)
settings.load_profile("pdp")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Turn a skip into a failure when running in CI."""
    outcome = yield
    report: TestReport = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true requires every dependency): {reason}"
