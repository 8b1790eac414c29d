"""JSONL exports of the decision log: one record a line, with its `seq`, `prev_hash` and `hash`.

An export keeps the chain, so `pdp log verify FILE.jsonl` checks it like the log
itself (without the log's head row: pass `--expect-head` to check the tail).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from pdp.audit.chain import ChainRow
from pdp.audit.record import LogRecord, canonical_json, column_time, parse_canonical
from pdp.errors import LogRecordError, StorageError


def write_jsonl(rows: Iterable[ChainRow], out: Path) -> int:
    """Write rows to `out` as JSONL (atomically, via a temporary file); return how many."""
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                line = {"seq": row.seq, "prev_hash": row.prev_hash, "hash": row.hash}
                line.update(parse_canonical(row.body).to_dict())
                f.write(_encode(line).decode() + "\n")
                count += 1
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write `{out}`: {exc.strerror or exc}") from None
    return count


def jsonl_rows(path: Path) -> Iterator[ChainRow]:
    """The chain rows of a JSONL export, in file order (raises `StorageError` if unreadable)."""
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    yield _row(line, path, number)
    except OSError as exc:
        raise StorageError(f"cannot read `{path}`: {exc.strerror or exc}") from None


def _row(line: str, path: Path, number: int) -> ChainRow:
    try:
        data = _decode(line)
        record = LogRecord.from_dict(data)
        body = canonical_json(record)
        return ChainRow(
            int(data["seq"]), str(data["prev_hash"]), str(data["hash"]), body, column_time(body)
        )
    except (LogRecordError, ValueError, KeyError, TypeError, msgspec.DecodeError) as exc:
        raise StorageError(f"line {number} of `{path}` is not a log record: {exc}") from None


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
