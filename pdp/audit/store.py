"""SQL storage of the decision log: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3).

Two tables, created on first write: `pdp_log` (one row per record: `seq`, `prev_hash`,
`hash`, `time` — a copy, indexed for time ranges — and `body`, the canonical JSON the
hash covers; other filters read the body's JSON) and `pdp_log_head` (one row: the
newest `seq` and `hash`). An append
locks the head row (SQLite `BEGIN IMMEDIATE`; PostgreSQL `SELECT ... FOR UPDATE`),
chains the batch onto it, inserts it (`executemany`; PostgreSQL `COPY`) and moves
the head, in one transaction — so several processes can append to one log.
SQLAlchemy Core defines the schema and runs the reads; appends use the driver
connection directly, the fast path.
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
    cast,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pdp.audit.chain import EMPTY_HEAD, ChainRow, Head, VerifyResult, row_hash, verify_rows
from pdp.audit.record import (
    LogRecord,
    parse_canonical,
    safe_canonical_json,
    time_of_body,
    utc_time,
)
from pdp.errors import StorageError

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
        raise StorageError(f"`{url}` is not a decision log url") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise StorageError(f"`{url}` names no file: use sqlite:///PATH")
        return LogTarget("sqlite", parsed)
    if backend in ("postgresql", "postgres"):
        schema = parsed.query.get("schema")
        if isinstance(schema, tuple):
            schema = schema[-1]
        parsed = parsed.difference_update_query(["schema"]).set(drivername="postgresql+psycopg")
        return LogTarget("postgresql", parsed, schema or None)
    raise StorageError(
        f"unsupported decision log url `{url}`: use a path, sqlite:///PATH or postgresql://..."
    )


def _tables(schema: str | None) -> tuple[MetaData, Table, Table]:
    metadata = MetaData(schema=schema)
    seq_type = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid
    log = Table(
        LOG_TABLE,
        metadata,
        Column("seq", seq_type, primary_key=True, autoincrement=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Column("time", Text),
        Column("body", Text, nullable=False),
        Index("pdp_log_time", "time"),
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
    see `DecisionLog.append_bodies`); the time column comes from the record.
    """
    seq, prev = head
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    for r in records:
        seq += 1
        if type(r) is str:
            body, time = r, time_of_body(r)
        else:
            assert isinstance(r, LogRecord)
            body, time = safe_canonical_json(r), r.time
        try:
            digest = row_hash(seq, prev, body)
        except UnicodeEncodeError:  # a lone surrogate: store the record with it replaced
            body = body.encode("utf-8", "replace").decode("utf-8")
            digest = row_hash(seq, prev, body)
        if type(time) is not str or not time.isascii() or "\x00" in time:
            time = None  # not a log time: kept in the body only (never poison a batch)
        add((seq, prev, digest, time, body))
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


