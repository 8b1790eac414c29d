"""`pdp bundle build|sign|verify|keygen`: sealed, optionally signed policy bundles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

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

bundle_app = typer.Typer(
    name="bundle",
    help="Sealed policy bundles: build, sign, verify, keygen.",
    no_args_is_help=True,
)


@bundle_app.command()
def build(
    policy: Annotated[Path, typer.Argument(help="Policy file or directory.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    sign_key: Annotated[
        Path | None, typer.Option("--sign-key", help="Sign with this Ed25519 private key (PEM).")
    ] = None,
) -> None:
    """Check a policy and write it as a bundle: its files, their hashes and its version."""
    from pdp.errors import PdpError
    from pdp.store.bundle import load_private_key, write_bundle
    from pdp.store.source import compile_texts, named_texts, source_kind

    if source_kind(policy) == "bundle":
        fail(f"`{policy}` is already a bundle; give a policy file or directory", EXIT_INVALID)
    texts, problems = named_texts(policy)
    loaded = compile_texts("directory", texts) if not problems else None
    if loaded is None or loaded.compiled is None:
        echo_problems(list(problems or (loaded.problems if loaded else ())))
        fail(f"policy `{policy}` is invalid; no bundle written", EXIT_INVALID)
    try:
        key = load_private_key(sign_key) if sign_key is not None else None
        manifest = write_bundle(output, texts, loaded.compiled.version, key)
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    except OSError as exc:
        fail(f"cannot write `{output}`: {exc.strerror or exc}", EXIT_INVALID)
    signed = "signed" if key is not None else "unsigned"
    typer.echo(
        f"ok: {output} ({signed}) holds policy {manifest.version}, {len(manifest.files)} file(s)"
    )


@bundle_app.command()
def sign(
    bundle: Annotated[Path, typer.Argument(help="The bundle to sign in place.")],
    key: Annotated[Path, typer.Option("--key", help="Ed25519 private key (PEM).")],
) -> None:
    """Sign an existing bundle (its hashes are checked first; its files stay as they are)."""
    from pdp.errors import PdpError
    from pdp.store.bundle import load_private_key, sign_bundle

    try:
        manifest = sign_bundle(bundle, load_private_key(key))
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    typer.echo(f"ok: {bundle} signed, policy {manifest.version}")


@bundle_app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle to verify.")],
    verify_key: Annotated[
        Path | None,
        typer.Option("--verify-key", help="Require a valid signature by this public key (PEM)."),
    ] = None,
    output: FormatOpt = Format.text,
    as_json: JsonOpt = False,
) -> None:
    """Check a bundle as `pdp serve` would; exit 0 when usable, 1 when refused, 2 on bad input."""
    from pdp.errors import PdpError
    from pdp.store.bundle import load_public_key
    from pdp.store.source import load_source, source_kind

    if not bundle.is_file():
        fail(f"no bundle at `{bundle}`", EXIT_INVALID)
    if source_kind(bundle) != "bundle":
        fail(f"`{bundle}` is not a bundle", EXIT_INVALID)
    try:
        key = load_public_key(verify_key) if verify_key is not None else None
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    loaded = load_source(bundle, key)
    version = loaded.compiled.version if loaded.compiled is not None else None
    if wants_json(output, as_json):
        echo_json(
            {
                "valid": loaded.ok,
                "signed": loaded.signed,
                "policy_version": version,
                "problems": [p.to_dict() for p in loaded.problems],
            }
        )
    elif loaded.ok:
        checked = "signature verified" if loaded.signed else "signature not checked"
        typer.echo(f"ok: {bundle} holds policy {version} ({checked})")
    else:
        echo_problems(list(loaded.problems))
    raise typer.Exit(0 if loaded.ok else EXIT_FINDINGS)


@bundle_app.command()
def keygen(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Private key file; the public key goes to FILE.pub."),
    ],
) -> None:
    """Make an Ed25519 signing key pair (the private key readable by its owner only)."""
    from pdp.store.bundle import generate_key

    public_path = output.with_name(output.name + ".pub")
    if output.exists() or public_path.exists():
        fail(f"`{output}` or `{public_path}` exists; not overwritten", EXIT_INVALID)
    private, public = generate_key()
    try:
        handle = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(private)
        public_path.write_bytes(public)
    except OSError as exc:
        fail(f"cannot write `{output}`: {exc.strerror or exc}", EXIT_INVALID)
    typer.echo(f"ok: private key {output} (keep it secret), public key {public_path}")


def register(app: typer.Typer) -> None:
    """Add the `bundle` command group to the CLI."""
    app.add_typer(bundle_app, name="bundle")
