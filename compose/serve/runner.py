"""`serve`: run an app of `create_app` with uvicorn, in one process, after the loopback check."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from compose.serve.security import check_bind

log = logging.getLogger("compose.serve")


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve `app` (from `create_app`) on http://host:port until SIGINT or SIGTERM.

    Refuses a non-loopback `host` when the app has no token. One process: the live release, the
    watcher and the learning scheduler live in it (learning jobs run in a worker process of their own).
    """
    state = app.state.compose
    check_bind(host, state.token)
    log.info("compose serve: %s on http://%s:%d (%s)", state.store.path, host, port,
             "read-only: no token" if state.token is None else "mutating routes need the bearer token")
    uvicorn.Server(uvicorn_config(app, host=host, port=port, log_level=log_level)).run()


def uvicorn_config(app: FastAPI, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn settings of `compose serve` (one worker, no access log), shared with the benchmark."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                          timeout_graceful_shutdown=10, server_header=False)
