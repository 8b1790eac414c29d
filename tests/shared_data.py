"""Where the shared external datasets live: `../shared` beside the checkout (as in CI)."""

from __future__ import annotations

from pathlib import Path

_CANDIDATES = (Path(__file__).resolve().parents[2] / "shared", Path("/work/shared"))

SHARED = next((p for p in _CANDIDATES if (p / "datasets").is_dir()), _CANDIDATES[0])
DATASETS = SHARED / "datasets"
