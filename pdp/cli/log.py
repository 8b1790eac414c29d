"""`pdp log verify|query|export|head`: read and check the decision log.

LOG is a path (SQLite), `sqlite:///PATH`, `postgresql://USER@HOST:PORT/DB[?schema=S]`,
or (for verify, export and head) a `.jsonl` export. A PostgreSQL log may be named
with `--db URL` or the `PDP_LOG_URL` environment variable instead, so that its
password need not be typed on a command line. Exit codes: 0 ok, 1 the chain is
broken (verify), 2 the log cannot be read or the input is invalid. Everything
printed for people has its control characters escaped (`printable`).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pdp.cli.output import (
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    fail,
    printable,
    stdout_is_terminal,
    wants_json,
)

if TYPE_CHECKING:
    from pdp.audit.record import LogRecord

EXIT_OK, EXIT_TAMPERED, EXIT_UNREADABLE = 0, 1, 2
RELATIVE = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

LogArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[LOG]",
        help="Log path, sqlite:///PATH, postgresql://USER@HOST/DB[?schema=S], or a .jsonl export.",
        show_default=False,
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        envvar="PDP_LOG_URL",
        help="The log's database url instead of LOG (also from PDP_LOG_URL).",
        show_default=False,
    ),
]

LogOpt = Annotated[
    str | None,
    typer.Option(
        "--log",
        metavar="FILE",
        help="The log (path or url) as an option, instead of LOG.",
        show_default=False,
    ),
]

log_app = typer.Typer(
    name="log",
    help="Verify, query and export the decision log.",
    no_args_is_help=True,
)


def source_of(log: str | None, db: str | None, log_option: str | None = None) -> str:
    """The log named by LOG, `--log FILE` or `--db URL` (one of them), or exit 2."""
    named = {v for v in (log, log_option) if v is not None}
    if len(named) > 1 or (named and db is not None and db not in named):
        fail("give the log once: as LOG, --log FILE or --db URL", EXIT_UNREADABLE)
    source = next(iter(named), db)
    if source is None:
        fail("name the log: LOG, --log FILE, --db URL or PDP_LOG_URL", EXIT_UNREADABLE)
    return source


def verify(
    log: LogArg = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head printed earlier by `pdp log head` and kept elsewhere: it must be in the "
            "chain (detects deleted newest records).",
        ),
    ] = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    log_option: LogOpt = None,
) -> None:
    """Check the hash chain; exit 0 intact, 1 tampered (with the seq), 2 unreadable."""
    from pdp.audit import verify_source
    from pdp.errors import LogInputError, StorageError

    try:
        result = verify_source(source_of(log, db, log_option), expect_head)
    except (StorageError, LogInputError) as exc:
        fail(str(exc), EXIT_UNREADABLE)
    if wants_json(output, as_json):
        echo_json(result.to_dict())
    elif result.problem is None:
        typer.echo(f"ok: {result.checked} records verified, head {result.head}")
    else:
        typer.echo(
            f"tampered: {result.problem} ({result.checked} records verified before it)", err=True
        )
    raise typer.Exit(EXIT_OK if result.ok else EXIT_TAMPERED)


def since_time(text: str) -> str:
    """An ISO date or time, or a span back from now (`90d`, `12h`, `30m`, `2w`), in log format."""
    from pdp.audit.record import TIME_FORMAT, utc_time

    match = RELATIVE.match(text.strip())
    if match:
        delta = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        return (datetime.now(UTC) - delta).strftime(TIME_FORMAT)
    return utc_time(text)


def _print_table(records: list[LogRecord]) -> None:
    """The records as a table; every cell plain text (no markup) with controls escaped."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    titles = ("time", "caller", "subject", "class", "purpose", "action", "result", "reasons")
    for title in (*titles, "context"):
        table.add_column(title, overflow="fold")
    for r in records:
        result = "allow" if r.allowed else "deny"
        if r.kind != "decision":
            result = r.kind
        cells = (
            r.time,
            r.caller,
            f"{r.subject_kind}:{r.subject}" if r.subject_kind else r.subject,
            r.info_class,
            r.purpose,
            r.action,
            result,
            ", ".join(r.reasons) + (f" [{', '.join(r.obligations)}]" if r.obligations else ""),
            _facts_cell(r) if r.kind == "decision" else "",
        )
        table.add_row(*(Text(printable(str(cell))) for cell in cells))
    Console().print(table)
    typer.echo(f"{len(records)} record(s)")


def _facts_cell(record: LogRecord) -> str:
    """A decision's context facts as `key=value` pairs (the customer HMAC left out)."""
    from pdp.audit.accountability import CUSTOMER

    return " ".join(
        f"{k}={','.join(v) if isinstance(v, list) else v}"
        for k, v in sorted(record.detail.items())
        if k != CUSTOMER
    )


