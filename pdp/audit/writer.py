"""The decision-log writer process: `python -m pdp.audit.writer`, started by `ProcessDecisionLog`.

It reads the log's url from the first message on stdin (never its command line
or environment), feeds the records arriving on stdin (the pipe protocol described in
`process_writer`) to a `ThreadDecisionLog`, and reports its status on stdout.
It ignores SIGINT and SIGTERM and stops at the end of its input, so a signal to
the whole process group does not cut the log short.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from pdp.audit.base import MAX_PENDING, SPOOL_MAX_BYTES, LogSettings
from pdp.audit.thread_writer import ThreadDecisionLog
from pdp.secrets import redact_url

log = logging.getLogger("pdp.audit")

STATUS_INTERVAL = 0.1
HEARTBEAT_EVERY = 10  # status intervals: the writer reports at least once a second


class _Reporter:
    """Writes the child's status lines to its stdout (from two threads)."""

    def __init__(self, decision_log: ThreadDecisionLog, out: IO[bytes]) -> None:
        self.log = decision_log
        self.out = out
        self.lock = threading.Lock()
        self.last = b""

    def fields(self) -> bytes:
        d = self.log
        return b"%d %d %d %d %d %d" % (
            d.healthy,
            d.write_failures,
            d.dropped,
            d.written,
            d.accepting,
            d.spooled,
        )

    def send(self, line: bytes, force: bool = False) -> None:
        with self.lock:
            if not force and line == self.last:
                return
            with contextlib.suppress(OSError, ValueError):
                self.out.write(line)
                self.out.flush()
            if line.startswith(b"S "):
                self.last = line

    def status(self, force: bool = False) -> None:
        self.send(b"S %b\n" % self.fields(), force)

    def watch(self, stop: threading.Event) -> None:
        ticks = 0
        while not stop.wait(STATUS_INTERVAL):
            ticks += 1
            self.status(force=ticks % HEARTBEAT_EVERY == 0)


def serve_pipe(decision_log: ThreadDecisionLog, source: IO[bytes], out: IO[bytes]) -> None:
    """Feed `decision_log` from the pipe protocol on `source`, reporting on `out`."""
    reporter = _Reporter(decision_log, out)
    reporter.status(force=True)
    stop = threading.Event()
    watcher = threading.Thread(target=reporter.watch, args=(stop,), daemon=True)
    watcher.start()
    try:
        while line := source.readline():
            kind, _, value = line.strip().partition(b" ")
            if kind == b"D":
                size = int(value)
                payload = source.read(size)
                if len(payload) < size:
                    log.error("decision log writer: a shipment was cut short; dropped")
                    break
                decision_log.append_bodies(payload.decode("utf-8", "replace").split("\n"))
            elif kind == b"F":
                decision_log.flush()
                reporter.send(b"F %b %b\n" % (value, reporter.fields()), force=True)
    finally:
        stop.set()
        decision_log.close()
        reporter.status(force=True)


def read_url(source: IO[bytes]) -> str:
    """The log's url: the first message of the pipe, `U <n>\\n` and n bytes (or exit)."""
    kind, _, size = source.readline().strip().partition(b" ")
    if kind != b"U" or not size.isdigit():
        sys.exit("pdp log writer: no log url on stdin")
    return source.read(int(size)).decode("utf-8", "replace")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the writer process (the url in `PDP_LOG_URL`, the settings as options)."""
    parser = argparse.ArgumentParser(description="pdp decision-log writer (started by the log)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--flush-interval", type=float, default=0.2)
    parser.add_argument("--max-pending", type=int, default=MAX_PENDING)
    parser.add_argument("--spool", type=Path, default=None)
    parser.add_argument("--spool-max-bytes", type=int, default=SPOOL_MAX_BYTES)
    args = parser.parse_args(argv)
    url = read_url(sys.stdin.buffer)
    for sig in (signal.SIGINT, signal.SIGTERM):  # stop at end of input, not on a group signal
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="pdp log writer: %(message)s")
    settings = LogSettings(
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        max_pending=args.max_pending,
        spool=args.spool,
        spool_max_bytes=args.spool_max_bytes,
    )
    try:
        decision_log = ThreadDecisionLog(url, settings)
    except Exception as exc:  # a bad url or spool: one line, no password
        sys.exit(f"pdp log writer: {redact_url(str(exc))}")
    serve_pipe(decision_log, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
