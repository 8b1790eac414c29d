"""Configuration of the decision service: tokens, the decision log, limits and alert thresholds.

The file is YAML; every key is optional::

    log: sqlite:///pdp-decisions.db
    log_writer: process        # or thread: chain and insert in a thread of the service
    log_spool: var/log-spool   # where records wait while the log store is unreachable
    log_spool_max_mb: 256      # the spool's bound
    on_log_failure: deny       # store down and spool full: deny everything (or allow)
    watch: false               # a development aid: reload when the policy files change
    watch_interval: 1.0
    verify_key: keys/policy.pub  # serve only bundles signed by this Ed25519 key
    db: postgresql://pdp@db/pdp  # serve the policy store's active version (pdp serve --db)
    policy_cache: /var/lib/pdp/policy-cache.tgz  # the last store version, for a start in an outage
    store_poll_interval: 5.0   # seconds between polls of the store (besides LISTEN/NOTIFY)
    metrics_public: false
    tokens:
      - name: core-banking
        sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        scopes: [decide]
    limits:
      max_body_bytes: 1048576
      max_batch: 1000
      read_timeout: 10         # seconds a client has to send a whole request
      keep_alive_timeout: 5    # seconds an idle kept-alive connection stays open
      max_connections: 1000    # open connections at once; more are closed at once
    allowed_hosts: [pdp.bank.internal]   # `Host` names served (421 otherwise); `*`: any
    require_user: false        # production: refuse role-only requests (deny `user_required`)
    customer_key_file: /etc/pdp/customer-keys   # HMAC keys of customer references (ID SECRET)
    alerts:
      denial_burst: {window_seconds: 60, threshold: 20}
      class_spread: {window_seconds: 300, factor: 3.0, min_classes: 5, baseline_weight: 0.2}
      sensitive_outside_duties: {enabled: true, levels: [C3], window_seconds: 300}
      break_glass: {enabled: true}         # every break-glass allow
      bulk_access: {enabled: true, window_seconds: 3600, threshold: 5000}
      off_hours: {enabled: true, hours: "08:00-18:00", timezone: Asia/Shanghai,
                  weekdays: [mon, tue, wed, thu, fri], min_level: C2, window_seconds: 3600}
      max_tracked_keys: 100000
    alert_delivery:            # besides the log and the metrics (docs/alerts.md)
      webhook: {url: "https://siem.bank/pdp", timeout: 2.0, token_file: /etc/pdp/siem-token}
      syslog: {host: 10.0.0.5, port: 514, protocol: udp, facility: local0, timeout: 2.0}
      queue_size: 1000         # alerts waiting; beyond it they are dropped and counted
      retries: 2               # further attempts per alert and channel
      backoff: 0.5             # seconds between attempts

Unknown keys and wrong types are errors (`ConfigError`), reported with the key's path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pdp.audit import DEFAULT_WRITER
from pdp.audit.accountability import KEY_ENV, KEY_FILE_ENV, CustomerKeys, load_customer_keys
from pdp.audit.base import SPOOL_MAX_BYTES, OnLogFailure, Writer
from pdp.errors import ConfigError
from pdp.monitor.delivery import DeliveryConfig, Syslog, Webhook
from pdp.monitor.thresholds import (
    AlertConfig,
    BreakGlass,
    BulkAccess,
    ClassSpread,
    DenialBurst,
    OffHours,
    SensitiveOutsideDuties,
)
from pdp.wire import HARD_MAX_BATCH

SCOPES = ("decide", "explain", "review", "admin")
DEFAULT_LOG = "sqlite:///pdp-decisions.db"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """One caller's bearer token: its name (logged as the caller), sha256 hex and scopes."""

    name: str
    sha256: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits on requests (beyond them a 413) and on connections (beyond them a close)."""

    max_body_bytes: int = 1_048_576
    max_batch: int = 1_000
    read_timeout: float = 10.0
    keep_alive_timeout: int = 5
    max_connections: int = 1_000


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything the service needs besides the policy."""

    log: str = DEFAULT_LOG
    tokens: tuple[TokenConfig, ...] = ()
    limits: Limits = field(default_factory=Limits)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    alert_delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    watch: bool = False
    watch_interval: float = 1.0
    verify_key: str = ""
    db: str = ""
    policy_cache: str = ""
    store_poll_interval: float = 5.0
    metrics_public: bool = False
    log_writer: Writer = DEFAULT_WRITER
    log_spool: str | None = None
    log_spool_max_mb: int = SPOOL_MAX_BYTES // (1024 * 1024)
    on_log_failure: OnLogFailure = "deny"
    allowed_hosts: tuple[str, ...] = ()
    require_user: bool = False
    customer_key_file: str = ""

    @property
    def auth_enabled(self) -> bool:
        """True when any token is configured: then every endpoint but health needs one."""
        return bool(self.tokens)

    @property
    def admin_enabled(self) -> bool:
        """True when some token has the `admin` scope: admin endpoints are off otherwise."""
        return any("admin" in t.scopes for t in self.tokens)


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"unknown key `{where}{key}`")


