"""Deciding for the service: the decision point, plus the log, the monitor and the metrics.

Every decision gets a decision id (uuid4 hex), is appended to the decision log
(non-blocking: the log batches writes on its own thread) and fed to the
monitor. An internal error while deciding is a deny with reason `error`,
logged and counted — never a 5xx. A batch shares one timestamp and one
policy version.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from pdp.audit.log import DecisionLog
from pdp.audit.record import decision_record, event_record
from pdp.core.decision import ERROR, Decision, Request, SubjectKind, deny
from pdp.core.explain import Explanation
from pdp.decision_point import DecisionPoint
from pdp.monitor import Alert, Monitor, Observation
from pdp.service.metrics import Metrics
from pdp.service.schemas import DecisionRequestV1

log = logging.getLogger("pdp.service")

MAX_VERSION_RETRIES = 3
REQUEST_MEMO = 65_536  # the log's request values, reused for repeated questions
_VERSION_4 = ~(0xF << 76) & ~(0x3 << 62)
_VERSION_4_BITS = (0x4 << 76) | (0x2 << 62)


def new_ids(count: int) -> list[str]:
    """`count` random uuid4 ids as 32 hex digits (what `uuid.uuid4().hex` gives, faster)."""
    raw = os.urandom(16 * count)
    return [
        f"{int.from_bytes(raw[i : i + 16]) & _VERSION_4 | _VERSION_4_BITS:032x}"
        for i in range(0, 16 * count, 16)
    ]


_second: list[Any] = [-1, ""]


def log_time(now: float) -> str:
    """A time in the log's format (`%Y-%m-%dT%H:%M:%S.%fZ`, UTC), the date part cached."""
    second = int(now)
    if second != _second[0]:
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second[0] = second
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


def response_of(decision: Decision, decision_id: str) -> dict[str, Any]:
    """The `DecisionResponseV1` JSON of a decision."""
    return {
        "allowed": decision.allowed,
        "reasons": list(decision.reasons),
        "obligations": list(decision.obligations),
        "policy_version": decision.policy_version,
        "decision_id": decision_id,
    }


class Decider:
    """Makes, records and watches decisions for the HTTP routes."""

    def __init__(
        self, dp: DecisionPoint, decision_log: DecisionLog, metrics: Metrics, monitor: Monitor
    ) -> None:
        self.dp = dp
        self.log = decision_log
        self.metrics = metrics
        self.monitor = monitor
        self._requests: dict[tuple[str, str | None, str, str, str], Request] = {}

    def _decision(self, req: DecisionRequestV1) -> Decision:
        context = req.context
        try:
            decision = self.dp.decide(
                req.role,
                req.user,
                req.info_class,
                req.purpose,
                req.action,
                None if context is None else {"consent": context.consent},
            )
        except Exception:  # fail closed
            log.exception("internal error while deciding; denied")
            decision = deny(self.dp.version, ERROR)
        if decision.reasons == (ERROR,):
            self.metrics.errors.inc()
        return decision

    def _finish(
        self, reqs: Sequence[DecisionRequestV1], decisions: Sequence[Decision], caller: str
    ) -> list[dict[str, Any]]:
        """Log, count and watch decisions; return their responses (ids added)."""
        self.metrics.count(decisions)
        now = time.time()
        stamp = log_time(now)
        append = self.log.append
        requests = self._requests
        observations = []
        results = []
        for req, decision, decision_id in zip(reqs, decisions, new_ids(len(reqs)), strict=True):
            user = req.user
            kind: SubjectKind = "role" if user is None else "user"
            subject = req.role if user is None else user
            key = (kind, subject, req.info_class, req.purpose, req.action)
            request = requests.get(key)
            if request is None:
                if len(requests) >= REQUEST_MEMO:
                    requests.clear()
                request = requests[key] = Request(kind, key[1] or "", *key[2:])
            append(decision_record(request, decision, caller, decision_id, stamp))
            observations.append(
                Observation(
                    caller,
                    kind,
                    request.subject,
                    req.info_class,
                    req.purpose,
                    req.action,
                    decision.allowed,
                )
            )
            results.append(response_of(decision, decision_id))
        try:
            alerts = self.monitor.observe_many(observations, now)
        except Exception:  # the monitor never costs a decision
            log.exception("monitor failed")
            alerts = []
        for alert in alerts:
            self._alert(alert, decisions[0].policy_version)
        return results

    def _alert(self, alert: Alert, version: str) -> None:
        self.metrics.alerts.labels(alert.rule).inc()
        obs = alert.observation
        log.warning("alert %s: %s", alert.rule, alert.message)
        self.log.append(
            event_record(
                "alert",
                caller=obs.caller,
                policy_version=version,
                reasons=(alert.rule,),
                subject_kind=obs.subject_kind,
                subject=obs.subject,
                info_class=obs.info_class,
                allowed=obs.allowed,
                detail={
                    "rule": alert.rule,
                    "key": alert.key,
                    "message": alert.message,
                    "purpose": obs.purpose,
                    "action": obs.action,
                    **alert.detail,
                },
            )
        )

    def decide(self, req: DecisionRequestV1, caller: str) -> dict[str, Any]:
        """Decide, log and watch one request; return its response JSON."""
        return self._finish((req,), (self._decision(req),), caller)[0]

    def decide_batch(self, reqs: list[DecisionRequestV1], caller: str) -> dict[str, Any]:
        """Decide a batch with one policy version (retried if a reload lands mid-batch)."""
        decisions: list[Decision] = []
        for _ in range(MAX_VERSION_RETRIES):
            version = self.dp.version
            decide = self._decision
            decisions = [decide(r) for r in reqs]
            if all(d.policy_version == version for d in decisions):
                break
        else:  # reloads kept landing: deny the whole batch rather than mix versions
            version = self.dp.version
            decisions = [deny(version, ERROR) for _ in reqs]
            self.metrics.errors.inc(len(reqs))
        return {"policy_version": version, "results": self._finish(reqs, decisions, caller)}

    def explain(self, req: DecisionRequestV1, caller: str) -> dict[str, Any]:
        """Explain a request; the decision it contains is logged like any other."""
        try:
            result = self.dp.explain(**req.decide_args())
        except Exception:
            log.exception("internal error while explaining; denied")
            self.metrics.errors.inc()
            result = deny(self.dp.version, ERROR)
        decision = result.decision if isinstance(result, Explanation) else result
        response = self._finish((req,), (decision,), caller)[0]
        if isinstance(result, Explanation):
            data = result.to_dict()
            data["decision_id"] = response["decision_id"]
            return data
        return response
