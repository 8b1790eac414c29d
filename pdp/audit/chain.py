"""The hash chain of the decision log, and its verification.

Row `seq` (1, 2, 3, ...) stores `hash = SHA-256("{seq}:{prev_hash}:{body}")` in
hex, where `body` is the record's canonical JSON (`record.canonical_json`) and
`prev_hash` is the hash of row `seq - 1` (`GENESIS`, 64 zeros, for row 1).
Editing, deleting, inserting or moving a row breaks the chain at that row;
`verify_rows` finds the first break and says what it looks like.

The chain alone cannot show that the newest rows were deleted (the shortened
chain is still valid), nor a chain rewritten from some row on by someone with
write access who recomputes every later hash. Both are caught by comparing
the head (`seq:hash`) with a copy kept elsewhere: `expect_head`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Literal, NamedTuple

from pdp.audit.record import column_time
from pdp.errors import LogInputError

GENESIS = "0" * 64
REORDER_WINDOW = 1024

ProblemKind = Literal["edited", "deleted", "reordered", "inserted"]


def row_hash(seq: int, prev_hash: str, body: str) -> str:
    """The hash of row `seq`: SHA-256 over `"{seq}:{prev_hash}:{body}"` in UTF-8, as hex."""
    return sha256(f"{seq}:{prev_hash}:{body}".encode()).hexdigest()


class Head(NamedTuple):
    """The newest row of a chain: its sequence number and hash (`0` and `GENESIS` when empty)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


EMPTY_HEAD = Head(0, GENESIS)


def parse_head(text: str) -> tuple[int | None, str]:
    """Parse `SEQ:HASH` or a bare `HASH` (as printed by `pdp log head`); raises `LogInputError`."""
    seq_text, _, hash_text = text.strip().rpartition(":")
    hash_text = hash_text.lower()
    if len(hash_text) != 64 or any(c not in "0123456789abcdef" for c in hash_text):
        raise LogInputError(f"`{text}` is not a log head (SEQ:HASH, 64 hex digits)")
    if not seq_text:
        return None, hash_text
    if not seq_text.isdigit():
        raise LogInputError(f"`{text}` is not a log head (SEQ:HASH, 64 hex digits)")
    return int(seq_text), hash_text


class ChainRow(NamedTuple):
    """One stored row as verification sees it.

    `time` is the copy of the record's time a store keeps as an indexed column;
    it must equal `record.column_time(body)` (None: the body has no log time).
    """

    seq: int
    prev_hash: str
    hash: str
    body: str
    time: str | None = None


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first break in a chain: the row where it shows, what it looks like, and a message."""

    seq: int
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of verifying a log: ok, how many rows were checked, and the first problem."""

    ok: bool
    checked: int
    problem: ChainProblem | None
    head: Head

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON (what `pdp log verify --json` prints)."""
        p = self.problem
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": str(self.head),
            "problem": None if p is None else {"seq": p.seq, "kind": p.kind, "message": p.message},
        }


def _written_seq(row: ChainRow) -> int | None:
    """The sequence number an intact but moved row was hashed with (searched nearby), or None."""
    for delta in range(1, REORDER_WINDOW + 1):
        for seq in (row.seq - delta, row.seq + delta):
            if seq > 0 and row_hash(seq, row.prev_hash, row.body) == row.hash:
                return seq
    return None


def _moved_far(row: ChainRow, rest: Iterable[ChainRow], head: Head | None) -> int | None:
    """The seq an intact row was written as, found by its successor further on, or None.

    A row moved farther than `REORDER_WINDOW` is found by the row chained to it
    (whose `prev_hash` is its hash), or by the head when it was the newest.
    """
    for later in rest:
        if later.prev_hash == row.hash:
            written = later.seq - 1
            break
    else:
        if head is None or head.hash != row.hash:
            return None
        written = head.seq
    return written if row_hash(written, row.prev_hash, row.body) == row.hash else None


class _Walk:
    """State of a walk along the chain: the last two good rows."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.prev_hash = GENESIS
        self.before_prev_hash: str | None = None

    def advance(self, row: ChainRow) -> None:
        self.expected_seq = row.seq + 1
        self.before_prev_hash = self.prev_hash
        self.prev_hash = row.hash


def _broken_hash(row: ChainRow, nxt: ChainRow | None, walk: _Walk) -> ChainProblem:
    """Classify a row whose hash does not match its own content and position."""
    seq = row.seq
    written = _written_seq(row)
    if written is not None:
        if written == seq - 1 and row.prev_hash == walk.before_prev_hash:
            return ChainProblem(seq - 1, "inserted", f"record {seq - 1} was inserted before it")
        moved_back = nxt is not None and nxt.hash == row.prev_hash
        if written == seq + 1 and row.prev_hash != walk.prev_hash and not moved_back:
            return ChainProblem(
                seq, "deleted", f"a record before seq {seq} was deleted and later ones renumbered"
            )
        return ChainProblem(seq, "reordered", f"the record at seq {seq} was written as {written}")
    if nxt is not None and nxt.prev_hash == walk.prev_hash:
        return ChainProblem(seq, "inserted", f"record {seq} is not part of the chain")
    return ChainProblem(seq, "edited", f"record {seq} does not match its hash (it was changed)")