def customer_digests(reference: str, key_file: str | None) -> tuple[str, ...]:
    """The HMACs of a customer reference (`-`: read from stdin) under every key, or exit 2."""
    from pdp.audit.accountability import KEY_ENV, KEY_FILE_ENV, load_customer_keys
    from pdp.errors import ConfigError

    if reference == "-":
        reference = sys.stdin.readline().rstrip("\r\n")
    if not reference:
        fail("--customer names no customer reference", EXIT_UNREADABLE)
    try:
        keys = load_customer_keys(key_file)
    except ConfigError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    if keys is None:
        fail(
            f"no customer key: give --customer-key-file, {KEY_FILE_ENV} or {KEY_ENV}",
            EXIT_UNREADABLE,
        )
    return keys.digests(reference)


def query(
    log: LogArg = None,
    subject: Annotated[str | None, typer.Option(help="Subject id (role or user).")] = None,
    role: Annotated[str | None, typer.Option(help="Role id (subject kind role).")] = None,
    user: Annotated[str | None, typer.Option(help="User id (subject kind user).")] = None,
    info_class: Annotated[str | None, typer.Option("--class", help="Information class id.")] = None,
    result: Annotated[str | None, typer.Option(help="allow or deny.", metavar="allow|deny")] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time (ISO 8601) or span back (90d, 12h).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601 or span).")] = None,
    caller: Annotated[str | None, typer.Option(help="Authenticated caller name.")] = None,
    kind: Annotated[str | None, typer.Option(help="decision, alert or policy.")] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="Who accessed this customer's information: decisions whose customer "
            "reference (stored as an HMAC) is REF; `-` reads REF from stdin.",
        ),
    ] = None,
    customer_key_file: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="The customer keys (ID SECRET a line; also PDP_CUSTOMER_KEY_FILE "
            "or PDP_CUSTOMER_KEY=ID:SECRET).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (the newest).", min=0)] = 100,
    output: Annotated[
        str | None,
        typer.Option("--format", help="table, json or jsonl (default: table on a terminal)."),
    ] = None,
    db: DbOpt = None,
    log_option: LogOpt = None,
) -> None:
    """Print the newest records matching every filter, oldest first."""
    from pdp.audit.reading import open_reader
    from pdp.audit.record import canonical_json
    from pdp.audit.store import QueryFilter
    from pdp.errors import LogInputError, StorageError

    if sum(x is not None for x in (subject, role, user)) > 1:
        fail("give at most one of --subject, --role and --user", EXIT_UNREADABLE)
    if result not in (None, "allow", "deny"):
        fail(f"--result must be `allow` or `deny`, not `{result}`", EXIT_UNREADABLE)
    fmt = output or ("table" if stdout_is_terminal() else "jsonl")
    if fmt not in ("table", "json", "jsonl"):
        fail(f"--format must be table, json or jsonl, not `{fmt}`", EXIT_UNREADABLE)
    subject_kind = "role" if role is not None else "user" if user is not None else None
    try:
        since_iso = since_time(since) if since is not None else None
        until_iso = since_time(until) if until is not None else None
    except LogInputError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    customers = None
    if customer is not None:
        customers = customer_digests(customer, customer_key_file)
        kind = kind or "decision"
    try:
        with open_reader(source_of(log, db, log_option)) as reader:
            where = QueryFilter(
                subject=subject or role or user,
                subject_kind=subject_kind,
                info_class=info_class,
                allowed=None if result is None else result == "allow",
                kind=kind,
                since=since_iso,
                until=until_iso,
                caller=caller,
                customers=customers,
            )
            records = reader.query(where, limit)
    except StorageError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    if fmt == "table":
        _print_table(records)
    elif fmt == "json":
        echo_json([r.to_dict() for r in records])
    else:
        for r in records:
            typer.echo(canonical_json(r))


def export(
    out: Annotated[Path, typer.Option("--out", help="The JSONL file to write.")],
    log: LogArg = None,
    db: DbOpt = None,
    log_option: LogOpt = None,
) -> None:
    """Write every record with its seq and hashes to a JSONL file (verifiable on its own)."""
    from pdp.audit import export_log
    from pdp.errors import StorageError

    try:
        count = export_log(source_of(log, db, log_option), out)
    except StorageError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    typer.echo(printable(f"exported {count} records to {out}"))


def head(
    log: LogArg = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    log_option: LogOpt = None,
) -> None:
    """Print the newest SEQ:HASH; keep it elsewhere and check it with `verify --expect-head`."""
    from pdp.audit import head_of
    from pdp.errors import StorageError

    try:
        current = head_of(source_of(log, db, log_option))
    except StorageError as exc:
        fail(str(exc), EXIT_UNREADABLE)
    if wants_json(output, as_json):
        echo_json({"seq": current.seq, "hash": current.hash, "head": str(current)})
    else:
        typer.echo(str(current))


def register(app: typer.Typer) -> None:
    """Add the `log` command group to the CLI."""
    log_app.command()(verify)
    log_app.command()(query)
    log_app.command()(export)
    log_app.command()(head)
    app.add_typer(log_app, name="log")
