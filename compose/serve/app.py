"""`create_app`: the ASGI application of `compose serve`, for uvicorn or for embedding in another app.

The routes live in one router per concern (`compose.serve.routers`: health, predict, model,
samples, jobs); each router declares its prefix, tags, guard (`dependencies=[Authorized]`) and the
error answers it documents, and the app includes it with one line. The routes share a `ServeState`
(`compose.serve.state`) through the `StateDep` dependency. Predictions are the merged results of
`compose predict`, each naming the release that answered; a request reads the live release once
(`ReleaseHolder.live`) and finishes on it even if a new release is swapped in meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI

from compose._version import __version__
from compose.serve.capture import Capture
from compose.serve.errors import install_handlers
from compose.serve.holder import ReleaseHolder
from compose.serve.labelstudio import router as labelstudio_router
from compose.serve.learning import Learner
from compose.serve.metrics_routes import router as metrics_router
from compose.serve.routers.health import router as health_router
from compose.serve.routers.jobs import router as jobs_router
from compose.serve.routers.model import router as model_router
from compose.serve.routers.predict import BODY_SCHEMAS, RowShortcut
from compose.serve.routers.predict import router as predict_router
from compose.serve.routers.samples import router as samples_router
from compose.serve.security import BodyLimit, ImageScope, check_image_root
from compose.serve.state import Limits, ServeState
from compose.store.store import ModelStore

__all__ = ["Limits", "create_app"]


def create_app(  # noqa: PLR0913 - the keyword-only options of `compose serve`, one per flag
        store: str | Path | ModelStore, model: str | None = None, *, token: str | None = None, learn: bool = True,
        capture: bool = False, limits: Limits | None = None, poll_interval: float = 0.5, debounce: float = 1.0,
        image_root: str | Path | None = None) -> FastAPI:
    """The ASGI app serving the live release of a store's model (`model`: the model of a store holding several).

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
    install_handlers(app)
    app.add_middleware(RowShortcut, state=state)  # innermost: under the body limit and the image scope
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(ImageScope, root=state.image_root)
    app.include_router(predict_router)  # first: the routes are matched in order, and this one is the hot one
    app.include_router(health_router)
    app.include_router(model_router)
    app.include_router(samples_router)
    app.include_router(jobs_router)
    app.include_router(metrics_router)
    app.include_router(labelstudio_router)  # Label Studio's ML backend protocol (compose.serve.labelstudio)
    _document_bodies(app, BODY_SCHEMAS)
    if capture:
        state.capture = Capture(state.live, state.samples, state.store.samples_home, state.image_root)
    return app


def _document_bodies(app: FastAPI, schemas: dict[str, Any]) -> None:
    """Add to the OpenAPI document the body models of routes that read their body raw."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generate().setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
