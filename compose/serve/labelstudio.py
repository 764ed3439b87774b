"""Label Studio's ML backend protocol under `/labelstudio`: compose pre-annotates tasks and learns from
the annotations people make in Label Studio.

The payloads follow `label_studio_ml/api.py` of HumanSignal/label-studio-ml-backend and the webhook
actions of Label Studio 1.23 (`label_studio/webhooks/models.py`):

- `GET /health` -> `{"status": "UP"}`; `POST /setup` -> `{"model_version": <live release>}`;
- `POST /predict {"tasks": [...], "label_config", "project", "params"}` -> `{"results": [...]}`, one
  prediction per task with the labels of `compose predict` (`compose.labelstudio.prediction`);
- `POST /webhook {"action", "project", "task", "annotation"}`: ANNOTATION_CREATED / ANNOTATION_UPDATED
  store the task as the sample `ls-<task id>` with the annotation's choices as its groups'
  annotations (the path of `POST /v1/samples`); ANNOTATIONS_DELETED (Label Studio's name, ids only)
  and ANNOTATION_DELETED (the ML backend's) remove what that annotation set; START_TRAINING retrains
  the groups the project asks about. The touched groups retrain through the learner, as samples do.

Every route needs the server's token: as the password of HTTP Basic auth (what Label Studio sends
when its ML backend connection has Basic auth set; any user name) or as a bearer token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from compose.data.io import as_frame
from compose.errors import DataError
from compose.labelstudio import annotation_cells, prediction, sample_id, task_rows, to_names
from compose.serve.errors import ApiError, responses
from compose.serve.security import TOKEN_ENV

SOURCE = "labelstudio"
ANNOTATION_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
DELETE_EVENTS = ("ANNOTATION_DELETED", "ANNOTATIONS_DELETED")
CHALLENGE = {"WWW-Authenticate": 'Basic realm="compose", Bearer'}
Payload = Annotated[dict[str, Any], Body()]


def labelstudio_authorized(request: Request) -> None:
    """The server's token as the Basic-auth password (any user name) or as a bearer token; else 401."""
    state = request.app.state.compose
    if state.token is None:
        raise ApiError(401, "read_only", "this server was started without a token, so it takes no Label Studio "
                                         f"calls; restart it with --token-file FILE or ${TOKEN_ENV}",
                       headers=CHALLENGE)
    if not _token_given(request.headers.get("authorization", ""), state.token):
        raise ApiError(401, "unauthorized", "missing or wrong credentials; set Basic auth on Label Studio's ML "
                                            "backend connection with the server's token as the password (any "
                                            "user name), or send `Authorization: Bearer <token>`",
                       headers=CHALLENGE)


