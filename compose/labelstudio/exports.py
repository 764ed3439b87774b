"""Label Studio's exports read as samples: JSON, JSON-MIN and CSV, recognised by their shape.

- **JSON** (`exportType=JSON`): a list of tasks `{"id", "data": {...}, "annotations": [...]}`; each
  annotation's `result` holds `choices` regions named by `from_name`.
- **JSON-MIN** (`JSON_MIN`): one object per annotation, the task's data at the top level beside `id`
  (the task's), one key per control (a single choice is a string, several are `{"choices": [...]}`)
  and Label Studio's `annotator`, `annotation_id`, `created_at`, `updated_at`, `lead_time`.
- **CSV** (`CSV`): the rows of JSON-MIN as columns; several choices are the JSON text
  `{"choices": [...]}`, a task's data key that repeats a control's name is `_data_<key>`.

A task is the sample `ls-<task id>` (or the sample it was exported from, named by its data's
`compose_id`: `compose samples --export F --format labelstudio`), its data the sample's inputs (read
as the ML backend's webhook reads them: `compose.labelstudio.task_rows`), and the choices of each
control that names a group that group's annotation. Of several annotations of one task the latest
(by `updated_at`, then `created_at`) is taken, as the webhook keeps the latest; cancelled (skipped)
annotations are skipped (JSON-MIN and CSV never hold them: Label Studio's converter drops them). A
task without an annotation is a sample without annotations. A label the schema does not declare is
an error naming the task. """

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from compose._text import did_you_mean
from compose.errors import DataError
from compose.labelstudio.tasks import annotation_cells, sample_id, task_rows
from compose.schema.models import Schema

#: The keys Label Studio's converter writes into every JSON-MIN object and CSV row.
MIN_KEYS = frozenset({"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"})
_MIN_META = MIN_KEYS | {"agreement", "history", "was_cancelled"}
_DATA_PREFIX = "_data_"  # the CSV's name for a task data key that repeats a control's name
_TASK_KEYS = frozenset({"id", "data"})


def export_kind(frame: pd.DataFrame) -> str | None:
    """`JSON`, `JSON_MIN` or `CSV` when `frame` (a file as `compose.data.io.read_table` reads it) is
    a Label Studio export of that kind, else None. JSON-MIN and CSV hold the same keys: the file's
    type tells them apart."""
    columns = set(frame.columns)
    if columns >= _TASK_KEYS and ({"annotations", "completions"} & columns):
        return "JSON" if len(frame) and isinstance(frame["data"].iloc[0], dict) else None
    if not columns >= MIN_KEYS:
        return None
    suffixes = [s.lower() for s in Path(str(frame.attrs.get("source", ""))).suffixes]
    return "CSV" if ".csv" in suffixes or ".tsv" in suffixes else "JSON_MIN"


