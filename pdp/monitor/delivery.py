"""Alert delivery: a webhook (HTTP POST of JSON) and syslog (RFC 5424), off the decision path.

    delivery = AlertDelivery([WebhookChannel(Webhook(url="https://siem/pdp"))])
    delivery.submit(alert_record.to_dict())   # never blocks, never raises
    delivery.close()

`submit` puts an alert on a bounded queue and returns at once: when the queue
is full the alert is counted in `overflow` and dropped, never waited on (it
stays in the decision log and the metrics). One delivery thread sends each
alert to every channel; an attempt is bounded by the channel's `timeout`, and
a failed attempt is retried `retries` times after `backoff` seconds. A
hanging or failing channel therefore slows only the delivery thread, never a
decision. What is sent is the alert's decision-log record (`LogRecord.to_dict()`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pdp.errors import ConfigError
from pdp.secrets import redact_url

log = logging.getLogger("pdp.alerts")

FACILITIES = {
    "kern": 0,
    "user": 1,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "authpriv": 10,
    "local0": 16,
    "local1": 17,
    "local2": 18,
    "local3": 19,
    "local4": 20,
    "local5": 21,
    "local6": 22,
    "local7": 23,
}
WARNING = 4  # the RFC 5424 severity of an alert
NILVALUE = "-"


@dataclass(frozen=True, slots=True)
class Webhook:
    """An HTTP endpoint that receives each alert as a JSON POST (a 2xx answer is delivered).

    `token_file` holds a bearer token sent as `Authorization: Bearer ...`.
    """

    url: str = ""
    timeout: float = 2.0
    token_file: str = ""


@dataclass(frozen=True, slots=True)
class Syslog:
    """A syslog receiver: RFC 5424 messages over `udp` or `tcp` (octet-counted framing)."""

    host: str = ""
    port: int = 514
    protocol: str = "udp"
    facility: str = "local0"
    app_name: str = "pdp"
    timeout: float = 2.0

    def __post_init__(self) -> None:
        if self.protocol not in ("udp", "tcp"):
            raise ConfigError(f"syslog protocol `{self.protocol}` must be `udp` or `tcp`")
        if self.facility not in FACILITIES:
            raise ConfigError(
                f"syslog facility `{self.facility}` must be one of {', '.join(FACILITIES)}"
            )


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """Where alerts go besides the log and the metrics, and how hard pdp tries."""

    webhook: Webhook | None = None
    syslog: Syslog | None = None
    queue_size: int = 1000
    retries: int = 2
    backoff: float = 0.5

    @property
    def enabled(self) -> bool:
        """True when some channel is configured."""
        return self.webhook is not None or self.syslog is not None


class Channel(Protocol):
    """One destination of alerts; `send` raises on failure and returns within its timeout."""

    name: str

    def send(self, alert: Mapping[str, Any]) -> None:
        """Deliver one alert or raise."""

    def close(self) -> None:
        """Release connections."""


class WebhookChannel:
    """POSTs each alert as JSON to a URL (httpx, one kept-alive client)."""

    name = "webhook"

    def __init__(self, config: Webhook) -> None:
        import httpx

        headers = {"content-type": "application/json"}
        if config.token_file:
            try:
                token = Path(config.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the webhook token `{config.token_file}`") from exc
            headers["authorization"] = f"Bearer {token}"
        self.url = config.url
        self._client = httpx.Client(timeout=config.timeout, headers=headers)

    def send(self, alert: Mapping[str, Any]) -> None:
        """POST the alert; raise unless the answer is a 2xx (its body is not read)."""
        body = json.dumps(alert, ensure_ascii=False).encode("utf-8")
        with self._client.stream("POST", self.url, content=body) as answer:
            answer.raise_for_status()

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def syslog_message(alert: Mapping[str, Any], config: Syslog, hostname: str) -> bytes:
    """An RFC 5424 message of an alert: MSGID the rule, MSG the alert's JSON (UTF-8 with BOM)."""
    priority = FACILITIES[config.facility] * 8 + WARNING
    stamp = str(alert.get("time") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    reasons = alert.get("reasons") or ()
    msgid = _token(str(reasons[0]) if reasons else "alert", 32)
    header = (
        f"<{priority}>1 {stamp} {_token(hostname, 255)} {_token(config.app_name, 48)} "
        f"{os.getpid()} {msgid} {NILVALUE} "
    )
    body = json.dumps(alert, ensure_ascii=False, separators=(",", ":"))
    return header.encode("ascii") + b"\xef\xbb\xbf" + body.encode("utf-8")


def _token(text: str, limit: int) -> str:
    """A header field of RFC 5424: printable US-ASCII without spaces, at most `limit` long."""
    cleaned = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return cleaned or NILVALUE


class SyslogChannel:
    """Sends each alert as an RFC 5424 message over UDP or TCP (RFC 6587 octet counting)."""

    name = "syslog"

    def __init__(self, config: Syslog) -> None:
        self.config = config
        self.hostname = socket.gethostname()
        self._tcp: socket.socket | None = None

    def send(self, alert: Mapping[str, Any]) -> None:
        """Send one message; a TCP connection is opened on demand and reopened after a failure."""
        message = syslog_message(alert, self.config, self.hostname)
        address = (self.config.host, self.config.port)
        if self.config.protocol == "udp":
            with socket.socket(_family(self.config.host), socket.SOCK_DGRAM) as udp:
                udp.settimeout(self.config.timeout)
                udp.sendto(message, address)
            return
        try:
            if self._tcp is None:
                self._tcp = socket.create_connection(address, timeout=self.config.timeout)
            self._tcp.sendall(str(len(message)).encode("ascii") + b" " + message)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        """Close the TCP connection, if any."""
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def channels_of(config: DeliveryConfig) -> list[Channel]:
    """The channels a configuration names (raises `ConfigError` for an unusable one)."""
    found: list[Channel] = []
    if config.webhook is not None:
        found.append(WebhookChannel(config.webhook))
    if config.syslog is not None:
        found.append(SyslogChannel(config.syslog))
    return found


_STOP = object()


class AlertDelivery:
    """A bounded queue of alerts and one thread delivering them to every channel."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        queue_size: int = 1000,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        self.channels = tuple(channels)
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.overflow = 0
        self.submitted = 0
        self.delivered = {c.name: 0 for c in self.channels}
        self.failed = {c.name: 0 for c in self.channels}
        self.retried = {c.name: 0 for c in self.channels}
        self._thread = threading.Thread(target=self._run, name="pdp-alert-delivery", daemon=True)
        self._thread.start()

    def submit(self, alert: Mapping[str, Any]) -> bool:
        """Queue an alert for every channel; False (counted in `overflow`) when full."""
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            with self._lock:
                self.overflow += 1
            return False
        with self._lock:
            self.submitted += 1
        return True

    @property
    def queued(self) -> int:
        """About how many alerts wait for delivery."""
        return self._queue.qsize()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the queued alerts (waiting at most `timeout` seconds), then close channels."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            for channel in self.channels:
                channel.close()

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is _STOP:
                return
            assert isinstance(alert, Mapping)
            for channel in self.channels:
                self._deliver(channel, alert)

    def _deliver(self, channel: Channel, alert: Mapping[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            if attempt:
                with self._lock:
                    self.retried[channel.name] += 1
                self._stopping.wait(self.backoff)  # no wait once stopping
            try:
                channel.send(alert)
            except Exception as exc:  # any failure of a channel is counted, never raised
                log.warning("alert delivery to %s failed: %s", channel.name, redact_url(str(exc)))
                continue
            with self._lock:
                self.delivered[channel.name] += 1
            return
        with self._lock:
            self.failed[channel.name] += 1


def open_delivery(config: DeliveryConfig) -> AlertDelivery | None:
    """The delivery of a configuration, or None when it names no channel."""
    if not config.enabled:
        return None
    return AlertDelivery(
        channels_of(config),
        queue_size=config.queue_size,
        retries=config.retries,
        backoff=config.backoff,
    )
