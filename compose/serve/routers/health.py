"""`/healthz` and `/readyz`: the process answers; a release is live."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from compose.serve.deps import StateDep
from compose.serve.messages import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process answers (it may not have a release yet: see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
async def readyz(state: StateDep) -> JSONResponse:
    """200 once a release is live, 503 until then."""
    state.ensure_started()
    live = state.holder.live
    if live is None:
        return JSONResponse({"status": "not ready", "release": None,
                             "reason": state.holder.last_error or "loading the live release"}, status_code=503)
    return JSONResponse({"status": "ready", "release": live.release, "reason": None})
