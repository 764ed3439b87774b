"""`create_app`: the ASGI application of `compose serve`, for uvicorn or for embedding in another app.

Routes: `POST /v1/predict`, `GET /v1/model`, `POST /v1/reload`, `/healthz`, `/readyz` (and, with a
sample store, the learning routes of `compose.serve.learning`). Predictions are the merged results
of `compose predict`, each naming the release that answered; a request reads the live release once
(`ReleaseHolder.live`) and finishes on it even if a new release is swapped in meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
from fastapi import Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from compose._version import __version__
from compose.data.targets import prepare_inputs
from compose.errors import DataError
from compose.runtime.model import SMALL_BATCH
from compose.serve import errors, sample_routes
from compose.serve.errors import ApiError
from compose.serve.holder import Live, ReleaseHolder
from compose.serve.learning import Learner
from compose.serve.messages import ErrorBody, Health, ModelInfo, PredictRequest, PredictResponse, Ready, ReloadResponse
from compose.serve.model_info import model_info
from compose.serve.sample_routes import Capture
from compose.serve.security import TOKEN_ENV, BodyLimit, ImageScope, check_image_root, token_matches
from compose.store.samples import SampleStore
from compose.store.store import ModelStore

log = logging.getLogger("compose.serve")
MAX_ROWS = 1000
MAX_BODY_BYTES = 4 * 2**20

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        401: "no or a wrong bearer token", 404: "unknown release", 413: "body or row count over the limit",
        422: "a row, column or value that the schema refuses", 503: "no release is live yet"}.items()}


@dataclass(frozen=True)
class Limits:
    """Rows per request and bytes per request body; over either the answer is 413."""

    max_rows: int = MAX_ROWS
    max_body_bytes: int = MAX_BODY_BYTES


class ServeState:
    """What the routes share: the store, the live release, the token, the limits, the learner."""

    def __init__(self, store: ModelStore, holder: ReleaseHolder, token: str | None, limits: Limits,
                 learner: Learner | None) -> None:
        self.store, self.holder, self.token, self.learner = store, holder, token, learner
        self.max_rows = limits.max_rows
        self.capture: Capture | None = None
        self.image_root: Path | None = None  # where requests may name images by path (--image-root)
        self.log = log
        self._samples: SampleStore | None = None
        self._samples_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = False

    def samples(self) -> SampleStore:
        """The model's sample store, opened (and created) on first use with the live release's schema."""
        with self._samples_lock:
            if self._samples is None:
                live = self.holder.live  # not self.live(): the learner opens the samples while it starts
                if live is None:
                    raise ApiError(503, "not_ready", f"no release of {self.store.path} is live yet",
                                   headers={"Retry-After": "1"})
                self._samples = SampleStore.open(self.store.path, schema=live.model.schema, create=True)
            return self._samples

    def start(self) -> None:
        """Load the live release, start the watcher and the learner (which resumes the retrains that a
        stopped or killed server left waiting). Once; later calls do nothing."""
        with self._start_lock:
            if self._started:
                return
            self.holder.start()
            if self.learner is not None:
                self.learner.start()
            self._started = True

    def ensure_started(self) -> None:
        """Start on first use, for an app mounted inside another one (whose lifespan does not run it)."""
        if not self._started:
            self.start()

    def stop(self) -> None:
        with self._start_lock:
            if self.learner is not None:
                self.learner.stop()
            self.holder.stop()
            self.close()
            self._started = False

    def close(self) -> None:
        with self._samples_lock:
            if self._samples is not None:
                self._samples.close()
                self._samples = None

    def live(self, release: str | None = None) -> Live:
        self.ensure_started()
        live = self.holder.model_for(release)
        if live is None:
            raise ApiError(503, "not_ready", self.holder.last_error or f"no release of {self.store.path} is live yet",
                           headers={"Retry-After": "1"})
        return live

    def check_rows(self, n: int) -> None:
        if n > self.max_rows:
            raise ApiError(413, "too_many_rows", f"{n} rows in one request; the limit is {self.max_rows}: split "
                                                 "them into several requests (or start the server with a larger "
                                                 "--max-rows)")


BEARER = HTTPBearer(auto_error=False, description=f"the server's --token-file or ${TOKEN_ENV}")


def authorized(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
               ) -> None:
    """The dependency of every mutating route: the server's bearer token, compared in constant time."""
    state: ServeState = request.app.state.compose
    if state.token is None:
        raise ApiError(401, "read_only", "this server was started without a token, so it changes nothing; "
                                         f"restart it with --token-file FILE or ${TOKEN_ENV}",
                       headers={"WWW-Authenticate": "Bearer"})
    given = f"Bearer {credentials.credentials}" if credentials is not None else None
    if not token_matches(state.token, given):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token; send the header "
                                            "`Authorization: Bearer <token>` with the server's token",
                       headers={"WWW-Authenticate": "Bearer"})