class SqlStore(ABC):
    """A decision log in a SQL database; `create=False` opens an existing log for reading."""

    def __init__(self, target: LogTarget, *, create: bool) -> None:
        self.target = target
        self.metadata, self.log, self.head_table = _tables(target.schema)
        try:
            self.engine = self._engine(create)
            if create:
                self._create_schema()
            elif not inspect(self.engine).has_table(LOG_TABLE, schema=target.schema):
                raise StorageError(f"`{target.display}` is not a pdp decision log")
        except SQLAlchemyError as exc:
            msg = f"cannot open the decision log `{target.display}`: {_why(exc)}"
            raise StorageError(msg) from None
        preparer = self.engine.dialect.identifier_preparer
        self._log_name = preparer.format_table(self.log)
        self._head_name = preparer.format_table(self.head_table)

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
    def _snapshot(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection in a transaction that reads one consistent snapshot."""

    def append(self, records: Sequence[LogRecord | str]) -> Head:
        """Chain records onto the head and store them atomically; raise on any failure."""
        return self._append_rows(records)

    def _head_row(self, conn: Connection) -> Head:
        row = conn.execute(
            select(self.head_table.c.seq, self.head_table.c.hash).where(self.head_table.c.id == 1)
        ).one_or_none()
        return EMPTY_HEAD if row is None else Head(int(row[0]), str(row[1]))

    def head(self) -> Head:
        """The head row: the newest seq and hash as written by the log."""
        with self.engine.connect() as conn:
            return self._head_row(conn)

    def _chain_rows(self, conn: Connection) -> Iterator[ChainRow]:
        log = self.log
        columns = [log.c[name] for name in COLUMNS]
        last = 0
        while True:
            chunk = conn.execute(
                select(*columns).where(log.c.seq > last).order_by(log.c.seq).limit(READ_CHUNK)
            ).all()
            for row in chunk:
                yield ChainRow(int(row[0]), row[1], row[2], row[4], row[3])
            if len(chunk) < READ_CHUNK:
                return
            last = int(chunk[-1][0])

    def rows(self) -> Iterator[ChainRow]:
        """Every stored row in seq order, read in chunks from one snapshot."""
        with self._snapshot() as conn:
            yield from self._chain_rows(conn)

    def verify(self, expect_head: str | None = None) -> VerifyResult:
        """Verify the chain and the head row in one snapshot (see `chain.verify_rows`)."""
        with self._snapshot() as conn:
            stored = self._head_row(conn)
            return verify_rows(self._chain_rows(conn), stored_head=stored, expect_head=expect_head)

    def query(self, where: QueryFilter, limit: int) -> list[LogRecord]:
        """The newest `limit` records matching `where`, oldest first."""
        c = self.log.c
        stmt = select(c.body).order_by(c.seq.desc()).limit(max(limit, 0))
        for name in BODY_FILTERS:
            value = getattr(where, name)
            if value is not None:
                stmt = stmt.where(self._body_field_is(name, value))
        if where.since is not None:
            stmt = stmt.where(c.time >= utc_time(where.since))
        if where.until is not None:
            stmt = stmt.where(c.time < utc_time(where.until))
        with self.engine.connect() as conn:
            bodies = conn.execute(stmt).scalars().all()
        return [parse_canonical(body) for body in reversed(bodies)]

    def count(self) -> int:
        """How many records are stored (rows, counted)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.log)).scalar_one())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _why(exc: BaseException) -> str:
    """The first line of a driver error, without SQLAlchemy's background links."""
    inner = getattr(exc, "orig", None) or exc
    return str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__


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


BACKSLASH = "\\"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    """One field in COPY text format: NULL as \\N, backslash and separators escaped."""
    if value is None:
        return "\\N"
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(rows: list[tuple[Any, ...]]) -> str:
    """Rows (seq, prev_hash, hash, time, body) as COPY text: one buffer, not a call per row.

    A body is JSON, whose strings never hold a raw tab, newline or carriage
    return, so only its backslashes need doubling.
    """
    lines = [
        f"{seq}\t{prev}\t{digest}\t{_copy_field(time)}\t{body.replace(BACKSLASH, BACKSLASH * 2)}\n"
        for seq, prev, digest, time, body in rows
    ]
    return "".join(lines)


class PostgresStore(SqlStore):
    """A shared log in PostgreSQL (psycopg 3); appends serialise on the head row's lock."""

    def _engine(self, create: bool) -> Engine:
        return create_engine(self.target.url, pool_pre_ping=True)

    def _create_schema(self) -> None:
        from sqlalchemy.dialects.postgresql import insert
        from sqlalchemy.schema import CreateSchema

        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            if self.target.schema:
                conn.execute(CreateSchema(self.target.schema, if_not_exists=True))
            self.metadata.create_all(conn)
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
                    with cur.copy(
                        f"COPY {self._log_name} ({', '.join(COLUMNS)}) FROM STDIN"
                    ) as copy:
                        copy.write(_copy_text(rows))
                    cur.execute(
                        f"UPDATE {self._head_name} SET seq = %s, hash = %s WHERE id = 1",
                        tuple(head),
                    )
                db.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    db.rollback()
                raise
            return head
        finally:
            raw.close()

    def _body_field_is(self, name: str, value: str | bool) -> ColumnElement[bool]:
        from sqlalchemy.dialects.postgresql import JSONB

        field: ColumnElement[str] = cast(self.log.c.body, JSONB)[name].astext
        return field == (("true" if value else "false") if isinstance(value, bool) else value)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        with (
            self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),
        ):
            yield conn


def open_store(url: str, *, create: bool) -> SqlStore:
    """Open the log at `url`; `create` makes it if missing. Raises `StorageError`."""
    target = parse_log_url(url)
    if target.backend == "sqlite":
        return SqliteStore(target, create=create)
    return PostgresStore(target, create=create)
