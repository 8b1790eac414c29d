"""The OpenAPI document: FastAPI's, plus the `pdp.wire` types the decision routes use."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from pdp.service.authzen_schemas import REQUESTS as AUTHZEN_REQUESTS
from pdp.service.security import SCHEME
from pdp.wire import (
    DecisionBatchRequestV1,
    DecisionBatchResponseV1,
    DecisionRequestV1,
    DecisionResponseV1,
)

REF = "#/components/schemas/{name}"
PYDANTIC_REF = "#/components/schemas/{model}"
WIRE = (DecisionRequestV1, DecisionBatchRequestV1, DecisionResponseV1, DecisionBatchResponseV1)


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` include the request body schemas and the bearer scheme."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        _, wire = msgspec.json.schema_components(WIRE, ref_template=REF)
        schemas.update(wire)
        for model in AUTHZEN_REQUESTS:
            schema = model.model_json_schema(ref_template=PYDANTIC_REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from the service configuration.",
        }
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
