"""Passwords in URLs are hidden wherever pdp prints a URL."""

from __future__ import annotations

import pytest

from pdp.secrets import redact_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://pdp:s3cret@db.bank/pdp", "postgresql://pdp:***@db.bank/pdp"),
        ("postgresql+psycopg://u:p@ss:w@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("log `postgresql://u:pw@h/d` is down", "log `postgresql://u:***@h/d` is down"),
        ("postgresql://h/d?user=a&password=zz&x=1", "postgresql://h/d?user=a&password=***&x=1"),
        ("a://x:1@h and b://y:2@k", "a://x:***@h and b://y:***@k"),
    ],
)
def test_passwords_are_replaced(text: str, shown: str) -> None:
    assert redact_url(text) == shown


@pytest.mark.parametrize(
    "text", ["sqlite:///pdp-decisions.db", "postgresql://pdp@db/pdp", "no url here", ""]
)
def test_text_without_a_password_is_unchanged(text: str) -> None:
    assert redact_url(text) == text
