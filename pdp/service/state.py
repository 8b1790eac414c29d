"""The running service's parts, kept on `app.state.service`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdp.audit import DecisionLog
from pdp.decision_point import DecisionPoint
from pdp.monitor import Monitor
from pdp.service.auth import Authenticator
from pdp.service.config import ServiceConfig
from pdp.service.deciding import DecisionService
from pdp.service.metrics import Metrics
from pdp.service.reload import PolicyWatcher, Reloader

if TYPE_CHECKING:
    from pdp.store.replica import StoreFollower


@dataclass
class ServiceState:
    """Everything a route needs: the decision point and the parts around it."""

    dp: DecisionPoint
    config: ServiceConfig
    log: DecisionLog
    metrics: Metrics
    monitor: Monitor
    auth: Authenticator
    decisions: DecisionService
    reloader: Reloader
    watcher: PolicyWatcher | None
    owns_log: bool
    follower: StoreFollower | None = None
