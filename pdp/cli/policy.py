"""`pdp policy push|history|show|diff|rollback|approve`: the shared policy store.

Identities are the database roles the commands connect as: give each person
a role of their own, and maker-checker (`push --propose`, then `approve` by
someone else) holds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pdp.cli.db import DbUrl
from pdp.cli.output import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    Format,
    FormatOpt,
    JsonOpt,
    echo_json,
    echo_problems,
    fail,
    wants_json,
)

policy_app = typer.Typer(
    name="policy",
    help="The shared policy store: push, approve, roll back, history.",
    no_args_is_help=True,
)

Message = Annotated[str, typer.Option("--message", "-m", help="Why this change.")]
T = TypeVar("T")


def _with_store(db: str, action: Callable[[Any], T]) -> T:
    """Run `action(store)`, turning store errors into one line and exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from pdp.errors import PdpError, PolicyError
    from pdp.store.policy_store import PolicyStore

    store = None
    try:
        store = PolicyStore.open(db)
        return action(store)
    except PolicyError as exc:
        echo_problems(exc.problems)
        fail("the policy is invalid; the store is unchanged", EXIT_INVALID)
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    except SQLAlchemyError as exc:
        fail(f"policy store error ({type(exc).__name__}); is it upgraded (`pdp db upgrade`)?", 2)
    finally:
        if store is not None:
            store.close()


@policy_app.command()
def push(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    db: DbUrl,
    message: Message = "",
    propose: Annotated[
        bool, typer.Option("--propose", help="Store a candidate; someone else approves it.")
    ] = False,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Validate and store a new version; activate it (or only propose it with --propose)."""
    from pdp.store.source import named_texts

    texts, problems = named_texts(policy)
    if problems:
        echo_problems(list(problems))
        fail(f"cannot read `{policy}`; the store is unchanged", EXIT_INVALID)
    stored = _with_store(db, lambda store: store.push(texts, message, propose=propose))
    if wants_json(output, as_json):
        echo_json(stored.to_dict())
        return
    what = "proposed (awaiting approval)" if propose else "active"
    typer.echo(f"ok: version {stored.id} ({stored.version}) by {stored.author}: {what}")


@policy_app.command()
def approve(
    version: Annotated[str, typer.Argument(help="Version id or content hash (prefix).")],
    db: DbUrl,
    message: Message = "",
) -> None:
    """Activate a proposed version (its author may not approve it)."""
    stored = _with_store(db, lambda store: store.approve(version, message))
    typer.echo(f"ok: version {stored.id} ({stored.version}) approved and active")


@policy_app.command()
def rollback(
    version: Annotated[str, typer.Argument(help="Version id or content hash (prefix).")],
    db: DbUrl,
    message: Message = "",
) -> None:
    """Activate an earlier approved version again."""
    stored = _with_store(db, lambda store: store.rollback(version, message))
    typer.echo(f"ok: version {stored.id} ({stored.version}) active again")


@policy_app.command()
def history(db: DbUrl, output: FormatOpt = Format.text, as_json: JsonOpt = False) -> None:
    """The store's history, newest first, and whether its hash chain verifies (exit 1 if not)."""

    def read(store: Any) -> tuple[Any, Any]:
        return store.history(), store.verify()

    events, verified = _with_store(db, read)
    if wants_json(output, as_json):
        echo_json({"events": [e.to_dict() for e in reversed(events)], **verified.to_dict()})
    else:
        for event in reversed(events):
            note = f"  {event.message}" if event.message else ""
            typer.echo(
                f"{event.seq:>5} {event.time} {event.kind:<8} v{event.version_id} "
                f"{event.policy_version} by {event.actor}{note}"
            )
        if verified.ok:
            typer.echo(f"ok: history chain verified ({verified.checked} events)", err=True)
        else:
            typer.echo(f"error: history chain broken: {verified.problem}", err=True)
    raise typer.Exit(0 if verified.ok else EXIT_FINDINGS)


@policy_app.command()
def show(
    version: Annotated[str, typer.Argument(help="Version id or content hash (prefix).")],
    db: DbUrl,
    file: Annotated[str | None, typer.Option("--file", help="Print this file's text.")] = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """A stored version: who, when, why, its files; or one file's text."""
    stored = _with_store(db, lambda store: store.version(version))
    if file is not None:
        texts = dict(stored.sources)
        if file not in texts:
            fail(f"version {stored.id} has no file `{file}`", EXIT_INVALID)
        typer.echo(texts[file], nl=False)
        return
    if wants_json(output, as_json):
        echo_json(stored.to_dict())
        return
    typer.echo(f"version {stored.id} ({stored.version}), {stored.status}")
    typer.echo(f"author {stored.author}, {stored.created}, parent {stored.parent_id}")
    if stored.message:
        typer.echo(f"message: {stored.message}")
    for entry in stored.manifest:
        typer.echo(f"  {entry['sha256'][:16]} {entry['size']:>8} {entry['name']}")


@policy_app.command()
def diff(
    old: Annotated[str, typer.Argument(help="The older version (id or content hash).")],
    new: Annotated[str, typer.Argument(help="The newer version (id or content hash).")],
    db: DbUrl,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """The decision-level diff of two stored versions (access added, removed, obligations)."""
    from pdp.errors import PolicyError
    from pdp.policyci.diff import diff_policies
    from pdp.policyci.render import render_text

    def compile_both(store: Any) -> tuple[Any, Any]:
        compiled = []
        for ref in (old, new):
            loaded = store.version(ref).load()
            if loaded.compiled is None:
                raise PolicyError(list(loaded.problems))
            compiled.append(loaded.compiled)
        return compiled[0], compiled[1]

    old_compiled, new_compiled = _with_store(db, compile_both)
    result = diff_policies(old_compiled, new_compiled)
    if wants_json(output, as_json):
        echo_json(result.to_dict())
    else:
        typer.echo(render_text(result))


def register(app: typer.Typer) -> None:
    """Add the `policy` command group to the CLI."""
    app.add_typer(policy_app, name="policy")
