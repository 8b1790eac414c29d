"""JSONL exports: every record with its hashes, readable back and verifiable on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pdp.audit import export_log, head_of, read_records, verify_source
from pdp.errors import StorageError
from tests.audit.conftest import make_record


def test_export_and_read_records_round_trip(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    assert export_log(str(filled), out) == 20
    wanted = [make_record(i) for i in range(1, 21)]
    assert list(read_records(str(out))) == wanted
    assert list(read_records(str(filled))) == wanted
    first = json.loads(out.read_text().splitlines()[0])
    assert (
        first["seq"] == 1
        and first["prev_hash"] == "0" * 64
        and first["subject"] == make_record(1).subject
    )


def test_an_export_verifies_and_keeps_the_head(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    export_log(str(filled), out)
    head = head_of(str(filled))
    assert head_of(str(out)) == head
    result = verify_source(str(out), expect_head=str(head))
    assert result.ok and result.checked == 20


def test_an_edited_export_is_found(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    export_log(str(filled), out)
    lines = out.read_text().splitlines()
    line = json.loads(lines[5])
    line["allowed"] = not line["allowed"]
    lines[5] = json.dumps(line)
    out.write_text("\n".join(lines) + "\n")
    result = verify_source(str(out))
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (6, "edited")


def test_a_truncated_export_is_found_with_the_kept_head(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    export_log(str(filled), out)
    out.write_text("\n".join(out.read_text().splitlines()[:15]) + "\n")
    result = verify_source(str(out), expect_head=str(head_of(str(filled))))
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (16, "deleted")


def test_a_malformed_export_is_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1}\n')
    with pytest.raises(StorageError, match="line 1 of"):
        list(read_records(str(bad)))
    with pytest.raises(StorageError, match="cannot read"):
        verify_source(str(tmp_path / "missing.jsonl"))
