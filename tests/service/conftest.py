"""Fixtures of the service tests: a small policy in a temporary directory, apps and clients."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from pdp.decision_point import DecisionPoint
from pdp.service import ServiceConfig, create_app
from pdp.service.auth import hash_token
from pdp.service.config import TokenConfig

with warnings.catch_warnings():  # starlette warns about httpx at import time
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

POLICY = Path(__file__).parent / "policy" / "policy.yaml"

TELLER_OPENING = {
    "role": "teller",
    "info_class": "identity.id_number",
    "purpose": "account_opening",
    "action": "use",
}

TOKENS = {
    "app-token": ("core-banking", {"decide"}),
    "explain-token": ("helpdesk", {"explain"}),
    "review-token": ("auditor", {"review"}),
    "admin-token": ("ops", {"admin"}),
}


def token_config() -> tuple[TokenConfig, ...]:
    """Tokens for each scope, as the config file would give them."""
    return tuple(
        TokenConfig(name, hash_token(token), frozenset(scopes))
        for token, (name, scopes) in TOKENS.items()
    )


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A writable copy of the test policy."""
    target = tmp_path / "policy"
    target.mkdir()
    shutil.copy(POLICY, target / "policy.yaml")
    return target


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    """A fresh SQLite decision log."""
    return f"sqlite:///{tmp_path / 'decisions.db'}"


def build_app(policy_dir: Path, log_url: str, **config: Any) -> FastAPI:
    """An app on the test policy with a config (watching off unless asked).

    The log is written by a thread unless asked (`log_writer="process"`, the
    service's default): a writer process per test would double the suite's
    time; tests/audit/test_writer.py, the process tests and
    `test_the_default_writer_process_logs_every_decision` cover it.
    """
    config.setdefault("watch", False)
    config.setdefault("log_writer", "thread")
    return create_app(DecisionPoint.from_path(policy_dir), ServiceConfig(log=log_url, **config))


@pytest.fixture
def app(policy_dir: Path, log_url: str) -> FastAPI:
    """An open service (no tokens)."""
    return build_app(policy_dir, log_url)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A test client of the open service, lifespan included."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def secured(policy_dir: Path, log_url: str) -> Iterator[TestClient]:
    """A test client of a service with a token per scope."""
    with TestClient(build_app(policy_dir, log_url, tokens=token_config())) as test_client:
        yield test_client
