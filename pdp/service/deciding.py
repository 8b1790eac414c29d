"""Deciding for the service: the decision point, plus the log, the monitor and the metrics.

The routes (native and AuthZEN) validate their bodies with `pdp.wire` and hand
the `DecisionService` the requests. It decides them all by one policy version
(`DecisionPoint.decide_many`, memoised per version by `pdp.memo`), gives each
decision a decision id (`DecisionIds`), queues its log record (non-blocking),
counts it and feeds it to the monitor. An internal error while deciding is a
deny with reason `error`, logged and counted — never a 5xx. A batch shares
one timestamp and one policy version.

With `require_user` (the production setting), a role-only request is not
decided: it is a deny with the reserved reason `user_required`, logged like
any decision, so that every allow names a person or a service account. Each
record keeps the request's context facts, the customer reference only as an
HMAC under `customer_keys` (`pdp.audit.accountability`); without keys the
reference is dropped and counted (`pdp_customer_refs_dropped`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pdp.audit import DecisionLog
from pdp.audit.accountability import CUSTOMER_DROPPED, CustomerKeys
from pdp.audit.base import AUDIT_UNAVAILABLE, OnLogFailure
from pdp.audit.record import canonical_json_with_id, decision_record, event_record
from pdp.core.decision import ERROR, Decision, deny
from pdp.core.explain import Explanation
from pdp.decision_point import DecisionPoint
from pdp.monitor import Alert, Monitor, Observation
from pdp.monitor.delivery import AlertDelivery
from pdp.service.metrics import Metrics
from pdp.wire import DecisionRequestV1, encode, request_of, response_of

log = logging.getLogger("pdp.service")

USER_REQUIRED = "user_required"  # the reason of a role-only request under `require_user`
LOG_HIGH_WATER = 50_000  # records not yet stored beyond which requests wait for the log
LOG_MAX_WAIT = 10.0  # seconds a request waits for the log at most


class DecisionIds:
    """Decision ids: 32 hex digits, unique without a random draw per decision.

    An id is a UUID of version 8 (custom): 62 random bits drawn once per
    process (again after a fork) followed by a 60-bit counter. Ids never repeat
    within a process, and two processes share a prefix with odds of about
    n²/2⁶³ for n processes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reseed()

    def reseed(self) -> None:
        """Draw a new random prefix and restart the counter (at start and after a fork)."""
        bits = int.from_bytes(os.urandom(8)) >> 2  # 62 random bits
        a, b, v = bits >> 14, (bits >> 2) & 0xFFF, bits & 0x3
        self._head = f"{a:012x}8{b:03x}{8 | v:x}"
        self._next = 0

    def take(self, count: int) -> list[str]:
        """`count` fresh ids."""
        with self._lock:
            start = self._next
            self._next += count
            head = self._head
        return [f"{head}{n:015x}" for n in range(start, start + count)]


decision_ids = DecisionIds()
os.register_at_fork(after_in_child=decision_ids.reseed)


def new_ids(count: int) -> list[str]:
    """`count` fresh decision ids (see `DecisionIds`)."""
    return decision_ids.take(count)


async def wait_for_log(decision_log: DecisionLog) -> None:
    """Back-pressure: wait while a healthy log is more than `LOG_HIGH_WATER` records behind.

    The service then answers only as fast as the log stores, instead of
    queueing records until the queue is full and drops them. A failing log
    (not healthy) is not waited for: requests go on, records stay queued and
    are retried (see docs/decision-log.md).
    """
    if decision_log.backlog < LOG_HIGH_WATER:
        return
    deadline = time.monotonic() + LOG_MAX_WAIT
    while (
        decision_log.healthy
        and decision_log.backlog >= LOG_HIGH_WATER
        and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.002)


_second: list[Any] = [-1, ""]


def log_time(now: float) -> str:
    """A time in the log's format (`%Y-%m-%dT%H:%M:%S.%fZ`, UTC), the date part cached."""
    second = int(now)
    if second != _second[0]:
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second[0] = second
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


@dataclass(slots=True)
class _Asked:
    """A distinct request and its answer within one `DecisionService.record` call.

    Equal requests of a batch, answered alike, share their log record (but
    for the decision id: `canonical_json_with_id`) and the monitor's
    observation; `times` counts them.
    """

    decision: Decision
    record: dict[str, Any]
    observation: Observation
    times: int = 0


