"""The shape of the package: heavy libraries stay in their own package, and the
base install (no extras) decides, checks, reviews and diffs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pdp"
POLICY = PACKAGE.parent / "policies"

# library -> the only places (module files or package folders) that may import it
OWNERS = {
    "casbin": ("casbin_engine.py",),
    "fastapi": ("service/",),
    "starlette": ("service/",),
    "networkx": ("analysis/",),
    "numpy": ("analysis/",),
    "uvicorn": ("cli/serve.py", "service/"),
}
# what only an extra installs: the base install must work without any of them
EXTRAS_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "matplotlib",
    "psycopg",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, set[str]]]:
    return [
        (path.relative_to(PACKAGE).as_posix(), _imports(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_library_is_imported_only_by_its_owner(library: str) -> None:
    owners = OWNERS[library]
    offenders = [
        name
        for name, imports in _modules()
        if library in imports and not any(name.startswith(owner) for owner in owners)
    ]
    assert offenders == [], f"{library} imported outside {owners}: {offenders}"


def test_the_owner_rule_sees_imports() -> None:
    """The scan finds the imports it polices (else the rule above could never fail)."""
    found = dict(_modules())
    assert "casbin" in found["casbin_engine.py"]
    assert any(
        "networkx" in imports for name, imports in found.items() if name.startswith("analysis/")
    )


BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not in the base install)")
            return None
    sys.meta_path.insert(0, Block())
    sys.argv = ["pdp", *sys.argv[2:]]
    from pdp.cli.app import main
    main()
    """
)


@pytest.mark.parametrize(
    "args",
    [
        ["check", str(POLICY)],
        [
            "decide",
            str(POLICY),
            "--role",
            "teller",
            "--class",
            "identity.id_number",
            "--purpose",
            "account_opening",
            "--action",
            "use",
        ],
        ["review", str(POLICY), "--format", "json"],
        ["diff", str(POLICY), str(POLICY)],
    ],
    ids=["check", "decide", "review", "diff"],
)
def test_base_install_works_without_extras(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(EXTRAS_ONLY), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert "not in the base install" not in proc.stderr + proc.stdout, proc.stderr[-2000:]
    assert proc.returncode in (0, 1), proc.stderr[-2000:]


def test_the_blocker_blocks(tmp_path: Path) -> None:
    """A blocked module fails the command (else the test above could never fail)."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKER, "yaml", "check", str(POLICY)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
