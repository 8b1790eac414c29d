"""A byte stream from a forked worker to this process through shared memory.

`pdp review --jobs N` workers encode findings (gigabytes for a bank's
review) that this process writes out in order. A file or a pipe between them
takes a fresh page of the kernel's for every 4 KB that passes; a `Ring` is
shared memory mapped before the worker forks, allocated once and reused:

    ring = Ring()                      # here, before the fork
    # in the worker:
    with ring.writer() as out:         # a buffered binary stream
        out.write(b"...")
    # here, after the fork:
    reader = ring.reader()
    reader.line(worker)                # the next line, without its newline

The worker copies its bytes in and this process copies them out; two pipes
carry positions (bytes written so far, bytes read so far), so each side waits
in `select` or a read, never by polling the memory. The worker waits when the
ring is full; this process waits when it is empty, looking every `WAIT`
seconds whether the worker (`Started`) has failed, to raise its error.
"""

from __future__ import annotations

import io
import mmap
import os
import select
import struct
from contextlib import suppress
from typing import Any

from pdp.cli.jobs import Started

SIZE = 64 << 20  # bytes of a ring (by default)
TAKE = 1 << 20  # the most bytes this process copies out of the ring at a time
BUFFER = 1 << 20  # the worker's writes are buffered up to this many bytes
WAIT = 0.05  # seconds between two checks of a worker this process waits for
_POSITION = struct.Struct("<Q")


class Ring:
    """Shared memory and the two pipes of positions: made here, before the worker forks.

    After the fork the worker calls `writer` and this process `reader`; each
    closes the other side's ends. A forked process that uses neither calls
    `close`, as does this process when done.
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = size = SIZE if size is None else size
        self.memory = mmap.mmap(-1, size)  # shared and anonymous: a forked worker sees it
        self._written = os.pipe()  # worker -> here: bytes written so far
        self._read = os.pipe()  # here -> worker: bytes read so far
        self._open = {*self._written, *self._read}

    def writer(self) -> io.BufferedWriter:
        """In the worker: the stream into the ring (closing it closes the worker's ends)."""
        self._close(self._written[0], self._read[1])
        sink = _Sink(self, self._written[1], self._read[0])
        return io.BufferedWriter(sink, buffer_size=BUFFER)

    def reader(self) -> RingReader:
        """Here, after the worker forked: the lines the worker writes."""
        self._close(self._written[1], self._read[0])
        os.set_blocking(self._read[1], False)  # a position not sent is sent with the next
        return RingReader(self, self._written[0], self._read[1])

    def close(self) -> None:
        """Close what this process still holds of the ring."""
        self._close(*self._open)

    def put(self, position: int, data: memoryview) -> None:
        """Copy bytes in at a stream position (wrapping around the end)."""
        start = position % self.size
        first = min(len(data), self.size - start)
        self.memory[start : start + first] = data[:first]
        if len(data) > first:
            self.memory[: len(data) - first] = data[first:]

    def get(self, position: int, count: int) -> bytes:
        """Copy `count` bytes out from a stream position (wrapping around the end)."""
        start = position % self.size
        first = min(count, self.size - start)
        data = self.memory[start : start + first]
        return data + self.memory[: count - first] if count > first else data

    def _close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self._open:
                self._open.discard(fd)
                os.close(fd)


class _Sink(io.RawIOBase):
    """The worker's side: copies bytes into the ring, waiting for room."""

    def __init__(self, ring: Ring, written: int, read: int) -> None:
        self._ring, self._written, self._read = ring, written, read
        self._position = 0  # bytes written
        self._freed = 0  # bytes this process has read (their room is free again)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        ring = self._ring
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            room = ring.size - (self._position - self._freed)
            if not room:
                positions = _positions(self._read)  # blocks until this process reads
                if not positions:
                    raise BrokenPipeError("the report's reader is gone")
                self._freed = _last(positions)
                continue
            count = min(room, len(view))
            ring.put(self._position, view[:count])
            self._position += count
            view = view[count:]
            os.write(self._written, _POSITION.pack(self._position))
        return total

    def close(self) -> None:
        if not self.closed:
            self._ring.close()
        super().close()


class RingReader:
    """This process's side: the worker's bytes, copied out a line at a time."""

    def __init__(self, ring: Ring, written: int, read: int) -> None:
        self._ring, self._written_fd, self._read_fd = ring, written, read
        self._written = 0  # bytes the worker has written
        self._read = 0  # bytes copied out
        self._buffer = b""
        self._at = 0

    def line(self, worker: Started[Any]) -> bytes:
        """The next line without its newline, waiting for the worker to write it (and
        raising the worker's error, if it fails first)."""
        while True:
            end = self._buffer.find(b"\n", self._at)
            if end >= 0:
                line = self._buffer[self._at : end]
                self._at = end + 1
                return line
            self._buffer = self._buffer[self._at :] + self._take(worker)
            self._at = 0

    def _take(self, worker: Started[Any]) -> bytes:
        """The next bytes written (at most `TAKE`), their room then given back."""
        while self._written == self._read:
            self._written = self._wait(worker)
        count = min(self._written - self._read, TAKE)
        data = self._ring.get(self._read, count)
        self._read += count
        # Not sent when the pipe is full (the next is) or the worker has ended.
        with suppress(BlockingIOError, BrokenPipeError):
            os.write(self._read_fd, _POSITION.pack(self._read))
        return data

    def _wait(self, worker: Started[Any]) -> int:
        """How far the worker has written, once it writes more than was read."""
        while True:
            ready, _, _ = select.select([self._written_fd], [], [], WAIT)
            if ready:
                positions = _positions(self._written_fd)
                if positions:
                    return _last(positions)
                worker.result()  # it has closed the ring: its error, if it failed
                raise RuntimeError("a report worker ended before writing its findings")
            if worker.done():
                worker.result()


def _positions(fd: int) -> bytes:
    """The positions waiting in a pipe (blocks until there is one); empty once the other
    side has closed it."""
    return os.read(fd, 4096 * _POSITION.size)


def _last(positions: bytes) -> int:
    """The last of some positions (each written whole: a pipe's small writes are atomic)."""
    return int(_POSITION.unpack_from(positions, len(positions) - _POSITION.size)[0])
