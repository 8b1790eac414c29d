"""Fixtures of the policy store tests: a database of this run's own on 127.0.0.1:5432.

The database is created for the session (named after the process id), upgraded
with `pdp db upgrade`'s code, emptied before each test and dropped at the end.
Without PostgreSQL the tests skip (and fail under CI=true).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"


def _admin_execute(*statements: str) -> None:
    engine = create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def store_db() -> Iterator[str]:
    """The URL of a fresh, upgraded policy store database for this test run."""
    name = f"pdp_store_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        _admin_execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server: skip here, fail in CI (tests/conftest.py)
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not available: {type(exc).__name__}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    from pdp.store.db import upgrade

    upgrade(url)
    yield url
    _admin_execute(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        f'DROP DATABASE IF EXISTS "{name}"',
    )


@pytest.fixture
def store_url(store_db: str) -> str:
    """The test database, emptied: no versions, no history, no active version."""
    engine = create_engine(store_db.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE pdp_policy_versions, pdp_policy_events, casbin_rule RESTART IDENTITY"
                )
            )
            conn.execute(text("UPDATE pdp_policy_active SET version_id = NULL, event_seq = 0"))
    finally:
        engine.dispose()
    return store_db


@pytest.fixture(scope="session")
def identities(store_db: str) -> dict[str, str]:
    """Two database roles, maker and checker, with URLs connecting as each."""
    names = {"maker": "pdp_test_maker", "checker": "pdp_test_checker"}
    for role in names.values():
        _admin_execute(
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    database = store_db.rsplit("/", 1)[1]
    grants = []
    for role in names.values():
        grants.append(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        grants.append(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    engine = create_engine(store_db.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            for statement in grants:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    return {who: f"postgresql://{role}@127.0.0.1:5432/{database}" for who, role in names.items()}
