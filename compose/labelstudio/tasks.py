"""Label Studio's tasks and annotations in compose's terms, and compose's answers in Label Studio's.

- A task `{"id": 7, "data": {input: value, ...}}` is a row of the schema's inputs; as a sample its id
  is `ls-7` (`sample_id`).
- A merged result of `compose predict` is a prediction `{"result": [...], "score", "model_version"}`:
  one `choices` region per group that gave a label (`from_name` = the group, `to_name` = the object
  its `<Choices>` points at), none for an abstained or gated-off group. The score is the lowest
  confidence among the groups that answered (Label Studio sorts tasks by it: the least sure first).
- An annotation's `choices` regions, read by `from_name`, are the cells of the groups they name; a
  region of a control that names no group is ignored and counted.
- Rows with their merged results are tasks to import into Label Studio, the results as
  pre-annotations (`prediction_tasks`); an empty value is `""` (Label Studio refuses a null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compose.errors import DataError
from compose.labelstudio.config import OBJECT_TAGS, choices_controls, parse_config
from compose.schema.models import Schema

SAMPLE_PREFIX = "ls-"
#: The key of a task's data that names the compose sample it was exported from (`prediction_tasks`).
SAMPLE_KEY = "compose_id"


def sample_id(task_id: Any, data: Mapping[str, Any] | None = None) -> str:
    """The sample id of a Label Studio task: the sample it was exported from (its data's `compose_id`),
    else `ls-<task id>`."""
    given = data.get(SAMPLE_KEY) if isinstance(data, Mapping) else None
    if isinstance(given, str) and given.strip():
        return given
    return f"{SAMPLE_PREFIX}{task_id}"


def to_names(schema: Schema, label_config: str | None) -> dict[str, str]:
    """For each group, the object its answer points at: the `toName` of its `<Choices>` in the project's
    config (the groups it has no control for are left out), else the schema's first input."""
    if not label_config:
        first = next(iter(schema.inputs))
        return dict.fromkeys(schema.groups, first)
    root = parse_config(label_config, "the project's label_config")
    objects = [o.get("name", "") for o in root.iter() if o.tag in OBJECT_TAGS]
    found: dict[str, str] = {}
    for name, control in choices_controls(root).items():
        if name in schema.groups:
            found[name] = (control.get("toName") or (objects[0] if objects else "")).split(",")[0]
    return found


def task_rows(tasks: list[dict[str, Any]], schema: Schema) -> list[dict[str, Any]]:
    """The input rows of Label Studio tasks (a value missing from a task's data is empty)."""
    rows = []
    for t, task in enumerate(tasks):
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise DataError(f"the request's tasks, task {t + 1}: no `data` object; a task is "
                            '{"id": ..., "data": {input: value, ...}}')
        rows.append({name: _value(data.get(name), spec.type) for name, spec in schema.inputs.items()})
    return rows


def _value(value: Any, kind: str) -> Any:
    """A task's value as compose reads it: a number written as text (as a CSV import gives) is a number."""
    if kind == "number" and isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return value  # compose's reader refuses it with its own sentence
    return value


def prediction(result: Mapping[str, Any], targets: dict[str, str]) -> dict[str, Any]:
    """One task's prediction from one merged result of `compose predict`."""
    regions: list[dict[str, Any]] = []
    confidences: list[float] = []
    for group, to_name in targets.items():
        answer = result["groups"].get(group) or {}
        if "labels" in answer and "label" not in answer:  # multilabel: the chosen labels, if any
            chosen = list(answer.get("labels") or [])
            scores = answer.get("scores") or {}
            confidences.extend(float(scores[c]) for c in chosen if c in scores)
        else:
            chosen = [answer["label"]] if answer.get("label") is not None else []
            if chosen and answer.get("confidence") is not None:
                confidences.append(float(answer["confidence"]))
        if chosen:
            regions.append({"from_name": group, "to_name": to_name, "type": "choices",
                            "value": {"choices": chosen}})
    score = min(confidences) if confidences else 0.0
    return {"result": regions, "score": score if math.isfinite(score) else 0.0,
            "model_version": result.get("release")}


def prediction_tasks(rows: list[dict[str, Any]], results: Sequence[Mapping[str, Any]],
                     targets: dict[str, str], ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Label Studio tasks `{"data": row, "predictions": [prediction]}` of input rows and their merged
    results, the predictions those of `/labelstudio/predict` for the groups of `targets`. With `ids`
    (the rows' sample ids) each task's data names its sample (`compose_id`), so its annotations, by
    the webhook or in an export, come back to that sample instead of a new `ls-<task id>`."""
    if len(rows) != len(results) or (ids is not None and len(ids) != len(rows)):
        raise DataError(f"{len(rows)} rows but {len(results)} results: every task needs its prediction")
    named = [{SAMPLE_KEY: str(sid)} for sid in ids] if ids is not None else [{} for _ in rows]
    return [{"data": {**{k: _task_value(v) for k, v in row.items()}, **name},
             "predictions": [prediction(result, targets)]}
            for row, result, name in zip(rows, results, named, strict=True)]


def _task_value(value: Any) -> Any:
    """A value as a task's data holds it: a plain JSON value, `""` when empty (not null: Label Studio
    1.23 refuses a null for a `<Text>` object)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        return _task_value(value.item())
    return value


@dataclass
class Annotated:
    """An annotation read for compose: the groups' cells, and the controls it ignored."""

    cells: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def annotation_cells(annotation: dict[str, Any], schema: Schema) -> Annotated:
    """The cells of the groups an annotation answers (`choices` regions by `from_name`)."""
    found = Annotated()
    for region in annotation.get("result") or []:
        if not isinstance(region, dict):
            continue
        group, value = region.get("from_name"), region.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if group not in schema.groups or region.get("type") not in (None, "choices") or not isinstance(choices,
                                                                                                      list):
            found.ignored.append(str(group))
            continue
        if schema.groups[group].type == "multilabel":
            found.cells[group] = [str(c) for c in choices]
        elif len(choices) == 1:
            found.cells[group] = str(choices[0])
        else:
            raise DataError(f"the annotation's {group!r} choices {choices}: group {group!r} takes one label; "
                            "set choice=\"single\" on its <Choices> (compose labelstudio config does)")
    return found


def config_groups(schema: Schema, label_config: str | None) -> list[str]:
    """The groups that a project's config asks about (all of them without a config)."""
    return list(to_names(schema, label_config))

