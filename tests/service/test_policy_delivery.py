"""Attacks on policy delivery against a real `pdp serve`: no partial policy ever goes live.

Each test runs the service on a loopback port, does to its policy what a
careless operator or an attacker with write access to the files would do,
and asks, while it happens, a question that only the prohibitions deny.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pdp.audit import open_log
from pdp.decision_point import DecisionPoint
from pdp.service.auth import hash_token
from pdp.store.bundle import generate_key
from tests.service.test_serve_process import PDP, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PROHIBITIONS = "50-prohibitions.yaml"
# Allowed by u1022's marketing grant; denied only by its analyst role's D-ANALYST-IDENTIFIED.
DENIED_BY_PROHIBITION = {
    "user": "u1022",
    "info_class": "identity.name",
    "purpose": "marketing",
    "action": "use",
    "context": {"consent": ["marketing"], "mfa": True},
}
APP = {"authorization": "Bearer app-token"}
ADMIN = {"authorization": "Bearer admin-token"}
CONFIG = f"""\
tokens:
  - {{name: app, sha256: {hash_token("app-token")}, scopes: [decide]}}
  - {{name: ops, sha256: {hash_token("admin-token")}, scopes: [admin]}}
"""


@dataclass
class Served:
    """A running `pdp serve`: its URL, process and decision-log URL."""

    url: str
    process: subprocess.Popen[bytes]
    log: str

    def ask(self) -> dict[str, object]:
        response = httpx.post(
            f"{self.url}/v1/decisions", json=DENIED_BY_PROHIBITION, headers=APP, timeout=10
        )
        assert response.status_code == 200, response.text
        data: dict[str, object] = response.json()
        return data

    def info(self, headers: dict[str, str] = ADMIN) -> dict[str, object]:
        data: dict[str, object] = httpx.get(
            f"{self.url}/v1/policy", headers=headers, timeout=10
        ).json()
        return data

    def reload(self) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/policy/reload", headers=ADMIN, timeout=30)


def start(tmp_path: Path, source: Path, *extra: str) -> subprocess.Popen[bytes]:
    config = tmp_path / "pdp.yaml"
    config.write_text(CONFIG)
    port = extra[extra.index("--port") + 1] if "--port" in extra else str(free_port())
    args = [str(PDP), "serve", str(source), "--config", str(config)]
    args += ["--log", f"sqlite:///{tmp_path / 'decisions.db'}", *extra]
    if "--port" not in extra:
        args += ["--port", port]
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start `pdp serve SOURCE [flags]` and stop it at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def run(source: Path, *extra: str) -> Served:
        port = free_port()
        process = start(tmp_path, source, "--port", str(port), *extra)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        return Served(url, process, f"sqlite:///{tmp_path / 'decisions.db'}")

    yield run
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    """A writable copy of the bundled policy."""
    target = tmp_path / "policy"
    shutil.copytree(POLICIES, target)
    return target


def allowed_without_prohibitions(policy: Path) -> bool:
    """What the partial policy would answer: the attack is real only if it allows."""
    return DecisionPoint.from_path(policy).decide(**DENIED_BY_PROHIBITION).allowed  # type: ignore[arg-type]


def hammer(served: Served, seconds: float) -> list[bool]:
    """Ask the prohibited question for a while (bounded): every answer's `allowed`."""
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.append(bool(served.ask()["allowed"]))
    return answers


def test_moving_a_file_away_changes_nothing_until_an_explicit_reload(
    serve: object, policy: Path, tmp_path: Path
) -> None:
    served = serve(policy)  # type: ignore[operator]
    version = served.info()["version"]
    assert served.ask()["allowed"] is False
    shutil.move(policy / PROHIBITIONS, tmp_path / PROHIBITIONS)
    assert allowed_without_prohibitions(policy)
    answers = hammer(served, 1.5)
    assert answers and not any(answers)
    info = served.info()
    assert info["version"] == version and info["history"] == []
    # An operator who means it reloads: the (valid) partial policy then goes live, recorded.
    assert served.reload().status_code == 200
    assert served.ask()["allowed"] is True
    shutil.move(tmp_path / PROHIBITIONS, policy / PROHIBITIONS)
    served.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while served.info()["version"] != version and time.monotonic() < deadline:
        time.sleep(0.1)
    history = served.info()["history"]
    assert [h["trigger"] for h in history] == ["signal", "api"]  # type: ignore[index]
    assert served.ask()["allowed"] is False