@dataclass
class ExportRead:
    """The samples of a Label Studio export, and what reading it mapped and ignored."""

    kind: str
    source: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per task: id, inputs, groups' cells
    mapped: Counter[str] = field(default_factory=Counter)  # group -> annotations that answered it
    ignored: Counter[str] = field(default_factory=Counter)  # control or column naming no group -> count
    cancelled: list[str] = field(default_factory=list)  # "task T" of each cancelled annotation skipped
    superseded: int = 0  # older annotations of a task (its latest one is taken)
    annotated: int = 0  # tasks whose latest annotation is read
    unannotated: int = 0  # tasks without an annotation: samples without annotations
    skipped_tasks: list[str] = field(default_factory=list)  # tasks whose every annotation was cancelled

    def frame(self) -> pd.DataFrame:
        """The rows as a table `compose samples --import` reads (a multilabel cell as a JSON list)."""
        records = [{k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()} for row in self.rows]
        out = pd.DataFrame.from_records(records) if records else pd.DataFrame({"id": []})
        out.attrs["source"] = self.source
        return out

    def lines(self) -> list[str]:
        """What was read, mapped and ignored, one sentence a line."""
        out = [f"{self.source}: a Label Studio {self.kind.replace('_', '-')} export of {len(self.rows)} task"
               f"{'s' * (len(self.rows) != 1)} -> samples ls-<task id> ({self.annotated} annotated, "
               f"{self.unannotated} without an annotation)"]
        if self.mapped:
            out.append("mapped (each control to the group it names): " + ", ".join(
                f"{g} {n}" for g, n in sorted(self.mapped.items())))
        else:
            out.append("mapped: nothing (no control names a group of the schema)")
        what = "control" if self.kind == "JSON" else "column"
        why = "names no group" if self.kind == "JSON" else "names no input and no group"
        ignored = [f"{what} {c!r} ({n} annotation{'s' * (n > 1)}: {why} of the schema)"
                   for c, n in sorted(self.ignored.items())]
        if self.cancelled:
            ignored.append(f"{len(self.cancelled)} cancelled annotation{'s' * (len(self.cancelled) > 1)} "
                           f"({', '.join(self.cancelled)})")
        if self.skipped_tasks:
            ignored.append(f"so {', '.join(self.skipped_tasks)} (only cancelled annotations) "
                           f"{'is' if len(self.skipped_tasks) == 1 else 'are'} not imported")
        if self.superseded:
            ignored.append(f"{self.superseded} older annotation{'s' * (self.superseded > 1)} of tasks annotated "
                           "more than once (the latest is taken)")
        if self.kind != "JSON" and not self.cancelled:
            ignored.append(f"cancelled annotations: a {self.kind.replace('_', '-')} export holds none (Label Studio "
                           "leaves them out)")
        out.append("ignored: " + ("; ".join(ignored) if ignored else "nothing"))
        return out


def read_export(frame: pd.DataFrame, schema: Schema) -> ExportRead | None:
    """The samples of a Label Studio export (`export_kind`), or None when `frame` is not one."""
    kind = export_kind(frame)
    if kind is None:
        return None
    found = ExportRead(kind, str(frame.attrs.get("source", "the export")))
    tasks = _json_tasks(frame, found) if kind == "JSON" else _min_tasks(frame, schema, found)
    if tasks and not any(name in data for _, data, _ in tasks for name in schema.inputs):
        raise DataError(f"{found.source}: a Label Studio {kind} export whose tasks hold none of the schema's inputs "
                        f"{list(schema.inputs)}; export the project whose labelling config "
                        "`compose labelstudio config` wrote for this schema")
    for task_id, data, annotation in tasks:
        found.rows.append(_row(found, schema, task_id, data, annotation))
    return found


def _json_tasks(frame: pd.DataFrame, found: ExportRead) -> list[tuple[Any, dict[str, Any], dict[str, Any] | None]]:
    """(task id, data, its latest annotation that is not cancelled) of each task of a JSON export."""
    out: list[tuple[Any, dict[str, Any], dict[str, Any] | None]] = []
    for n, task in enumerate(frame.to_dict(orient="records"), start=1):
        data, task_id = task.get("data"), task.get("id")
        if not isinstance(data, dict) or _empty(task_id):
            raise DataError(f"{found.source}, task {n}: a Label Studio JSON export's task has an `id` and a `data` "
                            "object; export the project again (Export > JSON)")
        task_id = _task_id(task_id)
        given = task.get("annotations")
        given = task.get("completions") if not isinstance(given, list) else given
        annotations = [a for a in (given if isinstance(given, list) else []) if isinstance(a, dict)]
        kept = [a for a in annotations if not (a.get("was_cancelled") or a.get("skipped"))]
        found.cancelled += [f"task {task_id}"] * (len(annotations) - len(kept))
        if annotations and not kept:
            found.skipped_tasks.append(f"task {task_id}")
            continue
        found.superseded += max(len(kept) - 1, 0)
        out.append((task_id, data, max(kept, key=_recency) if kept else None))
    return out


