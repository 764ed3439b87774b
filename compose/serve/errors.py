"""Every error the API answers with: one JSON shape, one sentence, never a stack trace.

`ApiError` is raised by the routes; the handlers map compose's own errors (a `DataError` is a 422
that names the row, the column and the value, as the CLI does), FastAPI's request validation (also
422, in the same words) and anything unexpected (500 with an id to find it in the server log).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from compose.errors import (
    ArtifactNotFoundError,
    ComposeError,
    DataError,
    IntegrityError,
    SampleConflictError,
    StoreLockedError,
)

log = logging.getLogger("compose.serve")
_SHOWN = 5


class ApiError(Exception):
    """An answer other than 2xx: HTTP status, a short code, one sentence, and optionally a sample id."""

    def __init__(self, status: int, error: str, detail: str, *, id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.id, self.headers = status, error, detail, id, headers


def body(error: str, detail: str, id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"error": error, "detail": detail}
    if id is not None:
        out["id"] = id
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_validation(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors in compose's words: `row 3, column 'x': ...` (rows count from 1)."""
    parts: list[str] = []
    seen: set[tuple[Any, ...]] = set()
    for e in errors:
        loc = tuple(e.get("loc", ()))
        kind = e.get("type", "")
        if kind == "json_invalid":
            return f"the request body is not valid JSON ({e.get('ctx', {}).get('error', e.get('msg'))})"
        where = loc[1:] if loc[:1] == ("body",) else loc
        if len(where) >= 3 and where[0] == "rows" and isinstance(where[1], int):
            key = where[:3]
            if key in seen:
                continue  # one message per cell, not one per member of the value's union
            seen.add(key)
            parts.append(f"row {where[1] + 1}, column {where[2]!r}: {_short(e.get('input'))} is not text, a "
                         "number, a boolean or null")
        elif len(where) == 2 and where[0] == "rows" and isinstance(where[1], int):
            parts.append(f"row {where[1] + 1}: must be an object of input name to value, got {_short(e.get('input'))}")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field {'.'.join(map(str, where))!r}")
        elif kind == "missing":
            parts.append(f"missing field {'.'.join(map(str, where))!r}")
        else:
            parts.append(f"{'.'.join(map(str, where)) or 'the body'}: {e.get('msg')}")
    more = f" (and {len(parts) - _SHOWN} more)" if len(parts) > _SHOWN else ""
    return "; ".join(parts[:_SHOWN]) + more if parts else "the request is not valid"


def install(app: FastAPI) -> None:
    """Register the handlers on `app`: every error leaves as an `ErrorBody`."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.error, exc.detail, exc.id), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body("invalid_request", describe_validation(exc.errors())), status_code=422)

    @app.exception_handler(SampleConflictError)
    async def _conflict(_: Request, exc: SampleConflictError) -> JSONResponse:
        return JSONResponse(body("conflict", str(exc), exc.sample_id or None), status_code=409)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(body("invalid_input", str(exc)), status_code=422)

    @app.exception_handler(ArtifactNotFoundError)
    async def _missing(_: Request, exc: ArtifactNotFoundError) -> JSONResponse:
        return JSONResponse(body("not_found", str(exc)), status_code=404)

    @app.exception_handler(StoreLockedError)
    async def _locked(_: Request, exc: StoreLockedError) -> JSONResponse:
        return JSONResponse(body("busy", str(exc)), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(IntegrityError)
    async def _corrupt(_: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse(body("store_integrity", str(exc)), status_code=503)

    @app.exception_handler(ComposeError)
    async def _compose(_: Request, exc: ComposeError) -> JSONResponse:
        return JSONResponse(body("refused", str(exc)), status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(body(code, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.error("compose serve: internal error %s on %s %s", ref, request.method, request.url.path,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return JSONResponse(body("internal", f"internal error {ref}: this is a bug in compose, not in your request; "
                                             "the server log has the details under this id"), status_code=500)
