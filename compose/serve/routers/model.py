"""`GET /v1/model` (the live release described) and `POST /v1/reload` (check CURRENT now)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from compose.serve.deps import Authorized, StateDep
from compose.serve.errors import responses
from compose.serve.messages import ModelInfo, ReloadResponse
from compose.serve.model_info import model_info

router = APIRouter(prefix="/v1", tags=["model"], responses=responses(401, 404, 413, 422, 503))


@router.get("/model", response_model=ModelInfo)
def get_model(state: StateDep) -> dict[str, Any]:
    """The live release: its groups with their versions, holdout metrics and decisions."""
    return model_info(state.live(), state.store)


@router.post("/reload", response_model=ReloadResponse, dependencies=[Authorized])
def reload(state: StateDep) -> dict[str, Any]:
    """Check CURRENT now (the watcher does it every `poll_interval` seconds) and swap if it changed."""
    state.ensure_started()
    holder = state.holder
    changed = holder.refresh()
    return {"release": holder.live.release if holder.live else None, "changed": changed}
