"""`pdp serve`: run the decision service on uvicorn.

POLICY defaults to the `policies/` directory next to the `pdp` package (the
repository's bundled policy, found this way in a source checkout or an
editable install; an installed wheel has none, so pass POLICY there).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pdp.cli.output import echo_problems, fail

EXIT_INVALID = 2


def bundled_policies() -> Path:
    """The repository's `policies/` directory, relative to the installed package."""
    import pdp

    return Path(pdp.__file__).resolve().parent.parent / "policies"


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with TCP_NODELAY, shared by the worker processes.

    uvicorn's worker processes rebuild the listening socket without marking it
    TCP, so asyncio leaves Nagle's algorithm on for their connections and a
    small response waits for the client's delayed ACK (~40 ms per request on
    a kept-alive connection). On Linux, accepted connections inherit
    TCP_NODELAY from the listening socket, so set it here.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(address)
    listener.set_inheritable(True)
    return listener


def serve(
    policy: Annotated[
        Path | None,
        typer.Argument(help="Policy file, directory or bundle (default: the bundled policies/)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8181,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    config: Annotated[
        Path | None, typer.Option("--config", help="Service configuration (YAML).")
    ] = None,
    log: Annotated[
        str | None,
        typer.Option("--log", help="Decision log URL (default sqlite:///pdp-decisions.db)."),
    ] = None,
    watch: Annotated[
        bool | None,
        typer.Option(
            "--watch/--no-watch",
            help="Development aid: reload when the policy files change (default off).",
        ),
    ] = None,
    verify_key: Annotated[
        Path | None,
        typer.Option(
            "--verify-key",
            help="Serve only bundles signed by this Ed25519 public key (PEM).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="PDP_DB",
            help="Serve the policy store's active version and follow it (postgresql://...).",
        ),
    ] = None,
    policy_cache: Annotated[
        Path | None,
        typer.Option(
            "--policy-cache",
            help="With --db: keep the last store version here, to start during an outage.",
        ),
    ] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request (uvicorn).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    print_token_hash: Annotated[
        bool,
        typer.Option(
            "--print-token-hash", help="Read a token on stdin, print its sha256 hex and exit."
        ),
    ] = False,
) -> None:
    """Run the decision service (HTTP API, decision log, metrics)."""
    from pdp.service.auth import hash_token

    if print_token_hash:
        token = sys.stdin.readline().strip()
        if not token:
            fail("no token on stdin", EXIT_INVALID)
        typer.echo(hash_token(token))
        return
    import uvicorn

    from pdp.errors import PdpError, PolicyError
    from pdp.service.app import ENVIRONMENT, create_app, freeze_startup_heap
    from pdp.service.config import ServiceConfig, load_config
    from pdp.store.bundle import load_public_key
    from pdp.store.db import redacted
    from pdp.store.replica import ReplicaStart, open_replica
    from pdp.store.source import open_source

    source = policy if policy is not None else bundled_policies()
    if db is None and not source.exists():
        fail(f"no policy at `{source}`; give POLICY", EXIT_INVALID)
    if db is not None and policy is not None:
        fail("give POLICY or --db, not both", EXIT_INVALID)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("give both --ssl-certfile and --ssl-keyfile", EXIT_INVALID)
    try:
        settings = load_config(config) if config is not None else ServiceConfig()
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    from dataclasses import replace

    if log is not None:
        settings = replace(settings, log=log)
    if watch is not None:
        settings = replace(settings, watch=watch)
    if verify_key is not None:
        settings = replace(settings, verify_key=str(verify_key.resolve()))
    if db is not None:
        settings = replace(settings, db=db)
    if policy_cache is not None:
        settings = replace(settings, policy_cache=str(policy_cache.resolve()))
    replica: ReplicaStart | None = None
    key = None
    try:
        if settings.db:
            cache = Path(settings.policy_cache) if settings.policy_cache else None
            replica = open_replica(settings.db, cache)
            dp = replica.dp
            cached = " (cached copy: the store is unreachable)" if replica.from_cache else ""
            origin = f"store {redacted(settings.db)}{cached}"
        else:
            key = load_public_key(Path(settings.verify_key)) if settings.verify_key else None
            dp = open_source(source, key)
            origin = str(source) + (" (signed bundle)" if key is not None else "")
    except PolicyError as exc:
        echo_problems(exc.problems)
        fail(f"policy `{source}` refused; nothing served", EXIT_INVALID)
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    tls: dict[str, Any] = {
        "ssl_certfile": None if ssl_certfile is None else str(ssl_certfile),
        "ssl_keyfile": None if ssl_keyfile is None else str(ssl_keyfile),
    }
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "log_level": log_level,
    }
    typer.echo(
        f"pdp: policy {dp.version} from {origin}, log {settings.log}, "
        f"{'tokens required' if settings.auth_enabled else 'open (no tokens configured)'}",
        err=True,
    )
    if workers == 1:
        try:
            app = create_app(dp, settings, replica=replica)
        except PdpError as exc:
            fail(str(exc), EXIT_INVALID)
        freeze_startup_heap()
        uvicorn.run(app, **common, **tls)
        return
    os.environ[ENVIRONMENT] = json.dumps(
        {
            "policy": str(source.resolve()),
            "config": None if config is None else str(config.resolve()),
            "log": settings.log,
            "watch": settings.watch,
            "verify_key": settings.verify_key,
            "db": settings.db,
            "policy_cache": settings.policy_cache,
        }
    )
    listener = listening_socket(host, port)
    common.pop("host")
    common.pop("port")
    typer.echo(f"pdp: {workers} workers on {host}:{port}", err=True)
    uvicorn.run(
        "pdp.service.app:app_from_environment",
        factory=True,
        workers=workers,
        fd=listener.fileno(),
        **common,
        **tls,
    )


def register(app: typer.Typer) -> None:
    """Add `serve` to the CLI."""
    app.command()(serve)
