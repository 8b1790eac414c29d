"""Replicas as real `pdp serve --db` processes on loopback: in sync, fail static, cached start."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pdp.store.policy_store import PolicyStore
from pdp.store.source import named_texts
from tests.service.test_serve_process import PDP, free_port, wait_ready
from tests.store.conftest import POLICIES

pytestmark = pytest.mark.postgres
# Generous: the test checks that a change reaches every replica, not how fast (the
# 2 s target is measured by tools/bench_store.py, without a timed assertion here).
REACH_WITHIN = 60.0
# Allowed by u1022's marketing grant; denied only by its analyst role's D-ANALYST-IDENTIFIED
# (the question tests/service/test_policy_delivery.py asks too).
PROHIBITED = {
    "user": "u1022",
    "info_class": "identity.name",
    "purpose": "marketing",
    "action": "use",
    "context": {"consent": ["marketing"], "mfa": True},
}


class Proxy:
    """A TCP forwarder to PostgreSQL that a test can cut and restore (an outage on demand)."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            if self._listener is not None:
                # shutdown() wakes the thread blocked in accept(); close() alone
                # would leave the socket listening until that accept returns.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile: refuse
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Replica:
    """One `pdp serve --db` process on a free loopback port."""

    def __init__(self, db: str, directory: Path, cache: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(PDP), "serve", "--db", db, "--port", str(self.port)]
        args += ["--log", f"sqlite:///{directory / f'log-{self.port}.db'}"]
        if cache is not None:
            args += ["--policy-cache", str(cache)]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )

    def version(self) -> str:
        return str(httpx.get(f"{self.url}/v1/policy", timeout=5).json()["version"])

    def info(self) -> dict[str, object]:
        data: dict[str, object] = httpx.get(f"{self.url}/v1/policy", timeout=5).json()
        return data

    def ready(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/readyz", timeout=5)
        assert response.status_code == 200, response.text
        data: dict[str, object] = response.json()
        return data

    def allows(self) -> bool:
        response = httpx.post(f"{self.url}/v1/decisions", json=PROHIBITED, timeout=5)
        assert response.status_code == 200, response.text
        return bool(response.json()["allowed"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate()


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Replica]]:
    """Replicas started by the test (`started.append`), all stopped at the end."""
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


def push(db: str, policy: Path, message: str = "") -> str:
    store = PolicyStore.open(db)
    try:
        texts, problems = named_texts(policy)
        assert not problems
        return store.push(texts, message).version
    finally:
        store.close()


def wait_for(replicas: list[Replica], version: str, seconds: float = REACH_WITHIN) -> None:
    """Wait until every replica serves `version` (fails after `seconds`)."""
    deadline = time.monotonic() + seconds
    pending = list(replicas)
    while pending and time.monotonic() < deadline:
        pending = [r for r in pending if r.version() != version]
        if pending:
            time.sleep(0.02)
    assert not pending, f"{len(pending)} replica(s) still not on {version}"


def partial_policy(tmp_path: Path) -> Path:
    target = tmp_path / "partial"
    shutil.copytree(POLICIES, target)
    (target / "50-prohibitions.yaml").unlink()
    return target


def test_three_replicas_follow_every_push_and_ignore_invalid_ones(
    store_url: str, tmp_path: Path, replicas: list[Replica]
) -> None:
    full = push(store_url, POLICIES, "baseline")
    for _ in range(3):
        replicas.append(Replica(store_url, tmp_path))
    for replica in replicas:
        wait_ready(replica.url, replica.process, 120)
    assert {r.version() for r in replicas} == {full}
    # A push reaches all three (how fast is measured by tools/bench_store.py).
    partial = push(store_url, partial_policy(tmp_path), "without prohibitions")
    wait_for(replicas, partial)
    assert all(r.allows() for r in replicas)
    # An invalid push is refused by the store; no replica changes.
    broken = tmp_path / "broken"
    shutil.copytree(POLICIES, broken)
    (broken / "40-grants.yaml").write_text("grants:\n  - {id: G-X, roles: [ghost]}\n")
    refused = subprocess.run(
        [str(PDP), "policy", "push", str(broken), "--db", store_url],
        capture_output=True,
        timeout=120,
    )
    assert refused.returncode == 2
    time.sleep(1.0)
    assert {r.version() for r in replicas} == {partial}
    # A rollback reaches all three as well, and each records the change.
    store = PolicyStore.open(store_url)
    try:
        store.rollback("1", "restore the prohibitions")
    finally:
        store.close()
    wait_for(replicas, full)
    assert not any(r.allows() for r in replicas)
    for replica in replicas:
        info = replica.info()
        assert info["source_kind"] == "store"
        history = info["history"]
        assert [h["trigger"] for h in history] == ["store", "store"]  # type: ignore[union-attr]
        metrics = httpx.get(f"{replica.url}/metrics").text
        assert "pdp_policy_store_connected 1.0" in metrics
        assert f'pdp_policy_info{{version="{full}"}} 1.0' in metrics


def test_replicas_fail_static_start_from_the_cache_and_catch_up(
    store_url: str, tmp_path: Path, replicas: list[Replica]
) -> None:
    full = push(store_url, POLICIES, "baseline")
    proxy = Proxy()
    proxy.start()
    db = store_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    cache = tmp_path / "cache" / "policy.tgz"
    first = Replica(db, tmp_path, cache)
    replicas.append(first)
    wait_ready(first.url, first.process, 120)
    assert cache.is_file()
    try:
        proxy.stop()  # the store goes away
        deadline = time.monotonic() + 20
        while first.ready()["status"] != "degraded" and time.monotonic() < deadline:
            time.sleep(0.2)
        ready = first.ready()
        assert ready["status"] == "degraded" and ready["policy_version"] == full
        assert not first.allows()  # fail static: still deciding with the version it holds
        # Meanwhile a new version is activated (directly, not through the proxy).
        partial = push(store_url, partial_policy(tmp_path), "during the outage")
        # A replica starting now serves the cached copy, and says so.
        second = Replica(db, tmp_path, cache)
        replicas.append(second)
        wait_ready(second.url, second.process, 120)
        assert second.version() == full
        assert second.info()["store"] == {"event_seq": -1, "connected": False, "from_cache": True}
        assert second.ready()["status"] == "degraded"
        assert first.version() == full
    finally:
        proxy.start()  # the store comes back on the same address
    try:
        wait_for([first, second], partial)
        for replica in (first, second):
            assert replica.ready()["status"] == "ready"
            assert replica.allows()
        assert second.info()["store"]["from_cache"] is False  # type: ignore[index]
    finally:
        proxy.stop()
