"""pdp's Casbin wrapper behaves as pycasbin 2.8.0: its own verified enforce vectors, replayed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pdp.casbin_engine import file_enforcer
from tests.shared_data import DATASETS

DATASET = DATASETS / "casbin"
VECTORS_PATH = DATASET / "pycasbin_v2.8.0_enforce_vectors.json"


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS_PATH.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return vectors


VECTORS = _vectors()


def test_all_85_vectors_are_replayed() -> None:
    if not VECTORS_PATH.exists():
        pytest.skip("the pycasbin vector dataset is not on this machine")
    assert len(VECTORS) == 85


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['test']}:{v['line']}" for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    examples = DATASET / "examples"
    enforcer = file_enforcer(examples / vector["model"], examples / vector["policy"])
    assert enforcer.enforce(*vector["request"]) is vector["expected"]
