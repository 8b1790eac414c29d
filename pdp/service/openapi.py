"""The OpenAPI document: FastAPI's, plus the request bodies the decision routes parse themselves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from pdp.service.authzen_schemas import REQUESTS as AUTHZEN_REQUESTS
from pdp.service.schemas import DecisionBatchRequestV1, DecisionRequestV1
from pdp.service.security import SCHEME

REF = "#/components/schemas/{model}"


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
        models: tuple[type[BaseModel], ...] = (DecisionRequestV1, DecisionBatchRequestV1)
        for model in models + AUTHZEN_REQUESTS:
            schema = model.model_json_schema(ref_template=REF)
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
