"""Schemathesis over the AuthZEN routes: no server error, documented statuses, schema-true answers.

Bounded: a few dozen examples per operation, positive and negative data.
"""

from __future__ import annotations

import tempfile
import warnings

from hypothesis import HealthCheck, settings

from pdp.decision_point import DecisionPoint
from pdp.service import ServiceConfig, create_app
from tests.service.conftest import POLICY, token_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )


TMP = tempfile.TemporaryDirectory(prefix="pdp-authzen-fuzz-")
APP = create_app(
    DecisionPoint.from_path(POLICY),
    ServiceConfig(
        log=f"sqlite:///{TMP.name}/fuzz.db", watch=False, tokens=token_config(), log_writer="thread"
    ),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(
    path_regex=r"^/(access/v1/|\.well-known/authzen)"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def teardown_module() -> None:
    APP.state.service.log.close()
    TMP.cleanup()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_authzen_routes_hold_their_contract(case: schemathesis.Case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.call_and_validate(headers={"authorization": "Bearer admin-token"}, checks=CHECKS)
