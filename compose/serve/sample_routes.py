"""The learning routes: samples and their annotations (`/v1/samples`), and retraining jobs (`/v1/jobs`).

Every samples route needs the bearer token (they change or expose the stored data); the jobs are
readable by anyone who can predict. A write is committed to the sample store before the answer,
then the groups it touched are handed to the learner (`compose.serve.learning`), which retrains
them in the background. With `--no-learn` the writes answer 403.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, FastAPI, Query
from fastapi.responses import Response

from compose.data.images import request_images
from compose.data.io import as_frame
from compose.errors import ComposeError, DataError
from compose.serve.errors import ApiError
from compose.serve.learning import Job
from compose.serve.messages import (
    AnnotationRequest,
    AnnotationResponse,
    ErrorBody,
    JobOut,
    JobsPage,
    SampleOut,
    SamplesPage,
    SamplesRequest,
    SamplesResponse,
)
from compose.store.sample_records import Cell, Sample, truths
from compose.store.samples import SampleStore

MAX_SCANNED = 20_000  # samples a review list (disagrees=true) reads per request, at most
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        401: "no or a wrong bearer token", 403: "the server was started with --no-learn",
        404: "unknown sample, group or job", 409: "the sample exists with another annotation",
        413: "too many rows", 422: "a row, column or value that the schema refuses",
        503: "no release is live yet"}.items()}


def _json(obj: Any, status: int = 200) -> Response:
    import orjson

    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _frame(state: Any, rows: list[dict[str, Any]]) -> pd.DataFrame:
    schema = state.live().model.schema
    known = {"id", *schema.inputs, *schema.groups}
    for r, row in enumerate(rows):
        unknown = sorted(set(row) - known)
        if unknown:
            raise DataError(f"the request's rows, row {r + 1}: unknown column{'s' * (len(unknown) > 1)} {unknown}; "
                            f"a sample has the inputs {list(schema.inputs)}, the groups {list(schema.groups)} "
                            "and optionally an id")
    frame = as_frame([{k: _cell(v) for k, v in row.items()} for row in rows]) if rows else pd.DataFrame()
    frame.attrs["source"] = "the request's rows"
    return frame


def _disagrees(annotation: Cell, result: dict[str, Any], labels: list[str]) -> bool:
    """Whether the live release's answer for a group differs from a sample's annotation of it."""
    if "labels" in result and "label" not in result:  # multilabel
        chosen = set(result.get("labels") or [])
        return any((label in chosen) != present for label, present in truths(annotation, labels).items())
    return result.get("label") != annotation


class Capture:
    """`--capture`: predicted rows are stored as unannotated samples by a background thread."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.queue: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=1000)
        self.thread = threading.Thread(target=self._run, name="compose-serve-capture", daemon=True)
        self.thread.start()

    def add(self, rows: list[dict[str, Any]]) -> None:
        with contextlib.suppress(queue.Full):  # never slow a prediction down for the labelling queue
            self.queue.put_nowait(rows)

    def _run(self) -> None:
        while True:
            rows = self.queue.get()
            try:
                schema = self.state.live().model.schema
                frame = as_frame([{k: v for k, v in r.items() if k in schema.inputs} for r in rows])
                with request_images(self.state.image_root):  # this thread, too, reads no path a request names
                    self.state.samples().upsert(frame, schema, source="capture")
            except (ComposeError, ApiError) as exc:
                self.state.log.warning("compose serve: captured rows were not stored: %s", exc)


