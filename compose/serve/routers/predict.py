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

`RowShortcut`, the innermost middleware of the app, answers the commonest request, a plain body of a
few rows on the live release that the compiled row path takes as it is, without FastAPI's routing,
dependency solving, request and response objects (about half of the cost of such a request in a
server). It gives the bytes, status, headers and counts of the route (`tests/serve/test_fast_row.py`);
every other request, and any it cannot answer as it is, goes on to the route with its body.
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
from compose.serve.errors import ApiError, responses
from compose.serve.holder import Live
from compose.serve.messages import PredictRequest, PredictResponse
from compose.serve.metrics_routes import observe
from compose.serve.security import ASGIApp, Receive, Scope, Send, read_body, replay
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


def encode(results: list[MergedResult]) -> bytes:
    """The body of the answer: `{"results": [...]}` by orjson."""
    return orjson.dumps({"results": results}, option=orjson.OPT_SERIALIZE_NUMPY)


def plain_answer(state: ServeState, body: bytes) -> tuple[bytes, list[MergedResult]] | None:
    """The answer to a plain body of a few rows on the live release by its compiled row path (the body
    and the results), or None for any other request: the route then answers it, refusals worded."""
    plain = plain_body(body)
    if plain is None or plain[1] is not None or len(plain[0]) > min(SMALL_BATCH, state.max_rows):
        return None
    rows = plain[0]
    try:
        results = row_results(state.live().model, rows)
    except (ApiError, DataError):
        return None  # no release is live yet, or a row the general path refuses: the route says so
    if results is None:
        return None
    if state.capture is not None and rows:
        state.capture.add(rows, results)
    return encode(results), results


class RowShortcut:
    """ASGI middleware: `POST /v1/predict` answered by `plain_answer` when it can, else by the app."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != "/v1/predict":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        chunks, pending = await read_body(receive)
        if pending is not None:  # the client left: the app hears it as it would
            await self.app(scope, replay(chunks, pending, receive), send)
            return
        body = b"".join(chunks)
        answer = plain_answer(self.state, body)
        if answer is None:
            await self.app(scope, replay([body], None, receive), send)
            return
        payload, results = answer
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(payload)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})
        observe(self.state, results, time.perf_counter() - started)  # as the route does, once the answer is sent


def _route_path(scope: Scope) -> str:
    """The path the app's router matches (without the `root_path` of an app mounted under a prefix)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


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
    return Response(encode(results), media_type="application/json",
                    background=BackgroundTask(_observe, state, results, time.perf_counter() - started))


async def _observe(state: ServeState, results: list[MergedResult], seconds: float) -> None:
    observe(state, results, seconds)