class DecisionService:
    """Makes, records and watches decisions for the HTTP routes."""

    def __init__(
        self,
        dp: DecisionPoint,
        decision_log: DecisionLog,
        metrics: Metrics,
        monitor: Monitor,
        on_log_failure: OnLogFailure = "deny",
        *,
        customer_keys: CustomerKeys | None = None,
        require_user: bool = False,
        delivery: AlertDelivery | None = None,
    ) -> None:
        self.dp = dp
        self.log = decision_log
        self.metrics = metrics
        self.monitor = monitor
        self.deny_unlogged = on_log_failure == "deny"
        self.customer_keys = customer_keys
        self.require_user = require_user
        self.delivery = delivery

    def decide(self, requests: Sequence[DecisionRequestV1], caller: str) -> list[Decision]:
        """Decide requests in order by one policy version; each decision carries its logged id."""
        return self.record(requests, self.unrecorded(requests), caller)

    def unrecorded(self, requests: Sequence[DecisionRequestV1]) -> list[Decision]:
        """Decisions by one policy version, without ids and not logged: `record` those given."""
        try:
            if self.require_user and any(r.user is None for r in requests):
                return self._users_only(requests)
            return self.dp.decide_many([r.decide_args(validated=True) for r in requests])
        except Exception:  # fail closed (a DecisionPoint never raises; be sure anyway)
            log.exception("internal error while deciding; denied")
            return [deny(self.dp.version, ERROR)] * len(requests)

    def _users_only(self, requests: Sequence[DecisionRequestV1]) -> list[Decision]:
        """Decide the requests naming a user; deny the role-only ones `user_required`."""
        named = [r for r in requests if r.user is not None]
        decided = iter(
            self.dp.decide_many([r.decide_args(validated=True) for r in named]) if named else []
        )
        version = self.dp.version
        return [
            next(decided) if r.user is not None else deny(version, USER_REQUIRED) for r in requests
        ]

    def explain(self, request: DecisionRequestV1, caller: str) -> dict[str, Any]:
        """Explain a request (the `ExplanationV1` JSON); its decision is logged like any other."""
        try:
            if self.require_user and request.user is None:
                result: Explanation | Decision = deny(self.dp.version, USER_REQUIRED)
            else:
                result = self.dp.explain(**request.decide_args())
        except Exception:
            log.exception("internal error while explaining; denied")
            result = deny(self.dp.version, ERROR)
        decision = result.decision if isinstance(result, Explanation) else result
        (decided,) = self.record([request], [decision], caller)
        if isinstance(result, Explanation):
            data = result.to_dict()
        else:  # a malformed request: the plain decision
            data = msgspec.structs.asdict(response_of(decided))
        data["decision_id"] = decided.decision_id
        return data

    def record(
        self, requests: Sequence[DecisionRequestV1], decisions: Sequence[Decision], caller: str
    ) -> list[Decision]:
        """Give decisions made now their ids; log, count and watch them.

        When the log can keep no more records (`DecisionLog.accepting` False:
        the store fails and the spool is full) and `on_log_failure` is `deny`,
        every decision becomes a deny with reason `audit_unavailable`.
        """
        if self.deny_unlogged and decisions and not self.log.accepting:
            decisions = [deny(d.policy_version, AUDIT_UNAVAILABLE) for d in decisions]
        now = time.time()
        stamp = log_time(now)
        ids = decision_ids.take(len(decisions))
        made: list[Decision] = []
        bodies: list[str] = []
        distinct: dict[tuple[Any, ...], _Asked] = {}
        for request, d, decision_id in zip(requests, decisions, ids, strict=True):
            key = (encode(request), d.allowed, d.reasons, d.obligations, d.policy_version)
            asked = distinct.get(key)
            if asked is None:
                asked = distinct[key] = self._asked(request, d, caller, stamp)
            asked.times += 1
            made.append(
                Decision(d.allowed, d.reasons, d.obligations, d.policy_version, decision_id)
            )
            bodies.append(canonical_json_with_id(asked.record, decision_id))
        self.log.append_bodies(bodies)
        counted: dict[Observation, int] = {}
        for a in distinct.values():
            counted[a.observation] = counted.get(a.observation, 0) + a.times
        errors = sum(a.times for a in distinct.values() if a.decision.reasons == (ERROR,))
        unkeyed = sum(a.times for a in distinct.values() if CUSTOMER_DROPPED in a.record["detail"])
        if errors:
            self.metrics.errors.inc(errors)
        if unkeyed:
            self.metrics.customer_refs_dropped.inc(unkeyed)
        self.metrics.count_counted((a.decision, a.times) for a in distinct.values())
        try:
            alerts = self.monitor.observe_counted(list(counted.items()), now)
        except Exception:  # the monitor never costs a decision
            log.exception("monitor failed")
            alerts = []
        for alert in alerts:
            self._alert(alert, made[0].policy_version)
        return made

    def _asked(
        self, request: DecisionRequestV1, decision: Decision, caller: str, stamp: str
    ) -> _Asked:
        """What the records of one distinct request and answer share (worked out once)."""
        core = request_of(request)
        record = decision_record(core, decision, caller, "-", stamp, self.customer_keys)
        context = core.context
        observation = Observation(
            caller,
            core.subject_kind,
            core.subject,
            core.info_class,
            core.purpose,
            core.action,
            decision.allowed,
            decision.obligations,
            _records(context),
            str(context.get("ticket") or "") if context else "",
        )
        return _Asked(decision, record.to_dict(), observation)

    def _alert(self, alert: Alert, version: str) -> None:
        self.metrics.alerts.labels(alert.rule).inc()
        obs = alert.observation
        log.warning("alert %s: %s", alert.rule, alert.message)
        record = event_record(
            "alert",
            caller=obs.caller,
            policy_version=version,
            reasons=(alert.rule,),
            subject_kind=obs.subject_kind,
            subject=obs.subject,
            info_class=obs.info_class,
            allowed=obs.allowed,
            detail=_alert_detail(alert),
        )
        self.log.append(record)
        if self.delivery is not None:
            self.delivery.submit(record.to_dict())  # never blocks: a full queue drops and counts


def _records(context: Mapping[str, Any]) -> int:
    """How many customers' records a request touches: `context.records`, default 1."""
    records = context.get("records", 1) if context else 1
    return records if type(records) is int and records >= 1 else 1


def _alert_detail(alert: Alert) -> Mapping[str, Any]:
    obs = alert.observation
    return {
        "rule": alert.rule,
        "key": alert.key,
        "message": alert.message,
        "purpose": obs.purpose,
        "action": obs.action,
        **alert.detail,
    }
