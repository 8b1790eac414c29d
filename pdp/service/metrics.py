"""Prometheus metrics of one service instance, in a registry of its own.

Each uvicorn worker process has its own registry: with `--workers N` a scrape
of `/metrics` sees the worker that answered it. Run one worker per process
(and scale out with processes behind a balancer, each scraped) when the
figures must be exact; see docs/service.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pdp.audit import DecisionLog
from pdp.core.decision import Decision
from pdp.monitor.delivery import AlertDelivery

MAX_REASON_CHILDREN = 10_000
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _LogCollector(Collector):
    """Reads the decision log's health, failures, losses and spool at scrape time."""

    def __init__(self, decision_log: DecisionLog) -> None:
        self._log = decision_log

    def collect(self) -> Iterator[Metric]:
        log = self._log
        failures = CounterMetricFamily(
            "pdp_log_write_failures", "Decision-log records that could not be written."
        )
        failures.add_metric([], log.write_failures)
        yield failures
        dropped = CounterMetricFamily(
            "pdp_log_records_dropped", "Decision-log records lost (store failing, spool full)."
        )
        dropped.add_metric([], log.dropped)
        yield dropped
        for name, text, value in (
            ("pdp_log_healthy", "1 when the decision log is writable.", log.healthy),
            (
                "pdp_log_accepting",
                "1 while a decision can be logged (on_log_failure).",
                log.accepting,
            ),
            ("pdp_log_spooled", "Records waiting in the disk spool for the store.", log.spooled),
        ):
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], float(value))
            yield gauge


class _DeliveryCollector(Collector):
    """Reads the alert delivery's counters at scrape time."""

    def __init__(self, delivery: AlertDelivery) -> None:
        self._delivery = delivery

    def collect(self) -> Iterator[Metric]:
        d = self._delivery
        for name, text, values in (
            ("pdp_alerts_delivered", "Alerts delivered, by channel.", d.delivered),
            ("pdp_alert_delivery_failures", "Alerts not delivered after retries.", d.failed),
            ("pdp_alert_delivery_retries", "Delivery attempts repeated, by channel.", d.retried),
        ):
            family = CounterMetricFamily(name, text, labels=["channel"])
            for channel, value in values.items():
                family.add_metric([channel], value)
            yield family
        overflow = CounterMetricFamily(
            "pdp_alerts_overflow", "Alerts dropped from delivery: its queue was full."
        )
        overflow.add_metric([], d.overflow)
        yield overflow
        queued = GaugeMetricFamily("pdp_alerts_queued", "Alerts waiting for delivery.")
        queued.add_metric([], float(d.queued))
        yield queued


class Metrics:
    """The service's counters, histogram and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "pdp_decisions", "Decisions made, by result.", ["result"], registry=r
        )
        self.reasons = Counter(
            "pdp_decision_reasons",
            "Decisions by reason (grant id, default_deny, unknown_*, error...).",
            ["result", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "pdp_request_duration_seconds",
            "Time to answer a decision endpoint, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "pdp_decision_errors", "Internal errors while deciding (each denied).", registry=r
        )
        self.rejected = Counter(
            "pdp_requests_rejected",
            "Requests refused with a 4xx, by error code.",
            ["code"],
            registry=r,
        )
        self.policy_info = Gauge(
            "pdp_policy_info",
            "The policy version deciding now (value 1).",
            ["version"],
            registry=r,
        )
        self.policy_loaded = Gauge(
            "pdp_policy_loaded_timestamp_seconds",
            "When the deciding policy was loaded.",
            registry=r,
        )
        self.reloads = Counter(
            "pdp_policy_reloads",
            "Policy change attempts, by result and trigger (api, signal, watch, store).",
            ["result", "trigger"],
            registry=r,
        )
        self.reload_failures = Counter(
            "pdp_policy_reload_failures",
            "Refused policy changes (invalid policy, altered or unsigned bundle).",
            registry=r,
        )
        self.alerts = Counter(
            "pdp_alerts", "Abnormal-access alerts raised, by rule.", ["rule"], registry=r
        )
        self.customer_refs_dropped = Counter(
            "pdp_customer_refs_dropped",
            "Customer references not recorded: no customer key configured.",
            registry=r,
        )
        self._version: str | None = None
        self.decision_latency = self.latency.labels("decision")
        self.batch_latency = self.latency.labels("batch")
        self._results = {True: self.decisions.labels("allow"), False: self.decisions.labels("deny")}
        self._reasons: dict[tuple[bool, str], Any] = {}

    def watch_log(self, decision_log: DecisionLog) -> None:
        """Export the decision log's health, write failures, losses and spool."""
        self.registry.register(_LogCollector(decision_log))

    def watch_delivery(self, delivery: AlertDelivery) -> None:
        """Export the alert delivery's counts: delivered, failed, retried, overflow, queued."""
        self.registry.register(_DeliveryCollector(delivery))

    def watch_store(self, connected: Callable[[], bool], event_seq: Callable[[], int]) -> None:
        """Export the policy store's reachability and the store event this replica serves."""
        up = Gauge(
            "pdp_policy_store_connected",
            "1 when the policy store is reachable (0: serving the version held, fail static).",
            registry=self.registry,
        )
        up.set_function(lambda: 1.0 if connected() else 0.0)
        seq = Gauge(
            "pdp_policy_store_event",
            "The policy store event (history seq) whose version this replica serves.",
            registry=self.registry,
        )
        seq.set_function(lambda: float(event_seq()))

    def policy(self, version: str, loaded_at: float) -> None:
        """Record the version now deciding (the info gauge carries one version at a time)."""
        if self._version is not None and self._version != version:
            self.policy_info.remove(self._version)
        self.policy_info.labels(version).set(1)
        self.policy_loaded.set(loaded_at)
        self._version = version

    def count(self, decisions: Iterable[Decision]) -> None:
        """Count decisions by result and reason, one counter update per distinct label set."""
        self.count_counted((d, 1) for d in decisions)

    def count_counted(self, decisions: Iterable[tuple[Decision, int]]) -> None:
        """Count decisions given with how many times each was made."""
        tally: dict[tuple[bool, tuple[str, ...]], int] = {}
        for d, times in decisions:
            key = (d.allowed, d.reasons)
            tally[key] = tally.get(key, 0) + times
        results = {True: 0, False: 0}
        children = self._reasons
        for (allowed, reasons), n in tally.items():
            results[allowed] += n
            for reason in reasons:
                child = children.get((allowed, reason))
                if child is None:
                    if len(children) > MAX_REASON_CHILDREN:
                        children.clear()
                    child = self.reasons.labels("allow" if allowed else "deny", reason)
                    children[(allowed, reason)] = child
                child.inc(n)
        for allowed, n in results.items():
            if n:
                self._results[allowed].inc(n)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)
