"""The app factory: a FastAPI decision service around a `DecisionPoint`.

    from pdp.service import create_app
    app = create_app(DecisionPoint.from_path("policies/"), load_config("pdp.yaml"))

`app_from_environment` builds the same app from the `PDP_SERVE` environment
variable (JSON), the way `pdp serve --workers N` starts each worker.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

from pdp import __version__
from pdp.audit import DecisionLog, open_log
from pdp.decision_point import DecisionPoint
from pdp.monitor import Monitor
from pdp.monitor.delivery import open_delivery
from pdp.service.auth import Authenticator
from pdp.service.config import ServiceConfig, customer_keys_of, load_config
from pdp.service.deciding import DecisionService
from pdp.service.errors import RequestGuard, install_error_handlers
from pdp.service.metrics import Metrics
from pdp.service.openapi import install_openapi
from pdp.service.reload import PolicyWatcher, Reloader, reload_on_sighup
from pdp.service.routes import authzen, decisions, health, policy, review
from pdp.service.state import ServiceState
from pdp.store.bundle import load_public_key
from pdp.store.replica import ReplicaStart, StoreFollower, open_replica
from pdp.store.source import open_source

log = logging.getLogger("pdp.service")

ENVIRONMENT = "PDP_SERVE"


def create_app(
    dp: DecisionPoint,
    config: ServiceConfig | None = None,
    decision_log: DecisionLog | None = None,
    replica: ReplicaStart | None = None,
) -> FastAPI:
    """Build the service. Opens `config.log` unless a log is given (then the caller closes it).

    With `replica` (from `open_replica(config.db, ...)`), the service follows
    the policy store: every activated version reaches it, and a reload asks
    the store.
    """
    config = config or ServiceConfig()
    customer_keys = customer_keys_of(config)
    if customer_keys is None:
        log.warning("no customer key: customer references are dropped from the log (counted)")
    owns_log = decision_log is None
    the_log = (
        open_log(
            config.log,
            writer=config.log_writer,
            spool=Path(config.log_spool) if config.log_spool else None,
            spool_max_bytes=config.log_spool_max_mb * 1024 * 1024,
        )
        if decision_log is None
        else decision_log
    )
    metrics = Metrics()
    metrics.watch_log(the_log)
    monitor = Monitor(config.alerts, dp.compiled)
    delivery = open_delivery(config.alert_delivery)
    if delivery is not None:
        metrics.watch_delivery(delivery)
    verify_key = load_public_key(Path(config.verify_key)) if config.verify_key else None
    reloader = Reloader(
        dp,
        the_log,
        metrics,
        on_swap=lambda d: monitor.set_policy(d.compiled),
        verify_key=verify_key,
    )
    follower = None
    if replica is not None:
        follower = StoreFollower(
            config.db,
            replica,
            reloader.apply,
            Path(config.policy_cache) if config.policy_cache else None,
            config.store_poll_interval,
        )
        reloader.loader = follower.load_active
        metrics.watch_store(lambda: follower.healthy, lambda: follower.event_seq)
    state = ServiceState(
        dp=dp,
        config=config,
        log=the_log,
        metrics=metrics,
        monitor=monitor,
        auth=Authenticator(config),
        decisions=DecisionService(
            dp,
            the_log,
            metrics,
            monitor,
            config.on_log_failure,
            customer_keys=customer_keys,
            require_user=config.require_user,
            delivery=delivery,
        ),
        reloader=reloader,
        watcher=PolicyWatcher(reloader, config.watch_interval) if config.watch else None,
        owns_log=owns_log,
        follower=follower,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.watcher is not None:
            state.watcher.start()
        if state.follower is not None:
            state.follower.start()
        undo_sighup = reload_on_sighup(state.reloader)
        try:
            yield
        finally:
            undo_sighup()
            if state.follower is not None:
                state.follower.stop()
            if state.watcher is not None:
                state.watcher.stop()
            if delivery is not None:
                delivery.close()
            if state.owns_log:
                state.log.close()
            else:
                state.log.flush()

    app = FastAPI(
        title="pdp decision service",
        version=__version__,
        description="Policy decision point for customer-information confidentiality.",
        lifespan=lifespan,
    )
    app.state.service = state
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(
        RequestGuard,
        max_bytes=config.limits.max_body_bytes,
        allowed_hosts=config.allowed_hosts,
    )
    for module in (decisions, authzen, policy, review, health):
        app.include_router(module.router)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """Build the app from `PDP_SERVE` (JSON: policy, config, log, watch, allowed_hosts).

    One per worker. The log URL travels in the environment, not on a command line.
    """
    settings = json.loads(os.environ[ENVIRONMENT])
    config = load_config(settings["config"]) if settings.get("config") else ServiceConfig()
    if settings.get("log"):
        config = replace(config, log=settings["log"])
    if settings.get("watch") is not None:
        config = replace(config, watch=bool(settings["watch"]))
    if settings.get("verify_key"):
        config = replace(config, verify_key=settings["verify_key"])
    if settings.get("allowed_hosts"):
        config = replace(config, allowed_hosts=tuple(settings["allowed_hosts"]))
    if settings.get("db"):
        config = replace(config, db=settings["db"])
    if settings.get("policy_cache"):
        config = replace(config, policy_cache=settings["policy_cache"])
    if config.db:
        cache = Path(config.policy_cache) if config.policy_cache else None
        replica = open_replica(config.db, cache)
        app = create_app(replica.dp, config, replica=replica)
    else:
        key = load_public_key(Path(config.verify_key)) if config.verify_key else None
        app = create_app(open_source(Path(settings["policy"]), key), config)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Keep the startup heap (policy, schemas, libraries) out of the cyclic GC's scans.

    For a server process only (`pdp serve`): those objects live as long as the
    process, and scanning them again and again costs time on the request path.
    """
    gc.collect()
    gc.freeze()
