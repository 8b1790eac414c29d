"""SQL storage of the decision log: what both backends share (`sqlite`, `postgres`).

Two tables, created on first write: `pdp_log` (one row per record: `seq`, `prev_hash`,
`hash`, `time` — a copy of the body's time, indexed for time ranges; verification
checks it — and `body`, the canonical JSON the hash covers; other filters read the
body's JSON) and `pdp_log_head` (one row: the newest `seq` and `hash`). An append
locks the head row (SQLite `BEGIN IMMEDIATE`; PostgreSQL `SELECT ... FOR UPDATE`),
chains the batch onto it, inserts it (`executemany`; PostgreSQL `COPY`) and moves
the head, in one transaction — so several processes can append to one log.
SQLAlchemy Core defines the schema and runs the reads; appends use the driver
connection directly, the fast path. Every failure of a read or a write is a
`StorageError` with a one-line message and no password.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pdp.audit.accountability import CUSTOMER
from pdp.audit.chain import ChainRow, Head, VerifyResult, row_hash, verify_rows
from pdp.audit.record import (
    LogRecord,
    column_time,
    parse_canonical,
    safe_canonical_json,
    utc_time,
)
from pdp.errors import LogRecordError, StorageError
from pdp.secrets import redact_url

LOG_TABLE = "pdp_log"
HEAD_TABLE = "pdp_log_head"
COLUMNS = ("seq", "prev_hash", "hash", "time", "body")
BODY_FILTERS = ("subject", "subject_kind", "info_class", "allowed", "kind", "caller")
READ_CHUNK = 5000
SQLITE_BUSY_TIMEOUT = 30.0
PG_LOCK_KEY = 0x706470  # advisory lock serialising schema creation ("pdp")

Backend = Literal["sqlite", "postgresql"]


@dataclass(frozen=True, slots=True)
class LogTarget:
    """Where a log lives: the backend, the SQLAlchemy URL, and (PostgreSQL) the schema."""

    backend: Backend
    url: URL
    schema: str | None = None

    @property
    def display(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)


def parse_log_url(url: str) -> LogTarget:
    """Read a plain path, `sqlite:///PATH` or `postgresql://...[?schema=NAME]` (`StorageError`)."""
    if "://" not in url:
        if not url.strip():
            raise StorageError("the decision log path is empty")
        return LogTarget("sqlite", URL.create("sqlite", database=str(Path(url))))
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"`{redact_url(url)}` is not a decision log url") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StorageError(f"`{redact_url(url)}` names no file: use sqlite:///PATH")
        return LogTarget("sqlite", parsed)
    if backend in ("postgresql", "postgres"):
        schema = parsed.query.get("schema")
        if isinstance(schema, tuple):
            schema = schema[-1]
        parsed = parsed.difference_update_query(["schema"]).set(drivername="postgresql+psycopg")
        return LogTarget("postgresql", parsed, schema or None)
    raise StorageError(
        f"unsupported decision log url `{redact_url(url)}`: "
        "use a path, sqlite:///PATH or postgresql://..."
    )


def tables(schema: str | None, *, partitioned: bool = False) -> tuple[MetaData, Table, Table]:
    """The log's tables; `partitioned` (PostgreSQL): `pdp_log` partitioned by month of `time`."""
    metadata = MetaData(schema=schema)
    seq_type = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid
    log = Table(
        LOG_TABLE,
        metadata,
        Column("seq", seq_type, primary_key=True, autoincrement=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("time", Text, primary_key=partitioned, nullable=not partitioned),
        Column("body", Text, nullable=False),
        Index("pdp_log_time", "time"),
        postgresql_partition_by="RANGE (time)" if partitioned else None,
    )
    head = Table(
        HEAD_TABLE,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
    )
    return metadata, log, head


def link(records: Sequence[LogRecord | str], head: Head) -> tuple[list[tuple[Any, ...]], Head]:
    """Chain records onto `head`: the rows to insert (in `COLUMNS` order) and the new head.

    A record is a `LogRecord` or its canonical JSON already encoded (a `str`,
    see `DecisionLog.append_bodies`); the time column is the body's
    (`record.column_time`), which verification checks.
    """
    seq, prev = head
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    for r in records:
        seq += 1
        body = r if type(r) is str else safe_canonical_json(r)  # type: ignore[arg-type]
        try:
            digest = row_hash(seq, prev, body)
        except UnicodeEncodeError:  # a lone surrogate: store the record with it replaced
            body = body.encode("utf-8", "replace").decode("utf-8")
            digest = row_hash(seq, prev, body)
        add((seq, prev, digest, column_time(body), body))
        prev = digest
    return rows, Head(seq, prev)


@dataclass(frozen=True, slots=True)
class QueryFilter:
    """The filters of a log query; `None` means any. `since` is inclusive, `until` exclusive."""

    subject: str | None = None
    subject_kind: str | None = None
    info_class: str | None = None
    allowed: bool | None = None
    kind: str | None = None
    since: str | None = None
    until: str | None = None
    caller: str | None = None
    customers: tuple[str, ...] | None = None  # HMACs of one customer reference (any key)


class SqlStore(ABC):
    """A decision log in a SQL database; `create=False` opens an existing log for reading."""

    partitioned = False

    def __init__(self, target: LogTarget, *, create: bool) -> None:
        self.target = target
        self.metadata, self.log, self.head_table = tables(
            target.schema, partitioned=self.partitioned
        )
        try:
            self.engine = self._engine(create)
            preparer = self.engine.dialect.identifier_preparer
            self._log_name = preparer.format_table(self.log)
            self._head_name = preparer.format_table(self.head_table)
            if create:
                self._create_schema()
            elif not inspect(self.engine).has_table(LOG_TABLE, schema=target.schema):
                raise StorageError(f"`{target.display}` is not a pdp decision log")
        except SQLAlchemyError as exc:
            raise self.error("cannot open", exc) from None

    @abstractmethod
    def _engine(self, create: bool) -> Engine:
        """Create the engine (and for SQLite the file's directory when `create`)."""

    @abstractmethod
    def _create_schema(self) -> None:
        """Create the tables and the head row if missing, safely against other processes."""

    @abstractmethod
    def _append_rows(self, records: Sequence[LogRecord | str]) -> Head:
        """Chain and insert records in one transaction holding the head lock."""

    @abstractmethod
    def _body_field_is(self, name: str, value: str | bool) -> ColumnElement[bool]:
        """A condition: the record field `name` in the body JSON equals `value`."""

    @abstractmethod
    def _detail_field_in(self, name: str, values: Sequence[str]) -> ColumnElement[bool]:
        """A condition: the text field `name` of the record's `detail` is one of `values`."""

    @abstractmethod
    def _snapshot(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection in a transaction that reads one consistent snapshot."""

    def error(self, doing: str, exc: BaseException) -> StorageError:
        """A failure of the store as one line: what was done, the log, the driver's reason."""
        why = redact_url(_why(exc))
        return StorageError(f"{doing} the decision log `{self.target.display}`: {why}")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn any database or decoding failure inside into a one-line `StorageError`."""
        try:
            yield
        except LogRecordError as exc:
            raise self.error("cannot read", exc) from None
        except StorageError:
            raise
        except (SQLAlchemyError, ValueError, TypeError, KeyError, IndexError) as exc:
            raise self.error("cannot read", exc) from None

    def append(self, records: Sequence[LogRecord | str]) -> Head:
        """Chain records onto the head and store them atomically; raise on any failure."""
        return self._append_rows(records)

    def _head_row(self, conn: Connection) -> Head | None:
        row = conn.execute(
            select(self.head_table.c.seq, self.head_table.c.hash).where(self.head_table.c.id == 1)
        ).one_or_none()
        return None if row is None else Head(int(row[0]), str(row[1]))

    def head(self) -> Head:
        """The head row: the newest seq and hash as written by the log."""
        with self._reading(), self.engine.connect() as conn:
            head = self._head_row(conn)
        if head is None:
            raise StorageError(f"the head row of the decision log `{self.target.display}` is gone")
        return head

    def tail_bodies(self, count: int) -> set[str]:
        """The bodies of the newest `count` rows (to skip records already stored)."""
        c = self.log.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.body).order_by(c.seq.desc()).limit(count))
            return set(rows.scalars())

    def _chain_rows(self, conn: Connection) -> Iterator[ChainRow]:
        log = self.log
        columns = [log.c[name] for name in COLUMNS]
        last = 0
        while True:
            chunk = conn.execute(
                select(*columns).where(log.c.seq > last).order_by(log.c.seq).limit(READ_CHUNK)
            ).all()
            for row in chunk:
                yield ChainRow(int(row[0]), row[1], row[2], row[4], self._time_read(row[3]))
            if len(chunk) < READ_CHUNK:
                return
            last = int(chunk[-1][0])

    def _time_read(self, value: str | None) -> str | None:
        """The time column as stored, None for none (PostgreSQL keeps none as `''`)."""
        return value

    def rows(self) -> Iterator[ChainRow]:
        """Every stored row in seq order, read in chunks from one snapshot."""
        with self._reading(), self._snapshot() as conn:
            yield from self._chain_rows(conn)

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Verify the chain and the head row in one snapshot (see `chain.verify_rows`)."""
        with self._reading(), self._snapshot() as conn:
            stored = self._head_row(conn)
            return verify_rows(
                self._chain_rows(conn),
                stored_head=stored,
                head_row_missing=stored is None,
                expect_head=expect_head,
            )

    def query(self, where: QueryFilter, limit: int) -> list[LogRecord]:
        """The newest `limit` records matching `where`, oldest first."""
        c = self.log.c
        stmt = select(c.body).order_by(c.seq.desc()).limit(max(limit, 0))
        for name in BODY_FILTERS:
            value = getattr(where, name)
            if value is not None:
                stmt = stmt.where(self._body_field_is(name, value))
        if where.customers is not None:
            stmt = stmt.where(self._detail_field_in(CUSTOMER, where.customers))
        if where.since is not None:
            stmt = stmt.where(c.time >= utc_time(where.since))
        if where.until is not None:
            stmt = stmt.where(c.time < utc_time(where.until))
        with self._reading(), self.engine.connect() as conn:
            bodies = conn.execute(stmt).scalars().all()
            return [parse_canonical(body) for body in reversed(bodies)]

    def count(self) -> int:
        """How many records are stored (rows, counted)."""
        with self._reading(), self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.log)).scalar_one())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _why(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's background links."""
    inner = getattr(exc, "orig", None) or exc
    return str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
