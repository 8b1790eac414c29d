"""Accountability facts of a decision: the context that decided it, the customer only as an HMAC.

A decision record keeps, in its `detail`, the facts of the request's context
that decided it (seed §2.4): `mfa`, `ticket`, `approver`, `relationship`,
`records`, the `consent` ids claimed and the request `time` when given. The
customer reference (`context.customer`) is never stored in clear: only its
keyed HMAC-SHA256 (`customer`, 64 hex digits) and the id of the key that made
it (`customer_key`). With no key configured, the reference is dropped and the
record says so (`customer_dropped: true`).

Keys come from the service configuration (`customer_key_file`), else from the
environment (`PDP_CUSTOMER_KEY_FILE`, or `PDP_CUSTOMER_KEY=ID:SECRET`), never
from the policy. A key file holds one key a line, `ID SECRET`; the first is
the current key (new records), every key is accepted for queries: that is how
a key is rotated (docs/decision-log.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdp.errors import ConfigError

FACTS = ("mfa", "ticket", "approver", "relationship", "records", "consent", "time")
CUSTOMER = "customer"
CUSTOMER_KEY = "customer_key"
CUSTOMER_DROPPED = "customer_dropped"
KEY_ENV = "PDP_CUSTOMER_KEY"
KEY_FILE_ENV = "PDP_CUSTOMER_KEY_FILE"
MIN_SECRET_CHARS = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """One HMAC key: its id (stored with each record) and its secret (never shown)."""

    id: str
    secret: bytes = field(repr=False)


class CustomerKeys:
    """The HMAC keys of customer references: the first is current, all answer queries."""

    def __init__(self, keys: Sequence[CustomerKey]) -> None:
        if not keys:
            raise ConfigError("no customer key given")
        ids = [k.id for k in keys]
        if len(set(ids)) != len(ids):
            raise ConfigError("a customer key id is given twice")
        self.keys = tuple(keys)
        self.current = self.keys[0]
        # keyed once: copying a keyed HMAC is cheaper than keying it per reference
        self._keyed = {k.id: hmac.new(k.secret, digestmod=hashlib.sha256) for k in self.keys}

    def digest(self, reference: str, key: CustomerKey | None = None) -> str:
        """The HMAC-SHA256 of a customer reference (UTF-8) under a key (the current one), in hex."""
        mac = self._keyed[(key or self.current).id].copy()
        mac.update(reference.encode("utf-8", "replace"))
        return mac.hexdigest()

    def digests(self, reference: str) -> tuple[str, ...]:
        """The reference's HMAC under every key: what a query looks for."""
        return tuple(self.digest(reference, key) for key in self.keys)


def parse_keys(text: str, source: str) -> CustomerKeys:
    """Read `ID SECRET` lines (`#` comments, blank lines skipped); raises `ConfigError`."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, _, secret = line.partition(" ")
        keys.append(_key(key_id, secret.strip(), f"{source}:{number}"))
    if not keys:
        raise ConfigError(f"`{source}` holds no customer key (one `ID SECRET` a line)")
    return CustomerKeys(keys)


def _key(key_id: str, secret: str, where: str) -> CustomerKey:
    if not _KEY_ID.match(key_id):
        raise ConfigError(f"{where}: a customer key id is 1-32 letters, digits, `.`, `_` or `-`")
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{where}: the secret of customer key `{key_id}` must be at least "
            f"{MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)"
        )
    return CustomerKey(key_id, secret.encode("utf-8"))


def load_customer_keys(
    path: str | None = None, environ: Mapping[str, str] | None = None
) -> CustomerKeys | None:
    """The keys of `path`, else of `PDP_CUSTOMER_KEY_FILE`, else `PDP_CUSTOMER_KEY`; or None.

    Raises `ConfigError` when a named file is unreadable or a key malformed.
    """
    env = os.environ if environ is None else environ
    path = path or env.get(KEY_FILE_ENV) or None
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the customer key file `{path}`: {exc}") from None
        return parse_keys(text, path)
    value = env.get(KEY_ENV)
    if not value:
        return None
    key_id, sep, secret = value.partition(":")
    if not sep:
        raise ConfigError(f"`{KEY_ENV}` must be `ID:SECRET`")
    return CustomerKeys([_key(key_id, secret, KEY_ENV)])


_SCALARS = frozenset((bool, int, float, str))


def _plain(value: Any) -> Any:
    """A context value as the log keeps it: JSON scalars as they are, lists of text, else text."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def accountability(context: Mapping[str, Any], keys: CustomerKeys | None) -> dict[str, Any]:
    """The facts of a request context a decision record keeps (empty for an empty context)."""
    if not context:
        return {}
    facts = {}
    for name in FACTS:
        value = context.get(name)
        if value is not None:
            facts[name] = _plain(value)
    reference = context.get(CUSTOMER)
    if reference is not None and reference != "":
        if keys is None:
            facts[CUSTOMER_DROPPED] = True
        else:
            facts[CUSTOMER] = keys.digest(str(reference))
            facts[CUSTOMER_KEY] = keys.current.id
    return facts
