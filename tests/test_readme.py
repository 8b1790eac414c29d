"""Every command in the README's `sh` blocks runs as written.

The `pdp` and `.venv/bin/pdp` lines run with this interpreter's `pdp`, in a
scratch directory that holds the repository's policies and tests (so what they
write stays out of the tree); `curl` lines run against a `pdp serve` started
for them on a free port, stopped before the next command so its decision log
is complete. The quick-start `make` lines are skipped by name (`make test` is
this suite; `make run` serves until stopped); any other kind of line fails
the test, so the README shows nothing that is not run here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdp import Decision
from pdp.policyci.layout import split_comment

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIPPED = {"make run", "make test"}
FINDINGS_EXIT_1 = {"review"}
"""Commands whose exit 1 means they reported findings (the bundled policy has some)."""
COPIED = ("policies", "tests/policy")
PDP = re.compile(r"^(?:\.venv/bin/)?pdp(?=\s|$)")
PORT = re.compile(r"(?:localhost|127\.0\.0\.1):8181")
FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_commands(text: str) -> list[str]:
    """The commands of the fenced `sh` blocks, continuation lines joined, comments removed."""
    commands: list[str] = []
    for block in FENCE.findall(text):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1].strip() + " "
                continue
            command = split_comment(pending + line.strip())[0].strip()
            pending = ""
            if command:
                commands.append(command)
    return commands


def _pdp() -> list[str]:
    script = Path(sys.executable).parent / "pdp"
    return [str(script)] if script.exists() else [str(ROOT / ".venv" / "bin" / "pdp")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for part in COPIED:
        shutil.copytree(ROOT / part, tmp_path / part)
    return tmp_path


class Server:
    """A `pdp serve` of the bundled policy on a free port, started on first use."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cwd / "serve.log"

    def start(self) -> None:
        if self.process is not None:
            return
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*_pdp(), "serve", "policies/", "--port", str(self.port)],
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"pdp serve exited: {self.log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise AssertionError("pdp serve did not start within 60 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def server(workdir: Path) -> Iterator[Server]:
    running = Server(workdir)
    yield running
    running.stop()


def test_the_readme_has_commands_to_run() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert any(PDP.match(c) for c in commands) and any(c.startswith("curl ") for c in commands)


def test_readme_commands_parse_as_written() -> None:
    text = '```sh\npdp a \\\n    --b c   # note\ncurl -d \'{"x": "#1"}\' u\n```\n'
    assert readme_commands(text) == ["pdp a --b c", 'curl -d \'{"x": "#1"}\' u']


def test_every_readme_command_runs(workdir: Path, server: Server) -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    for command in commands:
        if command in SKIPPED:
            continue
        if command.startswith("curl "):
            server.start()
            line = PORT.sub(f"127.0.0.1:{server.port}", command)
            done = subprocess.run(
                ["bash", "-c", f"set -o pipefail; {line} --fail --max-time 30"],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=60,
            )
        elif PDP.match(command):
            server.stop()  # a decision log is read only once the server has written it all
            argv = [*_pdp(), *shlex.split(PDP.sub("", command, count=1))]
            done = subprocess.run(
                argv,
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "COLUMNS": "100"},
            )
        else:
            raise AssertionError(f"the README runs `{command}`, which this test does not know")
        output = done.stdout + done.stderr
        words = command.split()
        allowed = {0, 1} if len(words) > 1 and words[1] in FINDINGS_EXIT_1 else {0}
        assert done.returncode in allowed, (
            f"`{command}` exited {done.returncode}:\n{output[-2000:]}"
        )
        assert "Traceback" not in output, command


PYTHON_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_the_readme_python_runs_and_allows(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library example runs as written, in the repository, and its decision is an allow."""
    (block,) = PYTHON_FENCE.findall(README.read_text(encoding="utf-8"))
    monkeypatch.chdir(workdir)
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    decision = namespace["d"]
    assert isinstance(decision, Decision) and decision.allowed, decision
