"""`pdp serve`: run the decision service on uvicorn (`pdp.service.server`).

POLICY defaults to the `policies/` directory next to the `pdp` package (the
repository's bundled policy, found this way in a source checkout or an
editable install; an installed wheel has none, so pass POLICY there).

The decision log URL comes from `--log`, else `PDP_LOG_URL`, else the config
file's `log:` — so a password need not be typed on a command line; whatever
is printed shows it redacted. Bound to anything but loopback, the service
refuses to start without tokens unless `--insecure-no-auth` says so; bound to
loopback, it serves only the loopback `Host` names unless `allowed_hosts`
says otherwise.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import resource
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pdp.cli.output import echo_problems, fail
from pdp.secrets import redact_url

EXIT_INVALID = 2
STARTUP_FAILURE = 3
LOG_URL_VARIABLE = "PDP_LOG_URL"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
NO_TOKENS = (
    "refusing to serve on `{host}` without tokens: anyone who can reach it could decide, "
    "explain and review; configure `tokens:` in the --config file (`pdp token new`, "
    "`pdp token hash`), bind to 127.0.0.1, or pass --insecure-no-auth for a lab"
)


def bundled_policies() -> Path:
    """The repository's `policies/` directory, relative to the installed package."""
    import pdp

    return Path(pdp.__file__).resolve().parent.parent / "policies"


def is_loopback(host: str) -> bool:
    """True for `localhost` and the loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def raise_open_files_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards `wanted` (at most the hard limit); the result.

    `max_connections` connections need as many descriptors; running out makes
    the accept loop fail and log on every attempt.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return wanted if soft == resource.RLIM_INFINITY else int(soft)


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
        typer.Option(
            "--log",
            envvar=LOG_URL_VARIABLE,
            show_envvar=True,
            help="Decision log URL (else the config's `log:`, else sqlite:///pdp-decisions.db).",
        ),
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
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Serve a non-loopback address without tokens (a lab only: anyone may ask).",
        ),
    ] = False,
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
    from dataclasses import replace

    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    from pdp.errors import PdpError, PolicyError
    from pdp.service.app import ENVIRONMENT, create_app, freeze_startup_heap
    from pdp.service.config import ServiceConfig, customer_keys_of, load_config
    from pdp.service.server import ServerConfig
    from pdp.store.bundle import load_public_key
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
        fail(redact_url(str(exc)), EXIT_INVALID)
    if log:
        settings = replace(settings, log=log)
    if watch is not None:
        settings = replace(settings, watch=watch)
    loopback = is_loopback(host)
    if not loopback and not settings.auth_enabled and not insecure_no_auth:
        fail(NO_TOKENS.format(host=host), EXIT_INVALID)
    if loopback and not settings.allowed_hosts:
        settings = replace(settings, allowed_hosts=LOOPBACK_NAMES)
    if verify_key is not None:
        settings = replace(settings, verify_key=str(verify_key.resolve()))
    if db is not None:
        settings = replace(settings, db=db)
    if policy_cache is not None:
        settings = replace(settings, policy_cache=str(policy_cache.resolve()))
    try:
        customer_keys_of(settings)  # refused now, not in each worker
    except PdpError as exc:
        fail(str(exc), EXIT_INVALID)
    replica: ReplicaStart | None = None
    key = None
    try:
        if settings.db:
            cache = Path(settings.policy_cache) if settings.policy_cache else None
            replica = open_replica(settings.db, cache)
            dp = replica.dp
            cached = " (cached copy: the store is unreachable)" if replica.from_cache else ""
            origin = f"store {redact_url(settings.db)}{cached}"
        else:
            key = load_public_key(Path(settings.verify_key)) if settings.verify_key else None
            dp = open_source(source, key)
            origin = str(source) + (" (signed bundle)" if key is not None else "")
    except PolicyError as exc:
        echo_problems(exc.problems)
        fail(f"policy `{source}` refused; nothing served", EXIT_INVALID)
    except PdpError as exc:
        fail(redact_url(str(exc)), EXIT_INVALID)
    raise_open_files_limit(settings.limits.max_connections + 64)
    options: dict[str, Any] = {
        "access_log": access_log,
        "log_level": log_level,
        "ssl_certfile": None if ssl_certfile is None else str(ssl_certfile),
        "ssl_keyfile": None if ssl_keyfile is None else str(ssl_keyfile),
    }
    hosts = (
        "any host"
        if "*" in settings.allowed_hosts or not settings.allowed_hosts
        else (", ".join(settings.allowed_hosts))
    )
    typer.echo(
        f"pdp: policy {dp.version} from {origin}, log {redact_url(settings.log)}, "
        f"{'tokens required' if settings.auth_enabled else 'open (no tokens configured)'}, "
        f"serving {hosts}",
        err=True,
    )
    if not loopback and not settings.auth_enabled:
        typer.echo(
            f"pdp: WARNING: --insecure-no-auth: anyone who can reach {host}:{port} may decide, "
            "explain and review with no token",
            err=True,
        )
    if workers == 1:
        try:
            app = create_app(dp, settings, replica=replica)
        except PdpError as exc:
            fail(redact_url(str(exc)), EXIT_INVALID)
        freeze_startup_heap()
        server = Server(ServerConfig(app, limits=settings.limits, host=host, port=port, **options))
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises SIGINT after draining
            server.run()
        if not server.started:
            raise typer.Exit(STARTUP_FAILURE)
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
            "allowed_hosts": list(settings.allowed_hosts),
        }
    )
    listener = listening_socket(host, port)
    typer.echo(f"pdp: {workers} workers on {host}:{port}", err=True)
    multi = ServerConfig(
        "pdp.service.app:app_from_environment",
        limits=settings.limits,
        factory=True,
        workers=workers,
        fd=listener.fileno(),
        **options,
    )
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(multi, sockets=[multi.bind_socket()]).run()


def register(app: typer.Typer) -> None:
    """Add `serve` to the CLI."""
    app.command()(serve)
