"""Every error the API answers with: one JSON shape, one sentence, never a stack trace.

`ApiError` is raised by the routes; the handlers map compose's own errors (a `DataError` is a 422
that names the row, the column and the value, as the CLI does), FastAPI's request validation (also
422, in the same words) and anything unexpected (500 with an id to find it in the server log).
`RESPONSES` is the table of error answers that the routers document (`responses(401, 422, ...)`).
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
from compose.serve.messages import ErrorBody

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


#: The error answers of the API, written once: every router documents the ones its routes give.
RESPONSES: dict[int, str] = {
    401: "no or a wrong bearer token",
    403: "the server was started with --no-learn",
    404: "unknown release, sample, group or job",
    409: "the sample exists with another annotation",
    413: "body or row count over the limit",
    422: "a row, column or value that the schema refuses",
    503: "no release is live yet",
}


def responses(*codes: int, described: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a router: the error answers `codes`, each an `ErrorBody`
    (`described`: a router's own wording of some of them)."""
    return {code: {"model": ErrorBody, "description": (described or {}).get(code, RESPONSES[code])} for code in codes}


#: compose's own errors as answers: (exception, HTTP status, code, headers), the first match wins.
_MAPPED: tuple[tuple[type[ComposeError], int, str, dict[str, str] | None], ...] = (
    (SampleConflictError, 409, "conflict", None),
    (DataError, 422, "invalid_input", None),
    (ArtifactNotFoundError, 404, "not_found", None),
    (StoreLockedError, 503, "busy", {"Retry-After": "5"}),
    (IntegrityError, 503, "store_integrity", None),
    (ComposeError, 409, "refused", None),
)


async def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(body(exc.error, exc.detail, exc.id), status_code=exc.status, headers=exc.headers)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(body("invalid_request", describe_validation(exc.errors())), status_code=422)


async def _compose(_: Request, exc: Exception) -> JSONResponse:
    for kind, status, code, headers in _MAPPED:
        if isinstance(exc, kind):
            sample = exc.sample_id or None if isinstance(exc, SampleConflictError) else None
            return JSONResponse(body(code, str(exc), sample), status_code=status, headers=headers)
    raise exc  # not a ComposeError: never registered for one


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(body(code, detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("compose serve: internal error %s on %s %s", ref, request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return JSONResponse(body("internal", f"internal error {ref}: this is a bug in compose, not in your request; "
                                         "the server log has the details under this id"), status_code=500)


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`: every error leaves as an `ErrorBody`."""
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(RequestValidationError, _invalid)
    for kind, *_ in _MAPPED:
        app.add_exception_handler(kind, _compose)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)
