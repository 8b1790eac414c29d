"""The one place pdp imports `casbin`: plain Casbin enforcers for pdp policies.

pdp decides with its own index; these enforcers are the reference it is
checked against (differential tests, benchmarks) and the proof that an
exported policy means the same thing to any Casbin library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import casbin

from pdp.core.casbin_export import (
    MODEL_FILE_NAME,
    casbin_model,
    casbin_rules,
    render_policy_csv,
)
from pdp.core.compile import CompiledPolicy

POLICY_FILE_NAME = "policy.csv"


def casbin_enforcer(compiled: CompiledPolicy) -> Any:
    """A plain `casbin.Enforcer` loaded in memory with the model and rules of a policy."""
    model = casbin.model.Model()
    model.load_model_from_text(casbin_model(compiled))
    enforcer = casbin.Enforcer(model)
    rows = casbin_rules(compiled)
    for ptype in ("p", "g", "g2", "g3"):
        rules = [row[1:] for row in rows if row[0] == ptype]
        if not rules:
            continue
        if ptype == "p":
            enforcer.add_policies(rules)
        else:
            enforcer.add_named_grouping_policies(ptype, rules)
    return enforcer


def export_casbin(compiled: CompiledPolicy, out_dir: str | Path) -> tuple[Path, Path]:
    """Write `model.conf` and `policy.csv` for a policy into `out_dir`; return both paths."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    model_path, policy_path = target / "model.conf", target / POLICY_FILE_NAME
    model_path.write_text(casbin_model(compiled), encoding="utf-8")
    policy_path.write_text(render_policy_csv(casbin_rules(compiled)), encoding="utf-8")
    return model_path, policy_path


def file_enforcer(model_path: str | Path, policy_path: str | Path) -> Any:
    """A plain `casbin.Enforcer` reading a model file and a policy CSV, as any user would."""
    return casbin.Enforcer(str(model_path), str(policy_path))


__all__ = ["MODEL_FILE_NAME", "casbin_enforcer", "export_casbin", "file_enforcer"]