def _dataclass_from(cls: type[Any], data: Any, where: str) -> Any:
    """Build a flat dataclass of numbers, booleans and string tuples from a mapping."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"`{where.rstrip('.')}` must be a mapping")
    names = {f.name: f for f in fields(cls)}
    _check_keys(data, set(names), where)
    default = cls()
    values: dict[str, Any] = {}
    for key, value in data.items():
        wanted = type(getattr(default, key))
        if wanted is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"`{where}{key}` must be a list of strings")
            value = tuple(value)
        elif wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif type(value) is not wanted:
            raise ConfigError(f"`{where}{key}` must be a {wanted.__name__}")
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            raise ConfigError(f"`{where}{key}` must be positive")
        values[key] = value
    return replace(default, **values)


def _tokens(data: Any) -> tuple[TokenConfig, ...]:
    if not isinstance(data, list):
        raise ConfigError("`tokens` must be a list")
    tokens = []
    names: set[str] = set()
    for n, item in enumerate(data):
        where = f"tokens[{n}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"`{where}` must be a mapping")
        _check_keys(item, {"name", "sha256", "scopes"}, f"{where}.")
        name, digest, scopes = item.get("name"), item.get("sha256"), item.get("scopes")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"`{where}.name` must be a non-empty string")
        if name in names:
            raise ConfigError(f"token name `{name}` is given twice")
        names.add(name)
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ConfigError(
                f"`{where}.sha256` must be 64 lower-case hex digits (see `pdp token hash`)"
            )
        if not isinstance(scopes, list) or not scopes:
            raise ConfigError(f"`{where}.scopes` must be a non-empty list")
        for scope in scopes:
            if scope not in SCOPES:
                raise ConfigError(f"unknown scope `{scope}` in `{where}.scopes`")
        tokens.append(TokenConfig(name, digest, frozenset(scopes)))
    return tuple(tokens)


def _delivery(data: Any) -> DeliveryConfig:
    """The `alert_delivery` section: its channels, queue and retries."""
    where = "alert_delivery."
    if not isinstance(data, Mapping):
        raise ConfigError("`alert_delivery` must be a mapping")
    _check_keys(data, {"webhook", "syslog", "queue_size", "retries", "backoff"}, where)
    webhook = syslog = None
    if "webhook" in data:
        webhook = _dataclass_from(Webhook, data["webhook"], f"{where}webhook.")
        if not webhook.url.startswith(("http://", "https://")):
            raise ConfigError(f"`{where}webhook.url` must be an http(s) URL")
    if "syslog" in data:
        syslog = _dataclass_from(Syslog, data["syslog"], f"{where}syslog.")
        if not syslog.host:
            raise ConfigError(f"`{where}syslog.host` must name the syslog receiver")
    default = DeliveryConfig()
    counts: dict[str, int] = {}
    for key, least in (("queue_size", 1), ("retries", 0)):
        value = data.get(key, getattr(default, key))
        if type(value) is not int or value < least:
            raise ConfigError(f"`{where}{key}` must be an int of at least {least}")
        counts[key] = value
    backoff = data.get("backoff", default.backoff)
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise ConfigError(f"`{where}backoff` must be a number of seconds")
    return DeliveryConfig(webhook, syslog, counts["queue_size"], counts["retries"], float(backoff))


def config_from_mapping(data: Mapping[str, Any]) -> ServiceConfig:
    """Build a `ServiceConfig` from parsed YAML (raises `ConfigError`)."""
    _check_keys(data, {f.name for f in fields(ServiceConfig)}, "")
    config = ServiceConfig()
    if "log" in data:
        if not isinstance(data["log"], str) or not data["log"]:
            raise ConfigError("`log` must be a non-empty string")
        config = replace(config, log=data["log"])
    if "tokens" in data:
        config = replace(config, tokens=_tokens(data["tokens"]))
    if "limits" in data:
        limits = _dataclass_from(Limits, data["limits"], "limits.")
        if limits.max_batch > HARD_MAX_BATCH:
            raise ConfigError(f"`limits.max_batch` must be at most {HARD_MAX_BATCH}")
        config = replace(config, limits=limits)
    if "alerts" in data:
        alerts = data["alerts"]
        if not isinstance(alerts, Mapping):
            raise ConfigError("`alerts` must be a mapping")
        _check_keys(alerts, {f.name for f in fields(AlertConfig)}, "alerts.")
        built: dict[str, Any] = {}
        for key, cls in (
            ("denial_burst", DenialBurst),
            ("class_spread", ClassSpread),
            ("sensitive_outside_duties", SensitiveOutsideDuties),
            ("break_glass", BreakGlass),
            ("bulk_access", BulkAccess),
            ("off_hours", OffHours),
        ):
            if key in alerts:
                built[key] = _dataclass_from(cls, alerts[key], f"alerts.{key}.")
        if "max_tracked_keys" in alerts:
            keys = alerts["max_tracked_keys"]
            if type(keys) is not int or keys <= 0:
                raise ConfigError("`alerts.max_tracked_keys` must be a positive int")
            built["max_tracked_keys"] = keys
        config = replace(config, alerts=replace(AlertConfig(), **built))
    if "alert_delivery" in data:
        config = replace(config, alert_delivery=_delivery(data["alert_delivery"]))
    for key in ("watch", "metrics_public", "require_user"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ConfigError(f"`{key}` must be true or false")
            config = replace(config, **{key: data[key]})
    for key in ("db", "policy_cache", "customer_key_file"):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise ConfigError(f"`{key}` must be a non-empty string")
            config = replace(config, **{key: data[key]})
    if "store_poll_interval" in data:
        interval = data["store_poll_interval"]
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ConfigError("`store_poll_interval` must be a positive number of seconds")
        config = replace(config, store_poll_interval=float(interval))
    if "verify_key" in data:
        if not isinstance(data["verify_key"], str) or not data["verify_key"]:
            raise ConfigError("`verify_key` must be the path of a public key (PEM)")
        config = replace(config, verify_key=data["verify_key"])
    if "log_writer" in data:
        if data["log_writer"] not in ("process", "thread"):
            raise ConfigError("`log_writer` must be `process` or `thread`")
        config = replace(config, log_writer=data["log_writer"])
    if "log_spool" in data:
        if not isinstance(data["log_spool"], str) or not data["log_spool"]:
            raise ConfigError("`log_spool` must be a directory path")
        config = replace(config, log_spool=data["log_spool"])
    if "log_spool_max_mb" in data:
        size = data["log_spool_max_mb"]
        if type(size) is not int or size <= 0:
            raise ConfigError("`log_spool_max_mb` must be a positive int")
        config = replace(config, log_spool_max_mb=size)
    if "on_log_failure" in data:
        if data["on_log_failure"] not in ("deny", "allow"):
            raise ConfigError("`on_log_failure` must be `deny` or `allow`")
        config = replace(config, on_log_failure=data["on_log_failure"])
    if "allowed_hosts" in data:
        hosts = data["allowed_hosts"]
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise ConfigError("`allowed_hosts` must be a list of host names")
        config = replace(config, allowed_hosts=tuple(hosts))
    if "watch_interval" in data:
        interval = data["watch_interval"]
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ConfigError("`watch_interval` must be a positive number of seconds")
        config = replace(config, watch_interval=float(interval))
    return config


def customer_keys_of(config: ServiceConfig) -> CustomerKeys | None:
    """The customer-reference HMAC keys: `customer_key_file`, else the environment.

    Raises `ConfigError` for an unreadable or malformed key, and when
    `require_user` (the production setting) is on and no key is configured:
    a production service records the customer of every access it can.
    """
    keys = load_customer_keys(config.customer_key_file or None)
    if keys is None and config.require_user:
        raise ConfigError(
            "`require_user: true` needs a customer key: set `customer_key_file`, "
            f"{KEY_FILE_ENV} or {KEY_ENV} (see docs/decision-log.md)"
        )
    return keys


def load_config(path: str | Path) -> ServiceConfig:
    """Read a YAML configuration file (raises `ConfigError`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config `{path}`: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config `{path}{where}` is not valid YAML") from None
    if data is None:
        return ServiceConfig()
    if not isinstance(data, Mapping):
        raise ConfigError(f"config `{path}` must be a mapping")
    return config_from_mapping(data)
