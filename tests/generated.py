"""Bank-shaped policies of `tools/generate_policy.py`, for tests that need a large policy.

The generator is a tool, not part of the library: it is imported from
`tools/` here, once for every test that uses it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pdp.core.compile import CompiledPolicy, compile_policy
from pdp.core.load import load_policy

TOOLS = Path(__file__).resolve().parents[1] / "tools"

sys.path.insert(0, str(TOOLS))
try:
    from generate_policy import generate_policy, write_policy
finally:
    sys.path.remove(str(TOOLS))


def generated(**sizes: Any) -> dict[str, Any]:
    """A generated policy as data (`generate_policy`'s keyword arguments)."""
    data: dict[str, Any] = generate_policy(**sizes)
    return data


def generated_compiled(path: Path, **sizes: Any) -> CompiledPolicy:
    """A generated policy written as one YAML file at `path`, loaded and compiled."""
    write_policy(generated(**sizes), path)
    return compile_policy(load_policy(path))
