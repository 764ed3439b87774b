"""`/v1/jobs`: the retraining jobs of the learner, newest first, with their gate verdicts (readable by
anyone who can predict)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from compose.serve.deps import StateDep
from compose.serve.errors import ApiError, responses
from compose.serve.messages import Job, JobsPage

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=responses(401, 403, 404, 409, 413, 422, 503))


@router.get("", response_model=JobsPage)
def list_jobs(state: StateDep, group: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Retraining jobs, newest first, with their gate verdicts."""
    if state.learner is None:
        return {"jobs": [], "pending": []}
    return {"jobs": state.learner.all_jobs(group, status), "pending": state.learner.pending()}


@router.get("/{job_id}", response_model=Job)
def get_job(job_id: str, state: StateDep) -> Job:
    job = state.learner.job(job_id) if state.learner is not None else None
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id!r}; list them with GET /v1/jobs")
    return job
