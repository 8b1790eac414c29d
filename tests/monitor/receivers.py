"""Real local receivers of alerts for the delivery tests: an HTTP server and syslog sockets."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "fail", "hang"]
WAIT = 30.0  # seconds a test waits for something that should come (a bound, not a measure)


class Webhook:
    """A local HTTP server: `ok` answers 204, `fail` 500, `hang` never answers until released."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                with receiver.arrived:
                    receiver.bodies.append(json.loads(self.rfile.read(length)))
                    receiver.headers.append(dict(self.headers))
                    receiver.arrived.notify_all()
                if receiver.mode == "hang":
                    receiver.release.wait(WAIT)
                    return
                self.send_response(204 if receiver.mode == "ok" else 500)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int) -> None:
        """Wait until `count` requests arrived in all (fails after `WAIT` seconds)."""
        with self.arrived:
            got = self.arrived.wait_for(lambda: len(self.bodies) >= count, timeout=WAIT)
        assert got, f"the webhook got {len(self.bodies)} requests, not {count}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def webhook(mode: Mode) -> Iterator[Webhook]:
    """A running `Webhook`, shut down afterwards."""
    server = Webhook(mode)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def udp_receiver() -> Iterator[socket.socket]:
    """A bound UDP socket on loopback (recv with a `WAIT` timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(WAIT)
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def tcp_receiver() -> Iterator[socket.socket]:
    """A listening TCP socket on loopback (accept with a `WAIT` timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.settimeout(WAIT)
    try:
        yield sock
    finally:
        sock.close()


def read_framed(conn: socket.socket) -> bytes:
    """One RFC 6587 octet-counted message: `LEN SP MSG`."""
    length = b""
    while not length.endswith(b" "):
        length += conn.recv(1)
    size = int(length)
    data = b""
    while len(data) < size:
        data += conn.recv(size - len(data))
    return data
