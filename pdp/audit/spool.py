"""The disk spool: records the log store could not take, kept in order until it returns.

    spool = Spool(Path("var/log-spool"), max_bytes=256 * 1024 * 1024)
    taken = spool.put(bodies)           # as many as fit, in order
    spool.peek(1000)                    # the oldest, not yet removed
    spool.consume(1000)                 # stored: remove them

One file, `spool.jsonl`, holds the records' canonical JSON one a line (canonical
JSON holds no raw newline), appended and synced to disk with each `put`; a
second, `spool.pos`, holds how many bytes of it were already stored, so a
restarted writer resumes where the last one stopped. When everything is
stored, both are emptied. Records are not chained here: the store chains them
when they arrive, so the chain is the store's alone.

A writer that stored a batch and died before moving `spool.pos` finds that
batch again: `ThreadDecisionLog` skips the leading records the store already
holds (`SqlStore.tail_bodies`), so nothing is stored twice.
"""

from __future__ import annotations

import os
from pathlib import Path

from pdp.errors import StorageError

DATA = "spool.jsonl"
POSITION = "spool.pos"


class Spool:
    """A bounded, ordered, on-disk queue of canonical JSON bodies (one writer at a time)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = (directory / DATA).open("a+b")
        except OSError as exc:
            raise StorageError(
                f"cannot open the log spool `{directory}`: {exc.strerror or exc}"
            ) from None
        self._position = directory / POSITION
        self._refused = False
        self._read = self._stored_position()
        self._read = min(self._read, self._file.seek(0, os.SEEK_END))
        self._count, self._size = self._complete_lines_after(self._read)
        self._file.truncate(self._size)  # a line cut short by a crash was never taken

    def __len__(self) -> int:
        """How many records wait in the spool."""
        return self._count

    @property
    def size(self) -> int:
        """Bytes the spool's file takes (stored records included until it is emptied)."""
        return self._size

    @property
    def full(self) -> bool:
        """True when the last `put` could not take every record (until records are consumed)."""
        return self._refused or self._size >= self.max_bytes

    def put(self, bodies: list[str]) -> int:
        """Append as many bodies as fit (in order) and sync them; return how many.

        Raises `OSError` when the disk refuses the write (nothing is taken then).
        """
        room = self.max_bytes - self._size
        lines: list[bytes] = []
        used = 0
        for body in bodies:
            line = body.replace("\n", "\\n").encode("utf-8", "replace") + b"\n"
            if used + len(line) > room:
                break
            lines.append(line)
            used += len(line)
        self._refused = len(lines) < len(bodies)
        if not lines:
            return 0
        self._file.seek(0, os.SEEK_END)
        try:
            self._file.write(b"".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._file.truncate(self._size)
            raise
        self._size += used
        self._count += len(lines)
        return len(lines)

    def peek(self, count: int) -> list[str]:
        """The oldest `count` bodies (or fewer), left in the spool."""
        self._file.seek(self._read)
        bodies: list[str] = []
        for _ in range(min(count, self._count)):
            bodies.append(self._file.readline()[:-1].decode("utf-8", "replace"))
        return bodies

    def consume(self, count: int) -> None:
        """Remove the oldest `count` bodies (they are stored); empty the files when none remain."""
        self._file.seek(self._read)
        for _ in range(min(count, self._count)):
            self._read += len(self._file.readline())
        self._count = max(0, self._count - count)
        self._refused = False
        if self._count == 0:
            self._file.truncate(0)
            self._size = self._read = 0
        self._position.write_text(str(self._read), encoding="ascii")

    def close(self) -> None:
        """Close the file (records left in it stay for the next writer)."""
        self._file.close()

    def _stored_position(self) -> int:
        try:
            return int(self._position.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            return 0

    def _complete_lines_after(self, offset: int) -> tuple[int, int]:
        """How many whole lines follow `offset`, and where the last one ends."""
        self._file.seek(offset)
        count, end = 0, offset
        for line in self._file:
            if not line.endswith(b"\n"):
                break
            count += 1
            end += len(line)
        return count, end
