"""Deciding for the service: the decision point, plus the log, the monitor and the metrics.

The decision routes hand the `Decider` the request JSON as `json.loads` gives
it. For each distinct question — caller, role or user, class, purpose, action
and consent — the Decider keeps, per policy version, an `Answer`: the decision
and the text around its decision id in the response JSON and in the log
record's canonical JSON. A repeated question then costs a dict lookup and two
string joins; a question seen for the first time is validated against
`DecisionRequestV1` and decided. Any invalid item raises `InvalidRequestError`
before anything is decided or logged; the route then validates the body with
the schema to report the error (status, field, index).

Every decision gets a decision id (`DecisionIds`), is queued for the decision
log (`append_bodies`: non-blocking), counted and fed to the monitor. An
internal error while deciding is a deny with reason `error`, logged and
counted — never a 5xx. A batch shares one timestamp and one policy version.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from pydantic import ValidationError

from pdp.audit.log import DecisionLog
from pdp.audit.record import decision_parts, event_record
from pdp.core.decision import ERROR, Decision, Request, SubjectKind, deny
from pdp.core.explain import Explanation
from pdp.decision_point import DecisionPoint
from pdp.errors import RequestError
from pdp.monitor import Alert, Monitor, Observation
from pdp.service.metrics import Metrics
from pdp.service.schemas import MAX_CONSENTS, DecisionRequestV1

log = logging.getLogger("pdp.service")

MAX_VERSION_RETRIES = 3
ANSWER_MEMO = 65_536  # distinct questions remembered (per caller and version)
LOG_HIGH_WATER = 50_000  # records not yet stored beyond which requests wait for the log
LOG_MAX_WAIT = 10.0  # seconds a request waits for the log at most
PLAIN_FIELDS = frozenset({"role", "user", "info_class", "purpose", "action"})
ALL_FIELDS = PLAIN_FIELDS | {"context"}
CONTEXT_FIELDS = frozenset({"consent"})

QuestionKey = tuple[str, Any, Any, Any, Any, Any, tuple[Any, ...] | None]


InvalidRequestError = RequestError  # an item does not match the schema: validate to say why


class _ReloadedError(Exception):
    """A reload landed while a batch was being decided: decide it again."""


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


def response_of(decision: Decision, decision_id: str) -> dict[str, Any]:
    """The `DecisionResponseV1` JSON of a decision."""
    return {
        "allowed": decision.allowed,
        "reasons": list(decision.reasons),
        "obligations": list(decision.obligations),
        "policy_version": decision.policy_version,
        "decision_id": decision_id,
    }


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True, eq=False)
class Answer:
    """A decided question, pre-encoded: the response and log record around the decision id."""

    version: str
    decision: Decision
    response: str  # the response JSON up to the decision id's opening quote
    before: str  # the log record's canonical JSON up to the decision id
    after: str  # ... from after the decision id up to the time
    observation: Observation

    def response_json(self, decision_id: str) -> str:
        """The response JSON of this answer with its decision id."""
        return f'{self.response}{decision_id}"}}'


def _question(item: Any, caller: str) -> QuestionKey:
    """The memo key of an item, or raise `InvalidRequestError`.

    The common item, plain fields and no `context`, is tested first: it is
    the whole of most batches.
    """
    consent: tuple[Any, ...] | None = None
    if type(item) is not dict:
        raise InvalidRequestError
    if not item.keys() <= PLAIN_FIELDS:
        if not item.keys() <= ALL_FIELDS:
            raise InvalidRequestError
        consent = _consent(item["context"])
    get = item.get
    return (
        caller,
        get("role"),
        get("user"),
        get("info_class"),
        get("purpose"),
        get("action"),
        consent,
    )


def _consent(context: Any) -> tuple[Any, ...] | None:
    """The consent of a request's `context` as a tuple, or raise `InvalidRequestError`."""
    consent: tuple[Any, ...] | None = None
    if context is not None:
        if type(context) is not dict or not context.keys() <= CONTEXT_FIELDS:
            raise InvalidRequestError
        given = context.get("consent", [])
        if type(given) is not list or len(given) > MAX_CONSENTS:
            raise InvalidRequestError
        consent = tuple(given)
    return consent


