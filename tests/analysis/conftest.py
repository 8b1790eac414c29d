"""Fixtures of the review's tests: the bundled policy, compiled and reviewed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdp.analysis.review import Review, review
from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import load_policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def compiled() -> CompiledPolicy:
    """The bundled policy, compiled."""
    return compile_policy(load_policy(ROOT / "policies"))


@pytest.fixture(scope="session")
def result(compiled: CompiledPolicy) -> Review:
    """The review of the bundled policy."""
    return review(compiled)
