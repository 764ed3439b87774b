"""`/v1/samples`: samples and their annotations, each route behind the bearer token (they change or
expose the stored data).

A write is committed to the sample store before the answer, then the groups it touched are handed
to the learner (`compose.serve.learning`), which retrains them in the background. With `--no-learn`
the writes answer 403.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response

from compose.data.io import as_frame
from compose.serve.deps import Authorized, FilterDep, GroupDep, Learning, SamplesDep, StateDep
from compose.serve.errors import responses
from compose.serve.messages import (
    AnnotationRequest,
    AnnotationResponse,
    SampleOut,
    SamplesPage,
    SamplesRequest,
    SamplesResponse,
)
from compose.serve.state import ServeState
from compose.store.sample_records import Cell, Sample, truths
from compose.store.samples import SampleStore

MAX_SCANNED = 20_000  # samples a review list (disagrees=true) reads per request, at most

router = APIRouter(prefix="/v1/samples", tags=["samples"], dependencies=[Authorized],
                   responses=responses(401, 403, 404, 409, 413, 422, 503))


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def scheduled(state: ServeState, groups: list[str]) -> list[str]:
    """Hand the groups a write changed to the learner; the groups scheduled."""
    return state.learner.touch(groups) if state.learner is not None and groups else []


def _frame(state: ServeState, rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """The posted rows as a table of the columns the schema declares (and `id`), and a note naming
    the columns it does not declare, which are ignored (as `compose train` and `/v1/predict` do)."""
    schema = state.live().model.schema
    known = {"id", *schema.inputs, *schema.groups, *([schema.training.group_by] if schema.training.group_by else [])}
    ignored = sorted({k for row in rows for k in row} - known)
    frame = as_frame([{k: _cell(v) for k, v in row.items() if k in known} for row in rows]) if rows \
        else pd.DataFrame()
    frame.attrs["source"] = "the request's rows"
    notes = [f"column{'s' * (len(ignored) > 1)} {ignored} {'are' if len(ignored) > 1 else 'is'} not declared by "
             f"the schema and {'were' if len(ignored) > 1 else 'was'} ignored; a sample holds the inputs "
             f"{list(schema.inputs)}, the groups {list(schema.groups)} and optionally an id"] if ignored else []
    return frame, notes


@router.post("", response_model=SamplesResponse, dependencies=[Learning])
def add_samples(request: SamplesRequest, state: StateDep, store: SamplesDep) -> Response:
    """Store samples and their annotations. A row without an `id` is a new sample (the answer names its
    id); a row with one is that sample, and another label for a stored annotation is a 409 naming it
    (change annotations with the annotation routes). Undeclared columns are ignored, with a note."""
    state.check_rows(len(request.rows))
    schema = state.live().model.schema
    frame, notes = _frame(state, request.rows)
    report = store.upsert(frame, schema, source="api", on_conflict="error", identity="new")
    return _json({"ids": report.ids, "revision": report.revision, "new_samples": report.new_samples,
                  "known_samples": report.known_samples, "added": {g: n for g, n in report.added.items() if n},
                  "scheduled": scheduled(state, report.groups_changed), "notes": notes})


@router.get("", response_model=SamplesPage)
def list_samples(state: StateDep, store: SamplesDep, query: FilterDep) -> Response:
    """A page of samples, by group and whether it is annotated for it; `disagrees=true`: a review list."""
    if not query.disagrees:
        page = store.samples(group=query.group, annotated=query.annotated, split=query.split, source=query.source,
                             after=query.after, limit=query.limit)
        return _json({"samples": [s.to_dict() for s in page.samples], "next_after": page.next_after})
    assert query.group is not None
    return _json(_review(state, store, query.group, query.split, query.after, query.limit))


@router.get("/{sample_id}", response_model=SampleOut)
def get_sample(sample_id: str, store: SamplesDep) -> Response:
    return _json(store.get(sample_id).to_dict())


@router.put("/{sample_id}/annotations/{group}", response_model=AnnotationResponse, dependencies=[Learning])
def put_annotation(sample_id: str, group: GroupDep, request: AnnotationRequest, state: StateDep,
                   store: SamplesDep) -> Response:
    """Set (or change) a sample's annotation of a group; for a multilabel group per-label truth changes
    only the labels it names."""
    schema = state.live().model.schema
    revision = store.annotate(sample_id, group, request.value, schema, source="api")
    current = store.get(sample_id).annotations.get(group)
    return _json({"id": sample_id, "group": group, "annotation": current, "revision": revision,
                  "scheduled": scheduled(state, [group] if revision is not None else [])})


@router.delete("/{sample_id}/annotations/{group}", response_model=AnnotationResponse, dependencies=[Learning])
def delete_annotation(sample_id: str, group: GroupDep, state: StateDep, store: SamplesDep,
                      label: str | None = None) -> Response:
    """Remove a sample's annotation of a group (or make one label of a multilabel group unknown)."""
    store.get(sample_id)  # 404 for an unknown sample, even when it has nothing to remove
    revision = store.remove_annotation(sample_id, group, label=label, source="api")
    current = store.get(sample_id).annotations.get(group)
    return _json({"id": sample_id, "group": group, "annotation": current, "revision": revision,
                  "scheduled": scheduled(state, [group] if revision is not None else [])})


def _disagrees(annotation: Cell, result: Mapping[str, Any], labels: list[str]) -> bool:
    """Whether the live release's answer for a group differs from a sample's annotation of it."""
    if "labels" in result and "label" not in result:  # multilabel
        chosen = set(result.get("labels") or [])
        return any((label in chosen) != present for label, present in truths(annotation, labels).items())
    return result.get("label") != annotation


def _review(state: ServeState, samples: SampleStore, group: str, split: str | None, after: int | None,
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


def _with_prediction(sample: Sample, result: Mapping[str, Any]) -> dict[str, Any]:
    return {**sample.to_dict(), "prediction": result}
