"""Secrets in text: hide the passwords of URLs before anything is printed, logged or shown.

    >>> redact_url("postgresql://pdp:s3cret@db.bank/pdp")
    'postgresql://pdp:***@db.bank/pdp'

`redact_url` works on any text: every URL in it loses its password (the part
between `user:` and `@`, and a `password=` query parameter). The one place pdp
redacts: the service's banner, errors and endpoints, and the CLI, all call it.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact_url"]

MASK = "***"
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s`'\"]*):[^\s`'\"]*@")
_QUERY = re.compile(r"(?P<head>[?&](?:password|passwd|pwd|sslpassword)=)[^&\s`'\"]*", re.I)


def redact_url(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    text = _USERINFO.sub(rf"\g<head>:{MASK}@", text)
    return _QUERY.sub(rf"\g<head>{MASK}", text)
