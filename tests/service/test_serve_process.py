"""A real `pdp serve` on a free loopback port: decide, stop cleanly, every decision logged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pdp.audit import open_log
from pdp.client import PdpClient
from pdp.service.auth import hash_token
from tests.service.conftest import POLICY, TELLER_OPENING

PDP = Path(sys.executable).parent / "pdp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("pdp serve did not become ready")


def test_serve_decides_and_logs_every_decision(tmp_path: Path) -> None:
    config = tmp_path / "pdp.yaml"
    config.write_text(
        f"tokens:\n  - {{name: crm, sha256: {hash_token('crm-token')}, scopes: [decide]}}\n"
    )
    db = tmp_path / "decisions.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(PDP),
            "serve",
            str(POLICY.parent),
            "--port",
            str(port),
            "--config",
            str(config),
            "--log",
            f"sqlite:///{db}",
            "--no-watch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        wait_ready(url, process)
        assert httpx.post(f"{url}/v1/decisions", json=TELLER_OPENING).status_code == 401
        with PdpClient(url, token="crm-token") as pdp:
            one = pdp.decide(**TELLER_OPENING)
            many = pdp.decide_many([TELLER_OPENING, {**TELLER_OPENING, "action": "disclose"}] * 50)
        assert one.allowed and len(many) == 100
        assert [d.allowed for d in many[:2]] == [True, False]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    log = open_log(f"sqlite:///{db}")
    try:
        decisions = log.query(kind="decision")
        assert len(decisions) == 101
        assert log.verify().ok
        assert {r.caller for r in decisions} == {"crm"}
        ids = {r.decision_id for r in decisions}
        assert one.decision_id in ids and {d.decision_id for d in many} <= ids
        # 50 denials: a denial burst for the caller and for the role (threshold 20)
        alerts = log.query(kind="alert")
        assert sorted(a.detail["key"] for a in alerts) == ["caller:crm", "role:teller"]
    finally:
        log.close()
