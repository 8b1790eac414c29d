"""Fixtures of the decision-log tests: records, a filled SQLite log, raw SQL access."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pdp.audit import LogRecord, open_log

ROLES = ("teller", "branch_manager", "auditor")
CLASSES = ("identity.name", "identity.id_number", "account.balance")


def make_record(i: int, **fields: object) -> LogRecord:
    """The i-th test record: subjects, classes and results cycle; `fields` override."""
    data: dict[str, object] = {
        "kind": "decision",
        "decision_id": f"{i:032x}",
        "time": f"2026-11-{1 + i % 28:02d}T10:00:00.{i % 1_000_000:06d}Z",
        "caller": "crm" if i % 2 else "core_banking",
        "subject_kind": "role",
        "subject": ROLES[i % len(ROLES)],
        "info_class": CLASSES[i % len(CLASSES)],
        "purpose": "customer_service",
        "action": "read",
        "allowed": i % 3 != 0,
        "reasons": ("g_read",) if i % 3 else ("default_deny",),
        "obligations": ("mask",) if i % 3 else (),
        "policy_version": "v1",
    }
    data.update(fields)
    return LogRecord(**data)  # type: ignore[arg-type]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """Where the test's SQLite log lives (not yet created)."""
    return tmp_path / "logs" / "decisions.db"


@pytest.fixture
def filled(log_path: Path) -> Path:
    """A SQLite log of 20 records (seq 1..20), closed."""
    log = open_log(str(log_path), batch_size=6, writer="thread")
    for i in range(1, 21):
        log.append(make_record(i))
    log.close()
    return log_path


@pytest.fixture
def sql(filled: Path) -> Iterator[Callable[..., list[tuple[object, ...]]]]:
    """Run raw SQL on the filled log, as an attacker with file access would."""
    conn = sqlite3.connect(filled, isolation_level=None)

    def run(statement: str, *params: object) -> list[tuple[object, ...]]:
        return conn.execute(statement, params).fetchall()

    yield run
    conn.close()
