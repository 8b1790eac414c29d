"""The shared backend of the decision log: PostgreSQL (psycopg 3), partitioned by month.

`pdp_log` is partitioned by range of its `time` column (ISO 8601 text, so months
sort as text): one partition a month (`pdp_log_y2026m12`), created when a batch
first holds a record of that month, and a default partition (`pdp_log_other`)
for records without a log time. Old months can then be detached, archived or
dropped on their own, and a time-range query reads only its months. A log
created before partitioning keeps its plain table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, cast, create_engine, text

from pdp.audit.chain import EMPTY_HEAD, Head
from pdp.audit.record import LogRecord
from pdp.audit.store import COLUMNS, LOG_TABLE, PG_LOCK_KEY, SqlStore, link

CONNECT_TIMEOUT = 5  # seconds: an unreachable server fails a write fast (then: the spool)
OTHER_PARTITION = f"{LOG_TABLE}_other"
PARTITIONED = "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:table)"


BACKSLASH = "\\"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    """Rows (seq, prev_hash, hash, time, body) as COPY text: one buffer, not a call per row.

    A body is JSON, whose strings never hold a raw tab, newline or carriage
    return, so only its backslashes need doubling; a time is a log time
    (`record.column_time`) or none, kept as `''` (the partition key is never NULL).
    """
    lines = [
        f"{seq}\t{prev}\t{digest}\t{time or ''}\t{body.replace(BACKSLASH, BACKSLASH * 2)}\n"
        for seq, prev, digest, time, body in rows
    ]
    return "".join(lines)


def month_partition(month: str) -> tuple[str, str, str]:
    """The partition of a month `YYYY-MM`: its table name and its range (from, to)."""
    year, number = int(month[:4]), int(month[5:7])
    after = f"{year + number // 12:04d}-{number % 12 + 1:02d}"
    return f"{LOG_TABLE}_y{year:04d}m{number:02d}", month, after


class PostgresStore(SqlStore):
    """A shared log in PostgreSQL (psycopg 3); appends serialise on the head row's lock."""

    partitioned = True

    def _engine(self, create: bool) -> Engine:
        self._months: set[str] = set()
        self._has_partitions: bool | None = None  # found out on the first append
        connect_args = {}
        if "connect_timeout" not in self.target.url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT
        return create_engine(self.target.url, pool_pre_ping=True, connect_args=connect_args)

    def _partition_ddl(self, name: str, bounds: str) -> str:
        schema = self.target.schema
        preparer = self.engine.dialect.identifier_preparer
        table = (
            preparer.quote(name)
            if not schema
            else f"{preparer.quote_schema(schema)}.{preparer.quote(name)}"
        )
        return f"CREATE TABLE IF NOT EXISTS {table} PARTITION OF {self._log_name} {bounds}"

    def _create_schema(self) -> None:
        from sqlalchemy.dialects.postgresql import insert
        from sqlalchemy.schema import CreateSchema

        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            if self.target.schema:
                conn.execute(CreateSchema(self.target.schema, if_not_exists=True))
            self.metadata.create_all(conn)
            found = conn.execute(text(PARTITIONED), {"table": self._log_name}).first()
            self._has_partitions = found is not None
            if self._has_partitions:
                conn.execute(text(self._partition_ddl(OTHER_PARTITION, "DEFAULT")))
            conn.execute(
                insert(self.head_table)
                .values(id=1, seq=0, hash=EMPTY_HEAD.hash)
                .on_conflict_do_nothing()
            )

    def _append_rows(self, records: Sequence[LogRecord | str]) -> Head:
        raw = self.engine.raw_connection()
        try:
            db: Any = raw.driver_connection
            try:
                with db.cursor() as cur:
                    cur.execute(f"SELECT seq, hash FROM {self._head_name} WHERE id = 1 FOR UPDATE")
                    seq, prev = cur.fetchone()
                    rows, head = link(records, Head(seq, prev))
                    months = self._add_months(cur, rows)
                    with cur.copy(
                        f"COPY {self._log_name} ({', '.join(COLUMNS)}) FROM STDIN"
                    ) as copy:
                        copy.write(_copy_text(rows))
                    cur.execute(
                        f"UPDATE {self._head_name} SET seq = %s, hash = %s WHERE id = 1",
                        tuple(head),
                    )
                db.commit()
                self._months |= months
            except BaseException:
                with contextlib.suppress(Exception):
                    db.rollback()
                raise
            return head
        finally:
            raw.close()

    def _add_months(self, cur: Any, rows: list[tuple[Any, ...]]) -> set[str]:
        """Create the partitions of the batch's months not seen yet (under the head lock)."""
        if self._has_partitions is None:
            cur.execute(PARTITIONED.replace(":table", "%s"), (self._log_name,))
            self._has_partitions = cur.fetchone() is not None
        if not self._has_partitions:
            return set()
        months = {row[3][:7] for row in rows if row[3]} - self._months
        for month in sorted(months):
            name, start, end = month_partition(month)
            cur.execute(self._partition_ddl(name, f"FOR VALUES FROM ('{start}') TO ('{end}')"))
        return months

    def _time_read(self, value: str | None) -> str | None:
        return value or None

    def _body_field_is(self, name: str, value: str | bool) -> ColumnElement[bool]:
        from sqlalchemy.dialects.postgresql import JSONB

        field: ColumnElement[str] = cast(self.log.c.body, JSONB)[name].astext
        return field == (("true" if value else "false") if isinstance(value, bool) else value)

    def _detail_field_in(self, name: str, values: Sequence[str]) -> ColumnElement[bool]:
        from sqlalchemy.dialects.postgresql import JSONB

        field: ColumnElement[str] = cast(self.log.c.body, JSONB)["detail"][name].astext
        return field.in_(list(values))

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        with (
            self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),
        ):
            yield conn
