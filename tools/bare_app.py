"""The baseline of the load test: a bare FastAPI endpoint that parses the same body as pdp.

    python tools/bare_app.py --port 8282

It validates `DecisionRequestV1` exactly like `POST /v1/decisions` and returns
a constant decision of the same shape: no auth, no deciding, no log, no
metrics. The load test compares `pdp serve` against it.
"""

from __future__ import annotations

import argparse
import json

from fastapi import FastAPI, Response

from pdp.service.schemas import DecisionRequestV1, DecisionResponseV1

app = FastAPI(title="bare baseline")

ANSWER = {
    "allowed": False,
    "reasons": ["default_deny"],
    "obligations": [],
    "policy_version": "sha256:0000000000000000",
    "decision_id": "0" * 32,
}
ANSWER_BYTES = json.dumps(ANSWER, separators=(",", ":")).encode()


@app.post("/v1/decisions", response_model=DecisionResponseV1)
async def decide(body: DecisionRequestV1) -> Response:
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
