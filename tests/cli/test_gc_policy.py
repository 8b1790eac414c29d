"""The `pdp` entry point runs batch commands without the cyclic collector; `serve` restores it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pdp.cli.app import main

POLICY = """\
actions: [use]
classes: {identity: {level: C2}}
purposes: {service: {}}
roles: {staff: {}}
"""


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    yield
    gc.enable()


def run_main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr("sys.argv", ["pdp", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


def test_batch_command_runs_without_the_cyclic_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gc.enable()
    assert run_main(monkeypatch, "check", str(policy)) == 0
    assert not gc.isenabled()


def test_serve_turns_the_collector_back_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    seen: list[bool] = []

    def fake_run(app: Any, **options: Any) -> None:
        seen.append(gc.isenabled())

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # keep the test process's heap unfrozen
    log = f"sqlite:///{tmp_path / 'log.db'}"
    assert run_main(monkeypatch, "serve", str(policy), "--log", log, "--port", "0") == 0
    assert seen == [True]