def _token_given(header: str, token: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def _state(request: Request) -> Any:
    state = request.app.state.compose
    state.ensure_started()
    return state


State = Annotated[Any, Depends(_state)]
router = APIRouter(prefix="/labelstudio", tags=["labelstudio"], dependencies=[Depends(labelstudio_authorized)],
                   responses=responses(401, 403, 422, 503, described={
                       401: "no or wrong credentials", 422: "a task or annotation that the schema refuses"}))


@router.get("/health")
def health(state: State) -> dict[str, Any]:
    """Label Studio's check of the connection: `{"status": "UP"}` (and the live release, if any)."""
    live = state.holder.live
    return {"status": "UP", "model_class": "compose", "model_version": live.release if live else None}


@router.post("/setup")
def setup(state: State, payload: Payload) -> dict[str, Any]:
    """Label Studio connects a project: the model version is the live release."""
    return {"model_version": state.live().release}


@router.post("/predict")
def predict(state: State, payload: Payload) -> dict[str, Any]:
    """One prediction per task: the labels of `compose predict`, as `choices` regions per group."""
    tasks = payload.get("tasks") or []
    if not isinstance(tasks, list):
        raise DataError("the request's `tasks`: a list of tasks {\"id\", \"data\"} is needed")
    state.check_rows(len(tasks))
    live = state.live()
    schema = live.model.schema
    targets = to_names(schema, payload.get("label_config"))
    rows = task_rows(tasks, schema)
    results = live.model.predict(rows).to_list() if rows else []
    return {"results": [prediction(r, targets) for r in results], "model_version": live.release}


@router.post("/webhook", status_code=201, responses={200: {"description": "an event compose does not act on "
                                                                     "(as Label Studio's ML backend answers it)"}})
def webhook(state: State, payload: Payload) -> Any:
    """Annotations made in Label Studio become samples; the groups they touch retrain."""
    action = payload.get("action")
    if action not in (*ANNOTATION_EVENTS, *DELETE_EVENTS, "START_TRAINING"):
        return JSONResponse({"status": "Unknown event"}, status_code=200)
    if state.learner is None:
        raise ApiError(403, "read_only", "this server was started with --no-learn: it stores no Label Studio "
                                         "annotations; restart it without --no-learn")
    if action == "START_TRAINING":
        groups = _asked_groups(state, payload)
        result: dict[str, Any] = {"scheduled": state.learner.touch(groups) if groups else []}
    elif action in ANNOTATION_EVENTS:
        result = _annotated(state, payload)
    else:
        result = _deleted(state, payload)
    return {"status": "ok", "result": result}


def _asked_groups(state: Any, payload: dict[str, Any]) -> list[str]:
    project = payload.get("project")
    config = project.get("label_config") if isinstance(project, dict) else None
    return list(to_names(state.live().model.schema, config))


def _annotated(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
    annotation, task = payload.get("annotation"), payload.get("task")
    if not isinstance(annotation, dict) or not isinstance(task, dict) or "id" not in task:
        raise DataError(f"the {payload.get('action')} payload: `annotation` and `task` (with its id) are needed")
    if annotation.get("was_cancelled"):
        return {"id": sample_id(task["id"], task.get("data")), "ignored": "the annotation was cancelled (skipped)",
                "scheduled": []}
    schema = state.live().model.schema
    read = annotation_cells(annotation, schema)
    sid = sample_id(task["id"], task.get("data"))
    row = {"id": sid, **task_rows([task], schema)[0], **read.cells}
    samples = state.samples()
    frame = as_frame([{k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()}])
    frame.attrs["source"] = f"the {payload.get('action')} of task {task['id']}"
    report = samples.upsert(frame, schema, source=SOURCE, on_conflict="update")  # as POST /v1/samples does
    removed = []
    for group in _asked_groups(state, payload):  # the latest annotation is the task's whole answer
        if group not in read.cells and samples.remove_annotation(sid, group, source=SOURCE) is not None:
            removed.append(group)
    touched = sorted({*report.groups_changed, *removed})
    _ledger(state).record(annotation.get("id"), sid, sorted(read.cells))
    return {"id": sid, "annotations": read.cells, "removed": removed, "ignored": sorted(set(read.ignored)),
            "scheduled": state.learner.touch(touched) if touched else []}


def _deleted(state: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Remove what deleted annotations set: found by their ids (all Label Studio sends), else by their task."""
    ledger = _ledger(state)
    schema = state.live().model.schema
    items = [a for a in [payload.get("annotation"), *(payload.get("annotations") or [])] if isinstance(a, dict)]
    task = payload.get("task")
    found: list[tuple[str, list[str]]] = []
    for item in items:
        known = ledger.lookup(item.get("id"))
        task_id = task.get("id") if isinstance(task, dict) else item.get("task")
        if known is not None:
            found.append(known)
        elif task_id is not None:  # an annotation made before compose listened: every group of its task
            found.append((sample_id(task_id, task.get("data") if isinstance(task, dict) else None),
                          list(schema.groups)))
    removed: dict[str, list[str]] = {}
    samples = state.samples()
    for sid, groups in found:
        for group in groups:
            if group in schema.groups and samples.remove_annotation(sid, group, source=SOURCE) is not None:
                removed.setdefault(sid, []).append(group)
    touched = sorted({g for gs in removed.values() for g in gs})
    return {"removed": removed, "scheduled": state.learner.touch(touched) if touched else []}


class Ledger:
    """Which sample and groups each Label Studio annotation set: Label Studio's delete events name only
    the annotation's id. A small SQLite file beside the sample store (`labelstudio.sqlite`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS annotations (annotation_id TEXT PRIMARY KEY, "
                       "sample_id TEXT NOT NULL, groups TEXT NOT NULL)")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # one transaction
                yield db
        finally:
            db.close()

    def record(self, annotation_id: Any, sid: str, groups: list[str]) -> None:
        if annotation_id is None:
            return
        with self.lock, self._db() as db:
            db.execute("INSERT OR REPLACE INTO annotations VALUES (?, ?, ?)",
                       (str(annotation_id), sid, ",".join(groups)))

    def lookup(self, annotation_id: Any) -> tuple[str, list[str]] | None:
        if annotation_id is None:
            return None
        with self.lock, self._db() as db:
            row = db.execute("SELECT sample_id, groups FROM annotations WHERE annotation_id = ?",
                             (str(annotation_id),)).fetchone()
        return (str(row[0]), [g for g in str(row[1]).split(",") if g]) if row else None


_LEDGERS: dict[str, Ledger] = {}
_LEDGERS_LOCK = threading.Lock()


def _ledger(state: Any) -> Ledger:
    path = Path(state.store.samples_home) / "labelstudio.sqlite"
    with _LEDGERS_LOCK:
        if str(path) not in _LEDGERS:
            _LEDGERS[str(path)] = Ledger(path)
        return _LEDGERS[str(path)]