def test_a_file_cut_at_an_item_boundary_or_written_slowly_never_goes_live(
    serve: object, policy: Path
) -> None:
    served = serve(policy)  # type: ignore[operator]
    version = served.info()["version"]
    path = policy / PROHIBITIONS
    text = path.read_text()
    cut = text.index("  - id: D-BIOMETRIC-OUTSIDE-AUTH")
    path.write_text(text[:cut])
    assert allowed_without_prohibitions(policy)
    answers = hammer(served, 1.5)
    # A slow write: the first half, a pause, the rest (an editor or a copy over a slow link).
    with path.open("w") as out:
        out.write(text[:cut])
        out.flush()
        answers += hammer(served, 1.0)
        out.write(text[cut:])
    answers += hammer(served, 0.5)
    assert answers and not any(answers)
    assert served.info()["version"] == version


def test_watching_is_opt_in_and_reloads_on_change(serve: object, policy: Path) -> None:
    served = serve(policy, "--watch")  # type: ignore[operator]
    version = served.info()["version"]
    path = policy / PROHIBITIONS
    text = path.read_text()
    path.write_text(text[: text.index("  - id: D-BIOMETRIC-OUTSIDE-AUTH")])
    deadline = time.monotonic() + 20
    while served.info()["version"] == version and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.info()["history"][0]["trigger"] == "watch"  # type: ignore[index]


def bundle(policy: Path, target: Path, key: Path | None) -> Path:
    args = [str(PDP), "bundle", "build", str(policy), "-o", str(target)]
    if key is not None:
        args += ["--sign-key", str(key)]
    subprocess.run(args, check=True, capture_output=True)
    return target


def test_altered_bundles_are_refused_at_start_and_on_reload(
    serve: object, policy: Path, tmp_path: Path
) -> None:
    private, public = generate_key()
    key, pub = tmp_path / "key", tmp_path / "key.pub"
    key.write_bytes(private)
    pub.write_bytes(public)
    signed = bundle(policy, tmp_path / "policy.tgz", key)
    served = serve(signed, "--verify-key", str(pub))  # type: ignore[operator]
    version = served.info()["version"]
    good = signed.read_bytes()

    # Altered in place: one file cut short (its hash no longer matches).
    (policy / PROHIBITIONS).write_text("version: 1\ngrants: []\n")
    unsigned = bundle(policy, tmp_path / "unsigned.tgz", None)
    shutil.copy(unsigned, signed)  # an unsigned bundle where a signed one is required
    refused = served.reload()
    assert refused.status_code == 422
    assert refused.json()["error"]["problems"][0]["message"].startswith("the bundle is not signed")
    assert served.ask()["allowed"] is False
    info = served.info()
    assert info["version"] == version and info["source"] == "policy.tgz"
    last = info["history"][0]  # type: ignore[index]
    assert last["ok"] is False and last["problem_count"] == 1 and last["problems"]
    assert str(tmp_path) not in str(info)
    # Callers without the admin scope see that a change was refused, not why.
    hidden = served.info(APP)["history"][0]  # type: ignore[index]
    assert hidden["ok"] is False and hidden["problem_count"] == 1 and hidden["problems"] == []
    metrics = httpx.get(f"{served.url}/metrics", headers=ADMIN).text
    assert 'pdp_policy_reloads_total{result="failure",trigger="api"} 1.0' in metrics
    assert f'pdp_policy_info{{version="{version}"}} 1.0' in metrics

    signed.write_bytes(good[: len(good) // 2])  # a bundle cut short
    assert served.reload().status_code == 422
    signed.write_bytes(good)
    ok = served.reload()
    assert ok.status_code == 200 and ok.json()["changed"] is False

    served.process.send_signal(signal.SIGINT)
    served.process.communicate(timeout=30)
    log = open_log(served.log)
    try:
        events = log.query(kind="policy")
        assert [e.allowed for e in events] == [False, False, True]
        assert events[0].reasons == ("policy_invalid",) and events[0].detail["signed"] is False
        assert events[2].detail["source_kind"] == "bundle" and events[2].detail["signed"] is True
    finally:
        log.close()

    # At start: an unsigned bundle, or an altered one, is refused with exit 2.
    shutil.copy(unsigned, signed)
    refused_start = start(tmp_path, signed, "--verify-key", str(pub))
    _, stderr = refused_start.communicate(timeout=60)
    assert refused_start.returncode == 2
    assert b"not signed" in stderr and b"Traceback" not in stderr
    refused_dir = start(tmp_path, policy, "--verify-key", str(pub))
    _, stderr = refused_dir.communicate(timeout=60)
    assert refused_dir.returncode == 2 and b"bundle_required" in stderr
