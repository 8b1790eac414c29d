"""Attacks on a real `pdp serve` on loopback, bounded in count and time.

Each test performs the attack of docs/security.md against a subprocess and
checks the defence: slow clients are cut off while the service keeps
answering, a secret in the log URL shows nowhere, an unprotected
non-loopback bind is refused, cross-site bodies and foreign `Host` names are
refused, and ids holding terminal escapes are a 422.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pdp.service.auth import hash_token
from tests.service.conftest import POLICY, TELLER_OPENING
from tests.service.test_serve_process import PDP, free_port

SECRET = "S3cretPassw0rd"
DEAD_LOG = f"postgresql://pdp:{SECRET}@127.0.0.1:9/pdp"  # nothing listens on port 9
SLOW_CLIENTS = 200
CUT_OFF_WITHIN = 20.0  # seconds


@dataclass
class Served:
    """A running `pdp serve` and where its stderr goes."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    stderr: Path


def start(tmp: Path, config: str, *args: str, env: dict[str, str] | None = None) -> Served:
    """Start `pdp serve` on a free loopback port with a config file's text."""
    (tmp / "pdp.yaml").write_text(config)
    port = free_port()
    stderr = tmp / "stderr.txt"
    command = [str(PDP), "serve", str(POLICY.parent), "--port", str(port)]
    command += ["--config", str(tmp / "pdp.yaml"), "--no-watch", "--log-level", "warning"]
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, **(env or {})},
        )
    served = Served(f"http://127.0.0.1:{port}", port, process, stderr)
    try:
        wait_ready_or_alive(served)
    except BaseException:
        stop(served)
        raise
    return served


def wait_ready_or_alive(served: Served, seconds: float = 60) -> None:
    """Wait until `/healthz` answers (a failing log keeps `/readyz` at 503)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.stderr.read_text()
        try:
            if httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("pdp serve did not start")


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
        try:
            served.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


TOKENS = f"""
tokens:
  - {{name: crm, sha256: {hash_token("crm-token")}, scopes: [decide]}}
  - {{name: ops, sha256: {hash_token("ops-token")}, scopes: [admin]}}
"""
DECIDE = {"authorization": "Bearer crm-token"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One service for the module: tokens, short read and keep-alive bounds, a dead log."""
    tmp = tmp_path_factory.mktemp("attacks")
    config = TOKENS + "limits: {read_timeout: 2, keep_alive_timeout: 2, max_connections: 400}\n"
    running = start(tmp, config, env={"PDP_LOG_URL": DEAD_LOG})
    yield running
    stop(running)


def test_slow_clients_are_cut_off_while_the_service_answers(served: Served) -> None:
    started = time.monotonic()
    half_sent = []
    for n in range(SLOW_CLIENTS):
        client = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        if n % 2:  # half a header
            client.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        else:  # a whole header, then a tenth of the body it announced
            client.sendall(
                b"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"role"'
            )
        half_sent.append(client)
    try:
        health = httpx.get(f"{served.url}/healthz", timeout=5)
        assert health.status_code == 200
        answer = httpx.post(f"{served.url}/v1/decisions", json=TELLER_OPENING, headers=DECIDE)
        assert answer.json()["allowed"] is True
        closed = 0
        for client in half_sent:
            client.settimeout(max(0.1, CUT_OFF_WITHIN - (time.monotonic() - started)))
            try:
                closed += client.recv(1024) == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                break
        assert closed == SLOW_CLIENTS, f"{closed} of {SLOW_CLIENTS} closed by the server"
        assert time.monotonic() - started < CUT_OFF_WITHIN
    finally:
        for client in half_sent:
            client.close()
    errors = served.stderr.read_text()
    assert "Traceback" not in errors and len(errors) < 20_000


def test_an_idle_connection_is_closed_after_the_keep_alive_time(served: Served) -> None:
    # keep_alive_timeout is 2 s; a server that kept the connection would hit our 10 s timeout.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not whole_response(answer):  # the head and the body may come in separate reads
            chunk = client.recv(4096)
            assert chunk, answer
            answer += chunk
        assert b"200 OK" in answer
        assert client.recv(1024) == b""  # closed by the server, not by our timeout