def _check_row(row: ChainRow, nxt: ChainRow | None, walk: _Walk) -> ChainProblem | None:
    """The problem that shows at `row`, given the good rows before it, or None."""
    seq = row.seq
    if seq > walk.expected_seq:
        if nxt is not None and nxt.seq == walk.expected_seq:
            return ChainProblem(seq, "reordered", f"seq {seq} comes before seq {nxt.seq}")
        first, last = walk.expected_seq, seq - 1
        what = f"record {first} is" if first == last else f"records {first}..{last} are"
        return ChainProblem(first, "deleted", f"{what} missing")
    if seq < walk.expected_seq:
        return ChainProblem(seq, "reordered", f"seq {seq} comes after seq {walk.expected_seq - 1}")
    if row_hash(seq, row.prev_hash, row.body) != row.hash:
        return _broken_hash(row, nxt, walk)
    if row.prev_hash != walk.prev_hash:
        if row.prev_hash == walk.before_prev_hash:
            return ChainProblem(seq - 1, "inserted", f"record {seq - 1} was inserted before it")
        return ChainProblem(
            seq - 1,
            "edited",
            f"record {seq - 1} is not the one record {seq} was chained to (replaced and re-hashed)",
        )
    if row.time != column_time(row.body):
        return ChainProblem(seq, "edited", f"the time column of record {seq} was changed")
    return None


def _with_next(rows: Iterable[ChainRow]) -> Iterator[tuple[ChainRow, ChainRow | None]]:
    it = iter(rows)
    current = next(it, None)
    while current is not None:
        nxt = next(it, None)
        yield current, nxt
        current = nxt


def _check_head(
    last: Head, label: str, head_seq: int | None, head_hash: str, seen: bool
) -> ChainProblem | None:
    """Compare the verified chain's end with a head recorded elsewhere."""
    if head_seq is None:
        if seen:
            return None
        return ChainProblem(
            last.seq + 1,
            "deleted",
            f"the {label} is not in the log (ends at seq {last.seq}): "
            "newest records deleted or the chain rewritten",
        )
    if head_seq > last.seq:
        what = (
            f"record {head_seq} is"
            if head_seq == last.seq + 1
            else (f"records {last.seq + 1}..{head_seq} are")
        )
        return ChainProblem(
            last.seq + 1,
            "deleted",
            f"{what} missing: the log ends at seq {last.seq} but the {label} is seq {head_seq}",
        )
    if not seen:
        return ChainProblem(
            head_seq,
            "edited",
            f"record {head_seq} does not have the {label}'s hash: the chain was rewritten",
        )
    return None


def verify_rows(
    rows: Iterable[ChainRow],
    *,
    stored_head: Head | None = None,
    head_row_missing: bool = False,
    expect_head: str | None = None,
) -> VerifyResult:
    """Walk a chain in stored order and report the first break.

    `stored_head` is the head the store keeps beside the rows (checked for a
    truncated or extended tail; `head_row_missing` when the store lost it);
    `expect_head` is a `SEQ:HASH` or `HASH` kept elsewhere, which must be in the
    chain. Raises `LogInputError` for a malformed `expect_head`.
    """
    expected = parse_head(expect_head) if expect_head is not None else None
    if head_row_missing:
        gone = ChainProblem(0, "deleted", "the log's head row was deleted")
        return VerifyResult(False, 0, gone, EMPTY_HEAD)
    walk = _Walk()
    checked = 0
    last = EMPTY_HEAD
    seen_expected = False
    remaining = iter(rows)
    for row, nxt in _with_next(remaining):
        problem = _check_row(row, nxt, walk)
        if problem is not None and problem.kind == "edited" and problem.seq == row.seq:
            rest = remaining if nxt is None else itertools.chain((nxt,), remaining)
            written = _moved_far(row, rest, stored_head)
            if written is not None and written != row.seq:
                message = f"the record at seq {row.seq} was written as {written}"
                problem = ChainProblem(row.seq, "reordered", message)
        if problem is not None:
            return VerifyResult(False, checked, problem, last)
        if stored_head is not None and row.seq > stored_head.seq:
            problem = ChainProblem(
                row.seq, "inserted", f"record {row.seq} is beyond the log's head row"
            )
            return VerifyResult(False, checked, problem, last)
        if expected is not None and row.hash == expected[1]:
            if expected[0] is not None and expected[0] != row.seq:
                problem = ChainProblem(row.seq, "reordered", "the expected head is at another seq")
                return VerifyResult(False, checked, problem, last)
            seen_expected = True
        walk.advance(row)
        checked += 1
        last = Head(row.seq, row.hash)
    problem = None
    if stored_head is not None:
        seen = last == stored_head
        problem = _check_head(last, "log's head row", stored_head.seq, stored_head.hash, seen)
    if problem is None and expected is not None:
        problem = _check_head(last, "expected head", expected[0], expected[1], seen_expected)
    return VerifyResult(problem is None, checked, problem, last)
