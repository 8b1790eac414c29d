"""A pdp error reaching the HTTP edge gets the status `pdp.errors.OUTCOMES` gives its kind."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pdp.errors import (
    InternalError,
    PdpError,
    PolicyError,
    Problem,
    RequestError,
    StorageError,
    outcome_of,
)
from pdp.service.errors import install_error_handlers


@pytest.mark.parametrize(
    "error",
    [
        RequestError("`role` must be text", "role"),
        PolicyError([Problem("not_found", "policy path `x` does not exist")]),
        StorageError("cannot reach postgresql://pdp:***@db/pdp"),
        InternalError("the index disagrees"),
    ],
)
def test_the_status_is_the_tables(error: PdpError) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == outcome_of(error).http_status
    body = response.json()["error"]
    assert body["code"] == error.code
    if response.status_code < 500:
        assert body["message"] == str(error)
    else:
        assert str(error) not in body["message"]
    if isinstance(error, RequestError):
        assert body["field"] == "role"
