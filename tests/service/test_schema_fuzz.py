"""Schemathesis against the service's own OpenAPI schema: no input gives a server error.

Bounded: a few examples per operation, positive and negative data, well under a minute.
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


TMP = tempfile.TemporaryDirectory(prefix="pdp-fuzz-")
APP = create_app(
    DecisionPoint.from_path(POLICY),
    ServiceConfig(log=f"sqlite:///{TMP.name}/fuzz.db", watch=False, tokens=token_config()),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def teardown_module() -> None:
    APP.state.service.log.close()
    TMP.cleanup()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.call_and_validate(
            headers={"authorization": "Bearer admin-token"}, checks=[not_a_server_error]
        )