class Decider:
    """Makes, records and watches decisions for the HTTP routes."""

    def __init__(
        self, dp: DecisionPoint, decision_log: DecisionLog, metrics: Metrics, monitor: Monitor
    ) -> None:
        self.dp = dp
        self.log = decision_log
        self.metrics = metrics
        self.monitor = monitor
        self._answers: dict[QuestionKey, Answer] = {}

    # -- the routes ----------------------------------------------------------------------

    def decide_json(self, item: Any, caller: str) -> bytes:
        """Decide one request (parsed JSON), log and watch it; the response body."""
        answers = self._decide_all([item], caller)
        (decision_id,) = self._record(answers, caller)
        return answers[0].response_json(decision_id).encode()

    def decide_batch_json(self, items: list[Any], caller: str) -> bytes:
        """Decide a batch (parsed JSON items) by one policy version; the response body."""
        answers = self._decide_all(items, caller)
        ids = self._record(answers, caller)
        version = answers[0].version if answers else self.dp.version
        results = ",".join([a.response_json(i) for a, i in zip(answers, ids, strict=True)])
        return f'{{"policy_version":{_dumps(version)},"results":[{results}]}}'.encode()

    def explain(self, req: DecisionRequestV1, caller: str) -> dict[str, Any]:
        """Explain a request; the decision it contains is logged like any other."""
        try:
            result = self.dp.explain(**req.decide_args())
        except Exception:
            log.exception("internal error while explaining; denied")
            self.metrics.errors.inc()
            result = deny(self.dp.version, ERROR)
        decision = result.decision if isinstance(result, Explanation) else result
        answer = self._answer(req, decision, caller)
        (decision_id,) = self._record([answer], caller)
        if isinstance(result, Explanation):
            data = result.to_dict()
            data["decision_id"] = decision_id
            return data
        return response_of(decision, decision_id)

    def answers(self, items: Sequence[Any], caller: str) -> list[Answer]:
        """Answers for items (native request JSON) by one policy version, not yet recorded.

        Raises `InvalidRequestError` before anything is decided when an item is
        invalid. Record the answers given out with `record`.
        """
        return self._decide_all(items, caller)

    def record(self, answers: Sequence[Answer], caller: str) -> list[str]:
        """Log, count and watch answers given out now; their decision ids."""
        return self._record(answers, caller)

    # -- deciding ------------------------------------------------------------------------

    def _decide_all(self, items: Sequence[Any], caller: str) -> list[Answer]:
        """Answers for every item, all by one policy version (or all `error` denies)."""
        for _ in range(MAX_VERSION_RETRIES):
            try:
                return self._answer_all(items, caller, self.dp.version)
            except _ReloadedError:
                continue
        # reloads kept landing: deny the whole batch rather than mix versions
        forced = deny(self.dp.version, ERROR)
        self.metrics.errors.inc(len(items))
        return [self._answer(self._validated(item), forced, caller) for item in items]

    def _answer_all(self, items: Sequence[Any], caller: str, version: str) -> list[Answer]:
        answers: list[Answer] = []
        add = answers.append
        memo = self._answers
        for item in items:
            key = _question(item, caller)
            # a remembered key holds only validated strings, and only equal strings
            # match them: a hit means the item is valid
            try:
                answer = memo.get(key)
            except TypeError:  # an unhashable value (list, object) where a string goes
                raise InvalidRequestError from None
            if answer is None or answer.version != version:
                answer = self._first_time(item, key, caller, version)
            add(answer)
        return answers

    def _validated(self, item: Any) -> DecisionRequestV1:
        try:
            return DecisionRequestV1.model_validate(item)
        except ValidationError:
            raise InvalidRequestError from None

    def _first_time(self, item: Any, key: QuestionKey, caller: str, version: str) -> Answer:
        """Validate, decide and remember a question not yet answered by this version."""
        req = self._validated(item)
        decision = self._decision(req)
        if decision.policy_version != version:
            raise _ReloadedError
        answer = self._answer(req, decision, caller)
        if decision.reasons != (ERROR,):  # an internal error is not remembered
            if len(self._answers) >= ANSWER_MEMO:
                self._answers.clear()
            self._answers[key] = answer
        return answer

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

    def _answer(self, req: DecisionRequestV1, decision: Decision, caller: str) -> Answer:
        """Encode a decided request: its response and log record around the decision id."""
        user = req.user
        kind: SubjectKind = "role" if user is None else "user"
        subject = (req.role if user is None else user) or ""
        request = Request(kind, subject, req.info_class, req.purpose, req.action)
        before, after = decision_parts(caller, request, decision)
        response = _dumps(response_of(decision, ""))[: -len('""}')] + '"'
        observation = Observation(
            caller, kind, subject, req.info_class, req.purpose, req.action, decision.allowed
        )
        return Answer(decision.policy_version, decision, response, before, after, observation)

    # -- recording -----------------------------------------------------------------------

    def _record(self, answers: Sequence[Answer], caller: str) -> list[str]:
        """Log, count and watch answers made now; return their decision ids."""
        now = time.time()
        ids = decision_ids.take(len(answers))
        stamp = encode_basestring(log_time(now)) + "}"
        self.log.append_bodies(
            [f'{a.before}"{i}"{a.after}{stamp}' for a, i in zip(answers, ids, strict=True)]
        )
        counted: dict[Answer, int] = {}
        for a in answers:
            counted[a] = counted.get(a, 0) + 1
        self.metrics.count_counted([(a.decision, n) for a, n in counted.items()])
        try:
            alerts = self.monitor.observe_counted(
                [(a.observation, n) for a, n in counted.items()], now
            )
        except Exception:  # the monitor never costs a decision
            log.exception("monitor failed")
            alerts = []
        for alert in alerts:
            self._alert(alert, answers[0].version)
        return ids

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
                detail=_alert_detail(alert),
            )
        )


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
