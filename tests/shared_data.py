"""Where the shared external datasets live: `../shared` beside the checkout (as in CI).

`PDP_SHARED` names another place.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("PDP_SHARED") or Path(__file__).resolve().parents[2] / "shared")
DATASETS = SHARED / "datasets"