def install(app: FastAPI, state: Any, authorized: Callable[..., None]) -> None:
    """Add the samples and jobs routes to `app`; `state` is the app's ServeState."""
    auth = [Depends(authorized)]

    def learning() -> None:
        if state.learner is None:
            raise ApiError(403, "read_only", "this server was started with --no-learn: it stores no samples "
                                             "and retrains nothing; restart it without --no-learn")

    def store() -> SampleStore:
        result: SampleStore = state.samples()
        return result

    def known_group(group: str) -> None:
        groups = list(state.live().model.schema.groups)
        if group not in groups:
            raise ApiError(404, "not_found", f"unknown group {group!r}; the model has {groups}")

    def scheduled(groups: list[str]) -> list[str]:
        return state.learner.touch(groups) if state.learner is not None and groups else []

    @app.post("/v1/samples", response_model=SamplesResponse, tags=["samples"], responses=_ERRORS,
              dependencies=auth)
    def add_samples(request: SamplesRequest) -> Response:
        """Store samples and their annotations; a sample stored with another annotation is a 409 naming it."""
        learning()
        state.check_rows(len(request.rows))
        schema = state.live().model.schema
        report = store().upsert(_frame(state, request.rows), schema, source="api", on_conflict="error")
        return _json({"ids": report.ids, "revision": report.revision, "new_samples": report.new_samples,
                      "known_samples": report.known_samples, "added": {g: n for g, n in report.added.items() if n},
                      "scheduled": scheduled(report.groups_changed)})

    @app.get("/v1/samples", response_model=SamplesPage, tags=["samples"], responses=_ERRORS, dependencies=auth)
    def list_samples(group: str | None = None, annotated: bool | None = None,
                     disagrees: Annotated[bool, Query(description="only samples whose annotation of `group` the "
                                                                  "live release answers otherwise")] = False,
                     split: Annotated[str | None, Query(pattern="^(train|holdout)$")] = None,
                     source: Annotated[str | None, Query(description="e.g. api, capture, or a file name")] = None,
                     after: Annotated[int | None, Query(ge=0)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
        """A page of samples, by group and whether it is annotated for it; `disagrees=true`: a review list."""
        if disagrees and group is None:
            raise DataError("disagrees=true needs group=G: the group whose predictions are compared")
        if group is not None:
            known_group(group)
        samples = store()
        if not disagrees:
            page = samples.samples(group=group, annotated=annotated, split=split, source=source, after=after,
                                   limit=limit)
            return _json({"samples": [s.to_dict() for s in page.samples], "next_after": page.next_after})
        assert group is not None
        return _json(_review(state, samples, group, split, after, limit))

    @app.get("/v1/samples/{sample_id}", response_model=SampleOut, tags=["samples"], responses=_ERRORS,
             dependencies=auth)
    def get_sample(sample_id: str) -> Response:
        return _json(store().get(sample_id).to_dict())

    @app.put("/v1/samples/{sample_id}/annotations/{group}", response_model=AnnotationResponse, tags=["samples"],
             responses=_ERRORS, dependencies=auth)
    def put_annotation(sample_id: str, group: str, request: AnnotationRequest) -> Response:
        """Set (or change) a sample's annotation of a group; for a multilabel group per-label truth changes
        only the labels it names."""
        learning()
        known_group(group)
        schema = state.live().model.schema
        samples = store()
        revision = samples.annotate(sample_id, group, request.value, schema, source="api")
        current = samples.get(sample_id).annotations.get(group)
        return _json({"id": sample_id, "group": group, "annotation": current, "revision": revision,
                      "scheduled": scheduled([group] if revision is not None else [])})

    @app.delete("/v1/samples/{sample_id}/annotations/{group}", response_model=AnnotationResponse, tags=["samples"],
                responses=_ERRORS, dependencies=auth)
    def delete_annotation(sample_id: str, group: str, label: str | None = None) -> Response:
        """Remove a sample's annotation of a group (or make one label of a multilabel group unknown)."""
        learning()
        known_group(group)
        samples = store()
        samples.get(sample_id)  # 404 for an unknown sample, even when it has nothing to remove
        revision = samples.remove_annotation(sample_id, group, label=label, source="api")
        current = samples.get(sample_id).annotations.get(group)
        return _json({"id": sample_id, "group": group, "annotation": current, "revision": revision,
                      "scheduled": scheduled([group] if revision is not None else [])})

    _job_routes(app, state)


def _job_routes(app: FastAPI, state: Any) -> None:
    @app.get("/v1/jobs", response_model=JobsPage, tags=["jobs"], responses=_ERRORS)
    def list_jobs(group: str | None = None, status: str | None = None) -> dict[str, Any]:
        """Retraining jobs, newest first, with their gate verdicts."""
        if state.learner is None:
            return {"jobs": [], "pending": []}
        return {"jobs": [j.to_dict() for j in state.learner.all_jobs(group, status)],
                "pending": state.learner.pending()}

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, tags=["jobs"], responses=_ERRORS)
    def get_job(job_id: str) -> dict[str, Any]:
        job: Job | None = state.learner.job(job_id) if state.learner is not None else None
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id!r}; list them with GET /v1/jobs")
        return job.to_dict()


def _review(state: Any, samples: SampleStore, group: str, split: str | None, after: int | None,
            limit: int) -> dict[str, Any]:
    """Annotated samples of `group` that the live release answers otherwise, with its answer."""
    live = state.live()
    labels = live.model.schema.labels_of(group)
    found: list[dict[str, Any]] = []
    scanned, cursor = 0, after
    while len(found) < limit and scanned < MAX_SCANNED:
        page = samples.samples(group=group, annotated=True, split=split, after=cursor,
                               limit=min(200, limit - len(found)))
        if page.samples:
            results = live.model.predict([s.inputs for s in page.samples])
            found.extend(_with_prediction(s, r["groups"].get(group, {})) for s, r in zip(page.samples, results,
                                                                                       strict=True)
                         if _disagrees(s.annotations[group], r["groups"].get(group, {}), labels))
        scanned += len(page.samples)
        cursor = page.next_after
        if cursor is None:
            break
    return {"samples": found, "next_after": cursor}


def _with_prediction(sample: Sample, result: dict[str, Any]) -> dict[str, Any]:
    return {**sample.to_dict(), "prediction": result}
