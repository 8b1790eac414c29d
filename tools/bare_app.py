"""The baseline of the load test: a bare FastAPI endpoint that parses the same body as pdp.

    python tools/bare_app.py --port 8282

It is what a plain FastAPI endpoint looks like: a pydantic model of the same
request (strict, closed, bounded ids) validated by FastAPI, and a constant
decision of the same shape as the answer: no auth, no deciding, no log, no
metrics. The load test compares `pdp serve` against it.
"""

from __future__ import annotations

import argparse
import json
from typing import Annotated

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=256)]


class Context(BaseModel):
    """The context of a request: version 2's keys and types (docs/policy-format.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    consent: list[Id] = Field(default_factory=list, max_length=64)
    mfa: bool | None = None
    ticket: Id | None = None
    approver: Id | None = None
    relationship: Id | None = None
    records: Annotated[int, Field(ge=1)] | None = None
    time: Id | None = None
    customer: Id | None = None


class DecisionRequest(BaseModel):
    """The request of `POST /v1/decisions`, as a FastAPI developer would write it."""

    model_config = ConfigDict(extra="forbid", strict=True)
    role: Id | None = None
    user: Id | None = None
    info_class: Id
    purpose: Id
    action: Id
    context: Context | None = None


class DecisionResponse(BaseModel):
    """The answer's shape."""

    allowed: bool
    reasons: list[str]
    obligations: list[str]
    policy_version: str
    decision_id: str


app = FastAPI(title="bare baseline")

ANSWER = {
    "allowed": False,
    "reasons": ["default_deny"],
    "obligations": [],
    "policy_version": "sha256:0000000000000000",
    "decision_id": "0" * 32,
}
ANSWER_BYTES = json.dumps(ANSWER, separators=(",", ":")).encode()


@app.post("/v1/decisions", response_model=DecisionResponse)
async def decide(body: DecisionRequest) -> Response:
    """Parse the request and answer a constant, pre-encoded (the cheapest possible answer)."""
    return Response(ANSWER_BYTES, media_type="application/json")


def main() -> None:
    """Run the bare app on uvicorn with the same settings as `pdp serve`."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8282)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
