"""The embedded default backend of the decision log: one SQLite file in WAL mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, create_engine, event, func

from pdp.audit.chain import EMPTY_HEAD, Head
from pdp.audit.record import LogRecord
from pdp.audit.store import COLUMNS, SQLITE_BUSY_TIMEOUT, SqlStore, link
from pdp.errors import StorageError


class SqliteStore(SqlStore):
    """The embedded default: one SQLite file in WAL mode, shared safely by several processes."""

    def _engine(self, create: bool) -> Engine:
        path = Path(self.target.url.database or "")
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the decision log `{path}`: {exc}") from None
        elif not path.is_file():
            raise StorageError(f"no decision log at `{path}`")
        engine = create_engine(
            self.target.url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    def _create_schema(self) -> None:
        from sqlalchemy.dialects.sqlite import insert

        with self.engine.connect().execution_options(pdp_write=True) as conn, conn.begin():
            self.metadata.create_all(conn)
            conn.execute(
                insert(self.head_table)
                .values(id=1, seq=0, hash=EMPTY_HEAD.hash)
                .on_conflict_do_nothing()
            )

    def _append_rows(self, records: Sequence[LogRecord | str]) -> Head:
        raw = self.engine.raw_connection()
        try:
            db = raw.driver_connection
            assert db is not None
            db.execute("BEGIN IMMEDIATE")
            try:
                seq, prev = db.execute(
                    f"SELECT seq, hash FROM {self._head_name} WHERE id = 1"
                ).fetchone()
                rows, head = link(records, Head(seq, prev))
                marks = ", ".join("?" * len(COLUMNS))
                db.executemany(
                    f"INSERT INTO {self._log_name} ({', '.join(COLUMNS)}) VALUES ({marks})", rows
                )
                db.execute(
                    f"UPDATE {self._head_name} SET seq = ?, hash = ? WHERE id = 1", tuple(head)
                )
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    db.execute("ROLLBACK")
                raise
            return head
        finally:
            raw.close()

    def _body_field_is(self, name: str, value: str | bool) -> ColumnElement[bool]:
        field = func.json_extract(self.log.c.body, f"$.{name}")
        return field == (int(value) if isinstance(value, bool) else value)

    def _detail_field_in(self, name: str, values: Sequence[str]) -> ColumnElement[bool]:
        return func.json_extract(self.log.c.body, f"$.detail.{name}").in_(list(values))

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Let the log control transactions itself; WAL for concurrent readers and writers."""
    dbapi_connection.isolation_level = None
    with contextlib.suppress(Exception):  # a read-only file keeps its mode
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _sqlite_begin(conn: Connection) -> None:
    """Start SQLAlchemy transactions explicitly: IMMEDIATE (write lock) for writers."""
    conn.exec_driver_sql(
        "BEGIN IMMEDIATE" if conn.get_execution_options().get("pdp_write") else "BEGIN"
    )
