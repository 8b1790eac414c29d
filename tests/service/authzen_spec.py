"""The AuthZEN working group's JSON Schemas, and the specification's envelopes around them.

The working group publishes schemas for one evaluation's request and
response (`shared/datasets/authzen/`). The boxcar, search and metadata
envelopes below are written from the specification's text (sections
"Access Evaluations API", "Search APIs", "Policy Decision Point Metadata")
and refer to the published schemas for every entity and decision. `checked`
validates a request or response and returns it.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.shared_data import DATASETS

FOLDER = DATASETS / "authzen"
REQUEST = "authzen-evaluation-request"
RESPONSE = "authzen-evaluation-response"


def _published(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((FOLDER / f"{name}.schema.json").read_text())
    return schema


ENTITIES = ("subject", "resource", "action", "context")


def _entity(name: str) -> dict[str, str]:
    return {"$ref": f"{REQUEST}#/properties/{name}"}


_COUNT = {"type": "integer", "minimum": 0}
_PAGE_REQUEST = {
    "type": "object",
    "properties": {"token": {"type": "string"}, "limit": _COUNT, "properties": {"type": "object"}},
}
_TYPED = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}


def _search_request(*required: str, typed: str) -> dict[str, Any]:
    properties: dict[str, Any] = {name: _entity(name) for name in ENTITIES}
    properties[typed] = _TYPED
    properties["page"] = _PAGE_REQUEST
    return {"type": "object", "required": list(required), "properties": properties}


def _search_response(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["results"],
        "properties": {
            "page": {
                "type": "object",
                "required": ["next_token"],
                "properties": {
                    "next_token": {"type": "string"},
                    "count": _COUNT,
                    "total": _COUNT,
                    "properties": {"type": "object"},
                },
            },
            "context": {"type": "object"},
            "results": {"type": "array", "items": result},
        },
    }


_ID_ENTITY = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
}
_ENDPOINT = {"type": "string", "format": "uri"}

ENVELOPES: dict[str, dict[str, Any]] = {
    "evaluations-request": {
        "type": "object",
        "properties": {
            **{name: _entity(name) for name in ENTITIES},
            "evaluations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {name: _entity(name) for name in ENTITIES},
                },
            },
            "options": {
                "type": "object",
                "properties": {
                    "evaluations_semantic": {
                        "enum": ["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
                    }
                },
            },
        },
    },
    "evaluations-response": {
        "type": "object",
        "required": ["evaluations"],
        "properties": {"evaluations": {"type": "array", "items": {"$ref": RESPONSE}}},
    },
    "search-subject-request": _search_request("subject", "action", "resource", typed="subject"),
    "search-resource-request": _search_request("subject", "action", "resource", typed="resource"),
    "search-action-request": _search_request("subject", "resource", typed="action"),
    "search-subject-response": _search_response(_ID_ENTITY),
    "search-resource-response": _search_response(_ID_ENTITY),
    "search-action-response": _search_response(
        {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    ),
    "metadata": {
        "type": "object",
        "required": ["policy_decision_point", "access_evaluation_endpoint"],
        "properties": {
            "policy_decision_point": _ENDPOINT,
            "access_evaluation_endpoint": _ENDPOINT,
            "access_evaluations_endpoint": _ENDPOINT,
            "search_subject_endpoint": _ENDPOINT,
            "search_resource_endpoint": _ENDPOINT,
            "search_action_endpoint": _ENDPOINT,
            "capabilities": {"type": "array", "items": {"type": "string"}},
        },
    },
}
# the search requests' `action` is optional only for action search, where it is left out
del ENVELOPES["search-action-request"]["properties"]["action"]

_SCHEMAS = {REQUEST: _published("evaluation-request"), RESPONSE: _published("evaluation-response")}
_REGISTRY = Registry().with_resources(
    [(name, Resource.from_contents(schema)) for name, schema in _SCHEMAS.items()]
)
VALIDATORS = {
    name: Draft202012Validator({"$id": f"authzen-{name}", **schema}, registry=_REGISTRY)
    for name, schema in {**ENVELOPES, "evaluation-request": _SCHEMAS[REQUEST]}.items()
}
VALIDATORS["evaluation-response"] = Draft202012Validator(_SCHEMAS[RESPONSE], registry=_REGISTRY)


def checked(schema: str, document: Any) -> Any:
    """`document`, once it validates against the named schema (raises `ValidationError`)."""
    VALIDATORS[schema].validate(document)
    if schema == "evaluations-request" and document.get("evaluations"):
        defaults = {k: v for k, v in document.items() if k in ENTITIES}
        for item in document["evaluations"]:
            VALIDATORS["evaluation-request"].validate({**defaults, **item})
    return document