def _dumps(obj: Any) -> bytes:
    """The JSON of `compose predict`'s lines (the same values; compact, UTF-8), 10x faster than json.dumps."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def _predict(live: Live, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        return live.model.predict(rows).to_list()
    except DataError:
        # Say it in the request's words (the rows, counted from 1), by the very rules that refused it.
        import pandas as pd

        frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
        frame.attrs["source"] = "the request's rows"
        prepare_inputs(frame, live.model.schema)
        raise


def create_app(  # noqa: PLR0913 - the keyword-only options of `compose serve`, one per flag
        store: str | Path | ModelStore, model: str | None = None, *, token: str | None = None, learn: bool = True,
        capture: bool = False, limits: Limits | None = None, poll_interval: float = 0.5, debounce: float = 1.0,
        image_root: str | Path | None = None) -> FastAPI:
    """The ASGI app serving the live release of a store's model.

    `token`: the bearer token of the mutating routes (None: the server changes nothing). `learn`:
    accept samples and annotations, and retrain the groups they touch in a worker process
    (`debounce` seconds after the last change); `capture`: store every predicted row as an
    unannotated sample. `poll_interval`: seconds between checks of the store's CURRENT file.
    `image_root`: the folder under which a request may name an image by path (None: bytes only).
    """
    s = store if isinstance(store, ModelStore) else ModelStore.open(store, model, create=model is not None)
    limits = limits or Limits()
    holder = ReleaseHolder(s, poll_interval=poll_interval)
    state = ServeState(s, holder, token, limits, None)
    state.image_root = check_image_root(image_root)
    if learn:
        state.learner = Learner(holder, state.samples, debounce=debounce)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(state.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(state.stop)

    app = FastAPI(title="compose", version=__version__, lifespan=lifespan,
                  description="Predictions of a compose model over HTTP: merged results of separated label groups.")
    app.state.compose = state
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(ImageScope, root=state.image_root)
    _core_routes(app, state)
    sample_routes.install(app, state, authorized)
    if capture:
        state.capture = Capture(state)
    return app


def _core_routes(app: FastAPI, state: ServeState) -> None:
    holder = state.holder

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process answers (it may not have a release yet: see /readyz)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, tags=["health"], responses={503: {"model": Ready}})
    async def readyz() -> JSONResponse:
        """200 once a release is live, 503 until then."""
        state.ensure_started()
        live = holder.live
        if live is None:
            return JSONResponse({"status": "not ready", "release": None,
                                 "reason": holder.last_error or "loading the live release"}, status_code=503)
        return JSONResponse({"status": "ready", "release": live.release, "reason": None})

    @app.post("/v1/predict", response_model=PredictResponse, tags=["predict"], responses=_ERRORS)
    async def predict(request: PredictRequest) -> Response:
        """Merged results for the rows, as `compose predict` writes them to JSON Lines; each names its release."""
        state.check_rows(len(request.rows))
        # a pinned release other than the live one may need loading: off the event loop
        live = state.live() if request.release is None else await run_in_threadpool(state.live, request.release)
        if len(request.rows) <= SMALL_BATCH:  # the row path: under a millisecond, cheaper than a thread hop
            results = _predict(live, request.rows)
        else:
            results = await run_in_threadpool(_predict, live, request.rows)
        if state.capture is not None and request.rows:
            state.capture.add(request.rows)
        return Response(_dumps({"results": results}), media_type="application/json")

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"], responses=_ERRORS)
    def get_model() -> dict[str, Any]:
        """The live release: its groups with their versions, holdout metrics and decisions."""
        return model_info(state.live(), state.store)

    @app.post("/v1/reload", response_model=ReloadResponse, tags=["model"], responses=_ERRORS,
              dependencies=[Depends(authorized)])
    def reload() -> dict[str, Any]:
        """Check CURRENT now (the watcher does it every `poll_interval` seconds) and swap if it changed."""
        state.ensure_started()
        changed = holder.refresh()
        return {"release": holder.live.release if holder.live else None, "changed": changed}
