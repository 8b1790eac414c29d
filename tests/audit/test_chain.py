"""The hash chain: verification finds each kind of tampering at the right seq."""

from __future__ import annotations

import pytest

from pdp.audit.chain import (
    EMPTY_HEAD,
    GENESIS,
    ChainRow,
    Head,
    parse_head,
    row_hash,
    verify_rows,
)
from pdp.audit.record import canonical_json, column_time
from pdp.audit.store import link
from pdp.errors import LogInputError
from tests.audit.conftest import make_record

N = 12


def chain(n: int = N) -> list[ChainRow]:
    rows, _ = link([make_record(i) for i in range(1, n + 1)], EMPTY_HEAD)
    return [ChainRow(r[0], r[1], r[2], r[4], r[3]) for r in rows]


def problem_of(rows: list[ChainRow], **kwargs: object) -> tuple[int, str]:
    result = verify_rows(rows, **kwargs)  # type: ignore[arg-type]
    assert not result.ok and result.problem is not None
    return result.problem.seq, result.problem.kind


def renumbered(row: ChainRow, seq: int) -> ChainRow:
    return row._replace(seq=seq)


def test_an_intact_chain_verifies() -> None:
    rows = chain()
    result = verify_rows(
        rows, stored_head=Head(N, rows[-1].hash), expect_head=str(Head(N, rows[-1].hash))
    )
    assert result.ok and result.checked == N and result.head == Head(N, rows[-1].hash)
    assert rows[0].prev_hash == GENESIS
    assert rows[4].hash == row_hash(5, rows[3].hash, rows[4].body)


def test_an_empty_chain_verifies() -> None:
    assert verify_rows([], stored_head=EMPTY_HEAD).ok


def test_an_edited_record_is_found() -> None:
    rows = chain()
    rows[6] = rows[6]._replace(body=rows[6].body.replace('"allowed":true', '"allowed":false'))
    assert problem_of(rows) == (7, "edited")


def test_an_edited_and_rehashed_record_is_found_by_its_successor() -> None:
    rows = chain()
    body = rows[6].body.replace('"allowed":true', '"allowed":false')
    rows[6] = rows[6]._replace(body=body, hash=row_hash(7, rows[6].prev_hash, body))
    assert problem_of(rows) == (7, "edited")


def test_a_deleted_record_is_found() -> None:
    rows = chain()
    del rows[4]
    assert problem_of(rows) == (5, "deleted")


def test_a_deleted_record_with_later_ones_renumbered_is_found() -> None:
    rows = chain()
    del rows[4]
    rows = rows[:4] + [renumbered(r, r.seq - 1) for r in rows[4:]]
    assert problem_of(rows) == (5, "deleted")


def test_swapped_records_are_found() -> None:
    rows = chain()
    rows[3], rows[4] = renumbered(rows[4], 4), renumbered(rows[3], 5)
    assert problem_of(rows) == (4, "reordered")


def test_swapped_lines_of_an_export_are_found() -> None:
    rows = chain()
    rows[3], rows[4] = rows[4], rows[3]
    assert problem_of(rows) == (5, "reordered")


@pytest.mark.parametrize("valid_hash", [True, False])
def test_an_inserted_record_is_found(valid_hash: bool) -> None:
    rows = chain()
    forged_body = canonical_json(make_record(99))
    forged_hash = row_hash(5, rows[3].hash, forged_body) if valid_hash else "f" * 64
    forged = ChainRow(5, rows[3].hash, forged_hash, forged_body, column_time(forged_body))
    rows = [*rows[:4], forged, *(renumbered(r, r.seq + 1) for r in rows[4:])]
    assert problem_of(rows) == (5, "inserted")


def test_a_truncated_tail_is_found_by_the_head_row() -> None:
    rows = chain()
    head = Head(N, rows[-1].hash)
    assert problem_of(rows[:9], stored_head=head) == (10, "deleted")


def test_a_truncated_tail_is_found_by_the_expected_head() -> None:
    rows = chain()
    expected = str(Head(N, rows[-1].hash))
    assert verify_rows(rows[:9]).ok  # the chain alone cannot tell
    assert problem_of(rows[:9], expect_head=expected) == (10, "deleted")
    assert problem_of(rows[:9], expect_head=rows[-1].hash) == (10, "deleted")


def test_an_older_expected_head_still_verifies_a_grown_log() -> None:
    rows = chain()
    assert verify_rows(rows, expect_head=f"5:{rows[4].hash}").ok


def test_a_rewritten_chain_is_found_by_the_expected_head() -> None:
    rows = chain()
    expected = f"5:{rows[4].hash}"
    forged, _ = link([make_record(i + 100) for i in range(1, N + 1)], EMPTY_HEAD)
    rewritten = [ChainRow(r[0], r[1], r[2], r[4], r[3]) for r in forged]
    assert verify_rows(rewritten).ok
    assert problem_of(rewritten, expect_head=expected) == (5, "edited")


def test_rows_beyond_the_head_row_are_inserted() -> None:
    rows = chain()
    assert problem_of(rows, stored_head=Head(10, rows[9].hash)) == (11, "inserted")


def test_a_time_column_that_differs_from_the_hashed_record_is_edited() -> None:
    rows = [row._replace(time=make_record(row.seq).time) for row in chain()]
    assert verify_rows(rows).ok
    rows[2] = rows[2]._replace(time="2020-01-01T00:00:00.000000Z")
    assert problem_of(rows) == (3, "edited")


@pytest.mark.parametrize("text", ["abc", "x:" + "a" * 64, "1:" + "g" * 64, ""])
def test_a_malformed_head_is_rejected(text: str) -> None:
    with pytest.raises(LogInputError, match="not a log head"):
        parse_head(text)


def test_a_head_parses_with_or_without_its_seq() -> None:
    assert parse_head("7:" + "A" * 64) == (7, "a" * 64)
    assert parse_head("b" * 64) == (None, "b" * 64)