def _min_tasks(frame: pd.DataFrame, schema: Schema,
               found: ExportRead) -> list[tuple[Any, dict[str, Any], dict[str, Any] | None]]:
    """(task id, data, its latest annotation as a `result`) of each task of a JSON-MIN or CSV export."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for n, record in enumerate(frame.to_dict(orient="records"), start=1):
        row = {str(k): v for k, v in record.items()}
        if _empty(row.get("id")):
            raise DataError(f"{found.source}, row {n}: no task `id`; a Label Studio {found.kind} export names the "
                            "task of every row")
        if _truthy(row.get("was_cancelled")):
            found.cancelled.append(f"task {_task_id(row['id'])}")
            continue
        by_task.setdefault(_task_id(row["id"]), []).append(row)
    out: list[tuple[Any, dict[str, Any], dict[str, Any] | None]] = []
    for task_id, rows in by_task.items():
        annotated = [r for r in rows if not _empty(r.get("annotation_id"))]
        found.superseded += max(len(annotated) - 1, 0)
        latest = max(annotated, key=_recency) if annotated else rows[0]
        data = {name: _cell(latest, name) for name in schema.inputs if name in latest or _DATA_PREFIX + name in latest}
        result = [] if not annotated else _min_result(latest, schema, found)
        out.append((task_id, data, {"id": latest.get("annotation_id"), "result": result} if annotated else None))
    return out


def _min_result(row: dict[str, Any], schema: Schema, found: ExportRead) -> list[dict[str, Any]]:
    """The `choices` regions of one JSON-MIN or CSV row: a column per control."""
    regions = []
    for name, value in row.items():
        if name in _MIN_META or name in schema.inputs or name.startswith(_DATA_PREFIX) or _empty(value):
            continue
        if name not in schema.groups or name.endswith("_transcript"):
            found.ignored[name] += 1
            continue
        choices = _choices(value)
        if choices:  # a value without choices (a text area named like a group) answers nothing
            regions.append({"from_name": name, "type": "choices", "value": {"choices": choices}})
    return regions


def _choices(value: Any) -> list[Any]:
    """A control's value in JSON-MIN or CSV as a list of choices: a string is one choice, `{"choices":
    [...]}` several (in CSV as JSON text), a list one item per region."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, dict):
        return list(value.get("choices") or [])
    if isinstance(value, list):
        return [c for item in value for c in _choices(item)]
    return [value]


def _row(found: ExportRead, schema: Schema, task_id: Any, data: dict[str, Any],
         annotation: dict[str, Any] | None) -> dict[str, Any]:
    where = f"{found.source}, task {task_id}"
    if annotation is None:
        found.unannotated += 1
        cells: dict[str, Any] = {}
    else:
        try:
            read = annotation_cells(annotation, schema)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        found.ignored.update(read.ignored)
        cells = read.cells
        found.annotated += 1
        _check_labels(where, schema, cells)
        found.mapped.update(list(cells))
    row = task_rows([{"data": {k: None if _empty(v) else v for k, v in data.items()}}], schema)[0]
    return {"id": sample_id(task_id, data), **row, **cells}


def _check_labels(where: str, schema: Schema, cells: dict[str, Any]) -> None:
    for group, cell in cells.items():
        labels = schema.labels_of(group)
        for label in cell if isinstance(cell, list) else [cell]:
            if label not in labels:
                raise DataError(f"{where}: group {group!r} is annotated {label!r}, a label the schema does not "
                                f"declare.{did_you_mean(str(label), labels)} Declared labels: {labels}. Correct the "
                                f"annotation in Label Studio, or add the label to the schema's groups.{group}.labels")


def _recency(annotation: dict[str, Any]) -> tuple[str, float]:
    """The latest annotation sorts last: by `updated_at` (ISO text), then `created_at`, then its id."""
    when = annotation.get("updated_at")
    when = annotation.get("created_at") if _empty(when) else when
    number = annotation.get("annotation_id", annotation.get("id"))
    try:
        rank = float(str(number))
    except (TypeError, ValueError):
        rank = -1.0
    return ("" if _empty(when) else str(when), -1.0 if math.isnan(rank) else rank)


def _cell(row: dict[str, Any], name: str) -> Any:
    value = row.get(_DATA_PREFIX + name) if _DATA_PREFIX + name in row else row.get(name)
    return None if _empty(value) else value


def _task_id(value: Any) -> str:
    """A task id as Label Studio writes it: `7` (JSON-MIN's number and CSV's text alike)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str)
                                                                                 and not value.strip())