def whole_response(data: bytes) -> bool:
    """True when `data` holds an HTTP response's head and its `content-length` bytes of body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.partition(b":")[2])
    return True


def test_the_log_password_shows_nowhere(served: Served) -> None:
    admin = {"authorization": "Bearer ops-token"}
    texts = [
        served.stderr.read_text(),
        httpx.get(f"{served.url}/v1/policy", headers=admin).text,
        httpx.get(f"{served.url}/metrics", headers=admin).text,
        httpx.get(f"{served.url}/readyz").text,
    ]
    assert "pdp:***@127.0.0.1:9/pdp" in texts[0]  # the banner names the log, redacted
    assert not [t for t in texts if SECRET in t]
    command = Path(f"/proc/{served.process.pid}/cmdline").read_bytes()
    assert SECRET.encode() not in command
    writers = [c for c in commands_of_children(served.process.pid) if b"pdp.audit.writer" in c]
    assert writers, "the decision-log writer process was not found"
    assert not [c for c in commands_of_children(served.process.pid) if SECRET.encode() in c]


def commands_of_children(pid: int, seconds: float = 30) -> list[bytes]:
    """The command lines (`/proc/<pid>/cmdline`) of a process's descendants.

    Waits until the decision-log writer child is up (it starts with the
    service, and again after a crash), `seconds` at most.
    """
    deadline = time.monotonic() + seconds
    while True:
        commands = [_cmdline(child) for child in _descendants(pid)]
        if any(b"pdp.audit.writer" in c for c in commands) or time.monotonic() > deadline:
            return commands
        time.sleep(0.1)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(text.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def test_cross_site_bodies_and_foreign_hosts_are_refused(served: Served) -> None:
    body = b'{"role": "teller", "info_class": "identity.id_number", "purpose": "x", "action": "y"}'
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        headers = {**DECIDE, "content-type": media}
        answer = httpx.post(f"{served.url}/v1/decisions", content=body, headers=headers)
        assert answer.status_code == 415, media
    rebound = httpx.post(
        f"{served.url}/v1/decisions",
        json=TELLER_OPENING,
        headers={**DECIDE, "host": f"attacker.example:{served.port}"},
    )
    assert rebound.status_code == 421
    assert (
        httpx.post(
            f"{served.url}/v1/decisions",
            json=TELLER_OPENING,
            headers={**DECIDE, "host": f"localhost:{served.port}"},
        ).status_code
        == 200
    )


def test_ids_with_terminal_escapes_are_422(served: Served) -> None:
    for field in ("role", "info_class", "purpose", "action"):
        body = {**TELLER_OPENING, field: "x\u001b[2J\u001b[31mok"}
        answer = httpx.post(f"{served.url}/v1/decisions", json=body, headers=DECIDE)
        assert answer.status_code == 422, field
        assert answer.json()["error"]["field"] == field


def test_an_open_service_off_loopback_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pdp.yaml").write_text("log_writer: thread\n")
    command = [str(PDP), "serve", str(POLICY.parent), "--host", "0.0.0.0"]
    command += ["--port", str(free_port()), "--config", str(tmp_path / "pdp.yaml")]
    refused = subprocess.run(
        [*command, "--log", f"sqlite:///{tmp_path / 'd.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "without tokens" in refused.stderr and "tokens:" in refused.stderr
    assert "--insecure-no-auth" in refused.stderr and "Traceback" not in refused.stderr


def test_the_lab_override_is_loud(tmp_path: Path) -> None:
    lab = start(
        tmp_path,
        "log_writer: thread\n",
        "--host",
        "0.0.0.0",
        "--insecure-no-auth",
        "--log",
        f"sqlite:///{tmp_path / 'd.db'}",
    )
    try:
        answer = httpx.post(f"{lab.url}/v1/decisions", json=TELLER_OPENING)
        assert answer.status_code == 200
    finally:
        stop(lab)
    assert "WARNING: --insecure-no-auth" in lab.stderr.read_text()
