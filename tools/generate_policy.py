"""Generate bank-sized synthetic pdp policies, for benchmarks and load tests.

Importable (other benchmarks use it; keep the signature and shape stable)::

    from generate_policy import generate_policy, write_policy   # with tools/ on sys.path
    policy = generate_policy(grants=30_000, roles=3_000, users=100_000, seed=0)
    write_policy(policy, "bank.yaml")          # one file
    write_policy(policy, "bank/")              # a directory, one file per section

Command line::

    .venv/bin/python tools/generate_policy.py OUT [--grants N] [--roles N] [--users N]
        [--classes N] [--purposes N] [--sod-rules N] [--toxic-rules N] [--seed N]

OUT ending in `.yaml`/`.yml` is written as one file, anything else as a directory.

The shape (deterministic for a seed; every policy is valid under `pdp check`):
- actions: the eight lifecycle actions; levels C1, C2, C3.
- classes: five categories (`identity`, `account`, `credit`, `interaction`,
  `internal`) with `classes` ids in total, 2-3 levels deep (`identity.c12`,
  `identity.c12.c57`); categories carry a level, about a third of the others
  their own (higher) level.
- purposes: `purposes` ids, 1-3 levels deep, under about eight roots; one root
  (`marketing`) and so its descendants has `legal_basis: consent`.
- roles: `r0`..`r{roles-1}`, an inheritance forest without cycles: each role
  inherits 0-2 roles of lower number; each has 1-2 duties.
- grants: ids `G{n}` (allow) and `D{n}` (about 5% deny); each names 1-3 roles,
  1-3 classes (mostly leaves, sometimes a category), 1-2 purposes, 1-3 actions;
  about 1% use `*` in one field; a quarter of the allows carry an obligation.
- users: `u0`..`u{users-1}` with 1-3 roles each.
- separation_of_duties: `sod_rules` static SoD rules over 2-3 roles, and
  `toxic_rules` toxic combinations of two class/action patterns.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import yaml

ACTIONS = ["collect", "store", "transmit", "use", "process", "disclose", "archive", "destroy"]
LEVELS = ["C1", "C2", "C3"]
CATEGORIES = {
    "identity": "C2",
    "account": "C2",
    "credit": "C3",
    "interaction": "C1",
    "internal": "C1",
}
PURPOSE_ROOTS = {
    "account_opening": "contract",
    "transaction_processing": "contract",
    "customer_service": "contract",
    "credit_approval": "contract",
    "risk_control": "legal_obligation",
    "aml": "legal_obligation",
    "marketing": "consent",
    "analytics": "other",
}
OBLIGATIONS = ["mask:partial", "mask:full", "mfa", "dual_control", "log:access"]
SECTION_ORDER = (
    "version",
    "actions",
    "levels",
    "classes",
    "purposes",
    "roles",
    "users",
    "grants",
    "separation_of_duties",
)


def _tree(
    rng: random.Random, roots: list[str], total: int, depth: int, prefix: str
) -> tuple[list[str], list[str]]:
    """Ids of a dotted tree under `roots` with `total` ids at most `depth` deep; and the leaves."""
    ids = list(roots)
    by_depth: dict[int, list[str]] = {1: list(roots)}
    n = 0
    while len(ids) < total:
        level = rng.choice([d for d in range(1, depth) if by_depth.get(d)])
        parent = rng.choice(by_depth[level])
        child = f"{parent}.{prefix}{n}"
        n += 1
        ids.append(child)
        by_depth.setdefault(level + 1, []).append(child)
    parents = {i.rpartition(".")[0] for i in ids}
    return ids, [i for i in ids if i not in parents]


def _pick(rng: random.Random, items: list[str], low: int, high: int) -> list[str]:
    return sorted(rng.sample(items, min(len(items), rng.randint(low, high))))


def generate_policy(
    grants: int = 30_000,
    roles: int = 3_000,
    users: int = 100_000,
    classes: int = 200,
    purposes: int = 40,
    sod_rules: int = 50,
    toxic_rules: int = 50,
    seed: int = 0,
) -> dict[str, Any]:
    """A valid, bank-shaped random policy as the plain data of the YAML format."""
    rng = random.Random(seed)
    class_ids, leaf_classes = _tree(rng, list(CATEGORIES), max(classes, 5), 3, "c")
    purpose_roots = list(PURPOSE_ROOTS)[: max(1, min(len(PURPOSE_ROOTS), purposes))]
    purpose_ids, _ = _tree(rng, purpose_roots, max(purposes, len(purpose_roots)), 3, "p")
    class_table: dict[str, dict[str, Any]] = {}
    for cid in class_ids:
        if cid in CATEGORIES:
            class_table[cid] = {"level": CATEGORIES[cid]}
        elif rng.random() < 0.3:
            class_table[cid] = {"level": rng.choice(LEVELS[1:])}
        else:
            class_table[cid] = {}
    purpose_table: dict[str, dict[str, Any]] = {
        pid: ({"legal_basis": PURPOSE_ROOTS[pid]} if pid in PURPOSE_ROOTS else {})
        for pid in purpose_ids
    }
    role_ids = [f"r{i}" for i in range(max(roles, 1))]
    role_table: dict[str, dict[str, Any]] = {}
    for i, rid in enumerate(role_ids):
        entry: dict[str, Any] = {"duties": _pick(rng, purpose_ids, 1, 2)}
        if i and rng.random() < 0.6:
            entry["inherits"] = sorted({f"r{rng.randrange(i)}" for _ in range(rng.randint(1, 2))})
        role_table[rid] = entry
    grant_list: list[dict[str, Any]] = []
    for n in range(grants):
        effect = "deny" if rng.random() < 0.05 else "allow"
        grant: dict[str, Any] = {"id": f"{'D' if effect == 'deny' else 'G'}{n}"}
        if effect == "deny":
            grant["effect"] = "deny"
        grant["roles"] = _pick(rng, role_ids, 1, 3)
        grant["classes"] = (
            _pick(rng, leaf_classes, 1, 3) if rng.random() < 0.9 else _pick(rng, class_ids, 1, 2)
        )
        grant["purposes"] = _pick(rng, purpose_ids, 1, 2)
        grant["actions"] = _pick(rng, ACTIONS, 1, 3)
        if rng.random() < 0.01:
            grant[rng.choice(["roles", "classes", "purposes", "actions"])] = ["*"]
        if effect == "allow" and rng.random() < 0.25:
            grant["obligations"] = [rng.choice(OBLIGATIONS)]
        grant_list.append(grant)
    user_table = {f"u{i}": {"roles": _pick(rng, role_ids, 1, 3)} for i in range(users)}
    rules: list[dict[str, Any]] = []
    for n in range(sod_rules):
        rules.append(
            {"id": f"SOD-{n}", "roles": _pick(rng, role_ids, 2, 3), "max": 1, "severity": "high"}
        )
    for n in range(toxic_rules):
        pair = rng.sample(class_ids, 2) if len(class_ids) > 1 else class_ids * 2
        rules.append(
            {
                "id": f"TOX-{n}",
                "permissions": [
                    {"classes": [pair[0]], "actions": [rng.choice(ACTIONS)]},
                    {"classes": [pair[1]], "actions": [rng.choice(ACTIONS)]},
                ],
                "severity": "critical",
            }
        )
    policy: dict[str, Any] = {
        "version": 1,
        "actions": list(ACTIONS),
        "levels": list(LEVELS),
        "classes": class_table,
        "purposes": purpose_table,
        "roles": role_table,
        "users": user_table,
        "grants": grant_list,
    }
    if rules:
        policy["separation_of_duties"] = rules
    return policy


def _dump(data: dict[str, Any]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=None, width=120))


def write_policy(policy: dict[str, Any], path: str | Path) -> Path:
    """Write a policy as one YAML file (`.yaml`/`.yml`) or a directory of one file per section."""
    target = Path(path)
    if target.suffix in (".yaml", ".yml"):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_dump(policy), encoding="utf-8")
        return target
    target.mkdir(parents=True, exist_ok=True)
    for n, key in enumerate(k for k in SECTION_ORDER if k in policy):
        (target / f"{n:02d}-{key}.yaml").write_text(_dump({key: policy[key]}), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: generate a policy and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a .yaml file, or a directory")
    defaults = generate_policy.__kwdefaults__ or {}
    for name, value in zip(
        ("grants", "roles", "users", "classes", "purposes", "sod_rules", "toxic_rules", "seed"),
        (30_000, 3_000, 100_000, 200, 40, 50, 50, 0),
        strict=True,
    ):
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, default=defaults.get(name, value))
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k != "out"}
    written = write_policy(generate_policy(**options), args.out)
    print(f"wrote {written}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
