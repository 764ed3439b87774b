"""The `samples` command: what the sample store of a model holds, an export, an import."""

from __future__ import annotations

import argparse

import compose
from compose.cli._output import Adder, emit, store_args, write_json


def cmd_samples(a: argparse.Namespace) -> int:
    schema = compose.load_schema(a.schema) if a.schema else None
    store, schema = compose.open_samples(a.store, model=a.model, schema=schema, create=bool(a.import_))
    with store:
        if a.import_:
            report = compose.import_samples(store, schema, a.import_)
            emit(f"imported {a.import_}: {report.rows} rows, {report.new_samples} new samples, "
                 f"{report.known_samples} already stored; annotations added "
                 + ", ".join(f"{g} {n}" for g, n in report.added.items())
                 + (f"; changed {', '.join(f'{g} {n}' for g, n in report.changed.items() if n)}"
                    if any(report.changed.values()) else "")
                 + f" (revision {report.revision if report.revision is not None else store.revision})")
        counts = store.counts()
        emit(f"sample store {store.location}")
        for line in compose.describe_samples(counts, a.group):
            emit(line)
        write_json(a.json, counts.to_dict())
        if a.export:
            groups = [a.group] if a.group else None
            path = store.export(a.export, schema, groups=groups, as_of=_as_of(a.as_of), meta=a.meta)
            emit(f"wrote {path}: the samples in the format `compose train` reads"
                 + (f", as of revision {a.as_of}" if a.as_of else ""))
    return 0


def _as_of(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def register(add: Adder) -> None:
    sp = add("samples", cmd_samples, "show the samples and annotations a model keeps; export or import them")
    store_args(sp)
    sp.add_argument("--group", help="show (and export) only this group")
    sp.add_argument("--export", help="write the samples to a .csv, .jsonl or .parquet file that compose train reads")
    sp.add_argument("--meta", action="store_true", help="with --export: add each sample's split and source")
    sp.add_argument("--as-of", help="with --export: the annotations as of a revision number or an ISO time")
    sp.add_argument("--import", dest="import_", metavar="FILE",
                    help="add the rows of FILE as samples without training (seeds a store made before the "
                         "sample store: import the data it was trained on)")
    sp.add_argument("--schema", help="the schema, for a model with no release yet (default: the live release's)")
    sp.add_argument("--json", help="write the counts as JSON")
