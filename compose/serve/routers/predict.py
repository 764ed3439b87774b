"""`POST /v1/predict`: the merged results of `compose predict` for the posted rows, each naming its release.

The route reads the raw body and validates it with `PredictRequest`'s own (compiled, cached)
validator straight from the JSON bytes, instead of FastAPI's body parameter (the standard library's
`json.loads`, then a validation of the Python objects): the OpenAPI document still describes the
body as a `PredictRequest` (`BODY_SCHEMAS`, added by `create_app`). A few rows take the model's row
path on the event loop (no pandas, no thread hop), a larger batch the columnar path in a worker
thread; the answer is encoded once, by orjson.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from compose.data.targets import prepare_inputs
from compose.errors import DataError
from compose.runtime.model import SMALL_BATCH
from compose.serve.deps import StateDep
from compose.serve.errors import responses
from compose.serve.holder import Live
from compose.serve.messages import PredictRequest, PredictResponse
from compose.serve.metrics_routes import observe

#: Request bodies that the document names but no route parameter declares (the route reads its body raw).
BODY_SCHEMAS: dict[str, Any] = {"PredictRequest": PredictRequest.model_json_schema(
    ref_template="#/components/schemas/{model}")}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PredictRequest"}}}}}

router = APIRouter(prefix="/v1", tags=["predict"], responses=responses(401, 404, 413, 422, 503))


def parse(body: bytes) -> PredictRequest:
    """The request from its JSON bytes; a 422 in FastAPI's own terms (and so in the same words) otherwise."""
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None


def results_of(live: Live, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The merged results of `rows` (`predict_one` for a single row); a refused row is said in the
    request's words (the rows, counted from 1), by the very rules that refused it."""
    try:
        if len(rows) == 1:
            return [live.model.predict_one(rows[0])]
        return live.model.predict(rows).to_list()
    except DataError:
        import pandas as pd

        frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
        frame.attrs["source"] = "the request's rows"
        prepare_inputs(frame, live.model.schema)
        raise


@router.post("/predict", response_model=PredictResponse, openapi_extra=_BODY)
async def predict(request: Request, state: StateDep) -> Response:
    """Merged results for the rows, as `compose predict` writes them to JSON Lines; each names its release."""
    started = time.perf_counter()
    body = parse(await request.body())
    rows: list[dict[str, Any]] = body.rows
    state.check_rows(len(rows))
    # a pinned release other than the live one may need loading: off the event loop
    live = state.live() if body.release is None else await run_in_threadpool(state.live, body.release)
    if len(rows) <= SMALL_BATCH:  # the row path: cheaper than a thread hop
        results = results_of(live, rows)
    else:
        results = await run_in_threadpool(results_of, live, rows)
    if state.capture is not None and rows:
        state.capture.add(rows, results)
    observe(state, results, time.perf_counter() - started)
    return Response(orjson.dumps({"results": results}, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")
