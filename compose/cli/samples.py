"""The `samples` command: what the sample store of a model holds, an export, an import.

An import recognises Label Studio's JSON, JSON-MIN and CSV exports by their shape
(`compose.labelstudio.read_export`) and says what it mapped and ignored; `--format labelstudio`
exports the samples as Label Studio tasks with the live release's predictions as pre-annotations.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import compose
from compose.cli._output import Adder, emit, store_args, write_json
from compose.errors import DataError

FORMATS = ("table", "labelstudio")


def cmd_samples(a: argparse.Namespace) -> int:
    if a.export and a.format == "labelstudio" and Path(a.export).suffix.lower() != ".json":
        raise DataError(f"--export {a.export} --format labelstudio: Label Studio imports tasks from a JSON file; "
                        "name it *.json")
    schema = compose.load_schema(a.schema) if a.schema else None
    store, schema = compose.open_samples(a.store, model=a.model, schema=schema, create=bool(a.import_))
    with store:
        if a.import_:
            _import(a, store, schema)
        counts = store.counts()
        emit(f"sample store {store.location}")
        for line in compose.describe_samples(counts, a.group):
            emit(line)
        write_json(a.json, counts.to_dict())
        if a.export and a.format == "labelstudio":
            _export_tasks(a, store, schema)
        elif a.export:
            groups = [a.group] if a.group else None
            path = store.export(a.export, schema, groups=groups, as_of=_as_of(a.as_of), meta=a.meta)
            emit(f"wrote {path}: the samples in the format `compose train` reads"
                 + (f", as of revision {a.as_of}" if a.as_of else ""))
    return 0


def _import(a: argparse.Namespace, store: Any, schema: compose.Schema) -> None:
    from compose.data.io import read_table
    from compose.labelstudio import read_export

    data = read_table(a.import_)
    found = read_export(data, schema)
    if found is not None:
        for line in found.lines():
            emit(line)
        if not found.rows:
            emit(f"imported {a.import_}: nothing (no task left to import)")
            return
        data = found.frame()
    report = compose.import_samples(store, schema, data)
    emit(f"imported {a.import_}: {report.rows} rows, {report.new_samples} new samples, "
         f"{report.known_samples} already stored; annotations added "
         + ", ".join(f"{g} {n}" for g, n in report.added.items())
         + (f"; changed {', '.join(f'{g} {n}' for g, n in report.changed.items() if n)}"
            if any(report.changed.values()) else "")
         + f" (revision {report.revision if report.revision is not None else store.revision})")


def _export_tasks(a: argparse.Namespace, store: Any, schema: compose.Schema) -> None:
    """The samples as Label Studio tasks, the live release's answers as their pre-annotations."""
    import json

    from compose.data.io import atomic_write
    from compose.labelstudio import prediction_tasks, to_names

    model = compose.load(store.home)
    frame = store.frame(schema, as_of=_as_of(a.as_of))
    rows = frame[list(schema.inputs)].to_dict(orient="records")
    targets = to_names(model.schema, None)
    if a.group:
        targets = {a.group: targets[a.group]} if a.group in targets else {}
    results = model.predict(rows).to_list() if rows else []
    tasks = prediction_tasks(rows, results, targets, ids=[str(i) for i in frame["id"]])
    path = atomic_write(a.export, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
    emit(f"wrote {path}: {len(tasks)} Label Studio tasks with the predictions of release {model.release_name} as "
         "pre-annotations; import it into a project whose labelling config `compose labelstudio config` wrote")


def _as_of(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def register(add: Adder) -> None:
    sp = add("samples", cmd_samples, "show the samples and annotations a model keeps; export or import them")
    store_args(sp)
    sp.add_argument("--group", help="show (and export) only this group")
    sp.add_argument("--export", help="write the samples to a .csv, .jsonl or .parquet file that compose train reads "
                                     "(with --format labelstudio: a .json file of Label Studio tasks)")
    sp.add_argument("--format", choices=FORMATS, default="table",
                    help="with --export: `table` (default; the file's suffix picks CSV, JSON Lines or Parquet) or "
                         "`labelstudio` (tasks with the live release's predictions as pre-annotations)")
    sp.add_argument("--meta", action="store_true", help="with --export: add each sample's split and source")
    sp.add_argument("--as-of", help="with --export: the annotations as of a revision number or an ISO time")
    sp.add_argument("--import", dest="import_", metavar="FILE",
                    help="add the rows of FILE as samples without training (seeds a store made before the "
                         "sample store: import the data it was trained on). A Label Studio export (JSON, "
                         "JSON-MIN or CSV) is recognised by its shape: task <id> becomes sample ls-<id>")
    sp.add_argument("--schema", help="the schema, for a model with no release yet (default: the live release's)")
    sp.add_argument("--json", help="write the counts as JSON")
