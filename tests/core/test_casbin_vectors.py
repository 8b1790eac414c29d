"""pdp's Casbin wrapper behaves as pycasbin 2.8.0: its own verified enforce vectors, replayed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pdp.casbin_engine import file_enforcer
from pdp.core.casbin_export import MODEL_FILE_NAME, MODEL_TEXT
from tests.shared_data import DATASETS

ROOT = Path(__file__).resolve().parents[2]
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


def test_model_file_is_the_model_text() -> None:
    """models/pdp_model.conf is the golden copy of the model every policy compiles to."""
    assert (ROOT / "models" / MODEL_FILE_NAME).read_text(encoding="utf-8") == MODEL_TEXT
