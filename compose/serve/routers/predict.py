"""`POST /v1/predict`: the merged results of `compose predict` for the posted rows, each naming its release.

The route reads the raw body and validates it with `PredictRequest`'s own (compiled, cached)
validator straight from the JSON bytes, instead of FastAPI's body parameter (the standard library's
`json.loads`, then a validation of the Python objects): the OpenAPI document still describes the
body as a `PredictRequest` (`BODY_SCHEMAS`, added by `create_app`). A plain body (an object of
`rows`, each a flat object of JSON scalars, and an optional well-formed `release`) is read by
orjson and checked by hand (`plain_body`); anything else, and every refusal, goes through the
validator, so a 422 says what FastAPI would. A few rows take the release's compiled one-row path
(`compose.runtime.one_row`) on the event loop (no pandas, no thread hop, no batch arrays), falling
back to the model's own row path when a row needs validation; a larger batch takes the columnar path
in a worker thread. The answer is encoded once, by orjson.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from compose.data.targets import prepare_inputs
from compose.errors import DataError
from compose.runtime.model import SMALL_BATCH
from compose.runtime.one_row import row_results
from compose.serve.errors import responses
from compose.serve.holder import Live
from compose.serve.messages import PredictRequest, PredictResponse
from compose.serve.metrics_routes import observe
from compose.serve.state import ServeState
from compose.typing import MergedResult

#: Request bodies that the document names but no route parameter declares (the route reads its body raw).
BODY_SCHEMAS: dict[str, Any] = {"PredictRequest": PredictRequest.model_json_schema(
    ref_template="#/components/schemas/{model}")}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PredictRequest"}}}}}

router = APIRouter(prefix="/v1", tags=["predict"], responses=responses(401, 404, 413, 422, 503))


_FIELDS = frozenset(PredictRequest.model_fields)
_CELLS = frozenset({str, int, float, bool, type(None)})
_RELEASE = re.compile(r"r[0-9]{4,}")  # a subset of ReleaseName's pattern (whose \d is any Unicode digit)
_EXACT = 2.0**63  # orjson reads a larger integer literal as a float, the validator as an int: leave it to the validator


def plain_body(body: bytes) -> tuple[list[dict[str, Any]], str | None] | None:
    """The rows and release of a body that `PredictRequest` accepts as it is, read by orjson; None for
    any other body (then `parse` decides, and words a refusal)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or "rows" not in data or not data.keys() <= _FIELDS:
        return None
    rows, release = data["rows"], data.get("release")
    if type(rows) is not list or not (release is None or (type(release) is str and _RELEASE.fullmatch(release))):
        return None
    for row in rows:
        if type(row) is not dict:
            return None
        for value in row.values():
            if type(value) not in _CELLS or (type(value) is float and not -_EXACT < value < _EXACT):
                return None
    return rows, release


def parse(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The rows and release of the request from its JSON bytes; a 422 in FastAPI's own terms (and so in the
    same words) otherwise."""
    plain = plain_body(body)
    if plain is not None:
        return plain
    try:
        request = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None
    return request.rows, request.release


def few_results(live: Live, rows: list[dict[str, Any]]) -> list[MergedResult]:
    """The merged results of a few rows: the release's compiled one-row path, else the model's (`results_of`)."""
    try:
        results = row_results(live.model, rows)
    except DataError:
        results = None  # the general path refuses the row in the request's words
    return results if results is not None else results_of(live, rows)


def results_of(live: Live, rows: list[dict[str, Any]]) -> list[MergedResult]:
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
async def predict(request: Request) -> Response:
    """Merged results for the rows, as `compose predict` writes them to JSON Lines; each names its release."""
    started = time.perf_counter()
    # The app's state as `deps.get_state` gives it, read here: FastAPI's solving of one dependency costs
    # about 10 us a request, a tenth of the row path's budget (benchmarks/README.md, "One-row HTTP").
    state: ServeState = request.app.state.compose
    rows, release = parse(await request.body())
    state.check_rows(len(rows))
    # a pinned release other than the live one may need loading: off the event loop
    live = state.live() if release is None else await run_in_threadpool(state.live, release)
    if len(rows) <= SMALL_BATCH:  # the row path: cheaper than a thread hop
        results = few_results(live, rows)
    else:
        results = await run_in_threadpool(results_of, live, rows)
    if state.capture is not None and rows:
        state.capture.add(rows, results)
    # counted once the answer is sent (on the event loop, not in a thread): the client does not wait for it
    return Response(orjson.dumps({"results": results}, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json",
                    background=BackgroundTask(_observe, state, results, time.perf_counter() - started))


async def _observe(state: ServeState, results: list[MergedResult], seconds: float) -> None:
    observe(state, results, seconds)
