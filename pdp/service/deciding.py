"""Deciding for the service: the decision point, plus the log, the monitor and the metrics.

Every decision gets a decision id (uuid4 hex), is appended to the decision log
(non-blocking: the log batches writes on its own thread) and fed to the
monitor. An internal error while deciding is a deny with reason `error`,
logged and counted — never a 5xx.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pdp.audit.log import DecisionLog
from pdp.audit.record import decision_record, event_record, now_iso
from pdp.core.decision import ERROR, Decision, Request, SubjectKind, deny
from pdp.core.explain import Explanation
from pdp.decision_point import DecisionPoint
from pdp.monitor import Alert, Monitor, Observation
from pdp.service.metrics import Metrics
from pdp.service.schemas import DecisionRequestV1

log = logging.getLogger("pdp.service")

MAX_VERSION_RETRIES = 3


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

    def _decision(self, req: DecisionRequestV1) -> Decision:
        try:
            decision = self.dp.decide(**req.decide_args())
        except Exception:  # fail closed
            log.exception("internal error while deciding; denied")
            decision = deny(self.dp.version, ERROR)
        if decision.reasons == (ERROR,):
            self.metrics.errors.inc()
        return decision

    def _record(
        self, req: DecisionRequestV1, decision: Decision, caller: str, time: str
    ) -> dict[str, Any]:
        decision_id = uuid.uuid4().hex
        kind: SubjectKind = "role" if req.user is None else "user"
        subject = req.role if req.user is None else req.user
        request = Request(kind, subject or "", req.info_class, req.purpose, req.action)
        self.log.append(decision_record(request, decision, caller, decision_id, time))
        try:
            alerts = self.monitor.observe(
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
        except Exception:  # the monitor never costs a decision
            log.exception("monitor failed")
            alerts = []
        for alert in alerts:
            self._alert(alert, decision.policy_version)
        return response_of(decision, decision_id)

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
        decision = self._decision(req)
        self.metrics.count((decision,))
        return self._record(req, decision, caller, now_iso())

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
        self.metrics.count(decisions)
        time = now_iso()
        record = self._record
        results = [record(r, d, caller, time) for r, d in zip(reqs, decisions, strict=True)]
        return {"policy_version": version, "results": results}

    def explain(self, req: DecisionRequestV1, caller: str) -> dict[str, Any]:
        """Explain a request; the decision it contains is logged like any other."""
        try:
            result = self.dp.explain(**req.decide_args())
        except Exception:
            log.exception("internal error while explaining; denied")
            self.metrics.errors.inc()
            result = deny(self.dp.version, ERROR)
        decision = result.decision if isinstance(result, Explanation) else result
        self.metrics.count((decision,))
        response = self._record(req, decision, caller, now_iso())
        if isinstance(result, Explanation):
            data = result.to_dict()
            data["decision_id"] = response["decision_id"]
            return data
        return response
