"""Fixtures of the review's tests: the bundled policy, compiled and reviewed once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pdp.analysis.review import Review, review
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import load_policy
from tests.generated import generated_compiled

ROOT = Path(__file__).resolve().parents[2]
# The day the reference policy's review is pinned at: it has windows (a
# temporary cover ending 2027-01-31), so its findings depend on the day.
AT = datetime.fromisoformat("2026-12-01T02:00:00+00:00")
AT_OPTION = ("--at", "2026-12-01T02:00:00Z")


@pytest.fixture(scope="session")
def compiled() -> CompiledPolicy:
    """The bundled policy, compiled."""
    return compile_policy(load_policy(ROOT / "policies"))


@pytest.fixture(scope="session")
def result(compiled: CompiledPolicy) -> Review:
    """The review of the bundled policy, on the pinned day."""
    return review(compiled, at=AT, now=AT)


def generated_policy(seed: int, tmp_path: Path) -> CompiledPolicy:
    """A small bank-shaped generated policy (toxic, SoD, outside duties)."""
    return generated_compiled(
        tmp_path / f"bank-{seed}.yaml",
        grants=400,
        roles=60,
        users=300,
        classes=40,
        purposes=12,
        sod_rules=6,
        toxic_rules=6,
        seed=seed,
    )
