"""The core commands: validate, plan, train, retrain, tune, predict, evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import compose
from compose.cli._output import (
    EXIT_REFUSED,
    Adder,
    budget_arg,
    emit,
    gate_args,
    key_arg,
    read_schema,
    store_args,
    write_json,
)
from compose.cli._progress import fit_progress, progress
from compose.store.names import version_name


def cmd_validate(a: argparse.Namespace) -> int:
    schema = read_schema(a.schema)
    compose.build_plan(schema)
    n_labels = sum(len(schema.labels_of(g)) for g in schema.groups)
    emit(f"{a.schema}: valid schema {schema.name!r}: {len(schema.inputs)} inputs, {len(schema.features)} "
           f"features, {len(schema.groups)} groups, {n_labels} labels")
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    plan = compose.build_plan(read_schema(a.schema))
    if a.format == "json":
        emit(json.dumps(plan.to_json(), indent=2))
    elif a.format == "dot":
        emit(plan.to_dot())
    else:
        emit(plan.to_text())
    return 0


def _print_report(report: compose.TrainReport) -> None:
    for g, r in report.groups.items():
        metric = next((k for k in ("accuracy", "micro_f1") if k in r.metrics), None)
        value = f"{metric} {r.metrics[metric]:.4f}" if metric else "no holdout rows"
        state = "released" if r.released else "kept, NOT released"
        if r.search is not None:
            value += f"; auto chose {r.search['estimator']} in {r.search['seconds']:.1f}s"
        if r.source == "zero-shot":
            value += "; zero-shot (answers from its label texts)"
        gate = ""
        if r.gate is not None and r.gate.live is not None:
            gate = (f"; live {version_name(r.gate.against)} scored {r.gate.live:.4f} on the same "
                    f"{r.gate.n_holdout} rows")
        emit(f"  {g:<18} {version_name(r.version)}  {r.n_train:>6} train / {r.n_holdout:>5} holdout rows  "
               f"holdout {value}{gate}  [{state}]")
        if r.gate is not None and r.gate.reason:
            emit(f"  {'':<18} gate: {r.gate.reason}")
    for line in report.notes:
        emit(f"  {line}")
    if report.release:
        emit(f"release {report.release} is live in {report.store}")
    else:
        emit(f"no new release; the live release in {report.store} is unchanged")


def _executor(a: argparse.Namespace, on_fit: Callable[[int, int], None] | None) -> compose.AutoExecutor | Any:
    """Where the fits run: the Dask cluster of --scheduler, else worker processes (--jobs) or this process."""
    if getattr(a, "scheduler", None):
        return compose.DaskExecutor(a.scheduler, on_fit=on_fit)
    return compose.AutoExecutor(a.jobs, on_fit=on_fit)


def cmd_train(a: argparse.Namespace) -> int:
    schema = read_schema(a.schema)
    only = [g.strip() for g in a.only.split(",")] if a.only else None
    try:
        with fit_progress(a) as on_fit:
            report = compose.train_groups(schema, a.data, a.store, only=only, force=a.force,
                                          accept_new_labels=a.accept_new_labels, n_jobs=a.jobs,
                                          artifact_format=a.format, executor=_executor(a, on_fit),
                                          budget_s=a.budget)
    except compose.GateRefusedError as exc:
        if exc.report is not None:
            _print_report(exc.report)
        sys.stderr.write(f"compose: {exc}\n")
        return EXIT_REFUSED
    _print_report(report)
    return 0


def cmd_retrain(a: argparse.Namespace) -> int:
    schema = read_schema(a.schema)
    try:
        with fit_progress(a) as on_fit:
            report = compose.retrain(schema, a.data, a.store, group=a.group, feature=a.feature, force=a.force,
                                     accept_new_labels=a.accept_new_labels, n_jobs=a.jobs,
                                     executor=_executor(a, on_fit), budget_s=a.budget)
    except compose.GateRefusedError as exc:
        if exc.report is not None:
            _print_report(exc.report)
        sys.stderr.write(f"compose: {exc}\n")
        return EXIT_REFUSED
    _print_report(report)
    return 0


def _load(a: argparse.Namespace) -> compose.ComposedModel:
    return compose.load(a.store, model=a.model, release=getattr(a, "release", None))


def cmd_predict(a: argparse.Namespace) -> int:
    from compose.runtime.stream import output_kind, predict_file, refuse_overwriting_inputs

    if not getattr(a, "scheduler", None):
        output_kind(a.out)
    if getattr(a, "scheduler", None):
        rows = compose.predict_partitions(a.store, a.data, a.out, scheduler=a.scheduler, model=a.model,
                                          release=a.release, id_column=a.id)
        logging.getLogger("compose").info("wrote %d results to %s on the cluster at %s", rows, a.out, a.scheduler)
        return 0
    refuse_overwriting_inputs(a.out, [a.data])  # before loading anything
    model = _load(a)
    from compose.data.io import count_rows

    with progress(a, count_rows(a.data), "rows", "predict") as advance:
        rows = predict_file(model, a.data, a.out, batch_size=a.batch_size, id_column=a.id, on_batch=advance)
    logging.getLogger("compose").info("wrote %d results to %s (release %s)", rows, a.out, model.release_name)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    if a.html:
        from compose.evaluation.sections import require_matplotlib

        require_matplotlib()  # fail before the work, not after it
    model = _load(a)
    if a.baseline:
        logging.getLogger("compose").info("fitting the %s baseline on the training-split rows of %s", a.baseline,
                                          a.data)
    data = compose.read_table(a.data)
    with progress(a, len(data), "rows", "evaluate") as advance:
        report = compose.evaluate(model, data, split=a.split, baseline=a.baseline, on_rows=advance)
    if a.audit:
        from compose.audit.labels import audit_model

        report["audit"] = audit_model(model, a.data).to_dict()
    for line in compose.evaluation_summary(report):
        emit(line)
    write_json(a.json, report)
    if a.html:
        compose.write_html(report, a.html, model.schema.hierarchies)
        emit(f"wrote {a.html}")
    return 0


def cmd_tune(a: argparse.Namespace) -> int:
    if a.curve:
        from compose.tuning import tuning_curves

        curves, source = tuning_curves(a.store, a.group, data=a.data, model=a.model)
        emit(f"curves of {a.group} on {source}")
        for curve in curves:
            for line in curve.table():
                emit(line)
        write_json(a.json, [c.to_dict() for c in curves])
        if a.target is None:
            return 0
    if a.target is None:
        raise compose.DataError("compose tune needs --target (precision=0.95, recall=0.8 or f1), or --curve to "
                                "print the threshold curve only")
    report = compose.tune(a.store, a.group, a.target, data=a.data, model=a.model, dry_run=a.dry_run, note=a.note)
    for line in report.lines():
        emit(line)
    write_json(a.json, report.to_dict())
    return 0 if report.any_met else EXIT_REFUSED


def _evaluate_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--split", choices=["all", "holdout", "train"],
                    help="rows to evaluate, by the training holdout rule (default: holdout with --baseline, else all)")
    sp.add_argument("--baseline", choices=["monolithic"],
                    help="also fit one one-vs-rest model over every label on the training-split rows, and compare")
    sp.add_argument("--html", help="write a self-contained HTML report (needs matplotlib)")
    sp.add_argument("--audit", action="store_true",
                    help="also audit the file's annotations (extra [audit]) and add the section to the report")


def _scheduler_arg(sp: argparse.ArgumentParser, what: str) -> None:
    sp.add_argument("--scheduler", metavar="ADDR", help=f"a Dask scheduler address (tcp://HOST:8786): {what} "
                                                        "(needs the dask extra)")


def _schema_commands(add: Adder) -> None:
    sp = add("validate", cmd_validate, "check a schema file and report every problem")
    sp.add_argument("schema")
    sp = add("plan", cmd_plan, "print the plan (graph of submodels) of a schema")
    sp.add_argument("schema")
    sp.add_argument("--format", choices=["text", "json", "dot"], default="text")


def _training_commands(add: Adder) -> None:
    sp = add("train", cmd_train, "train every group with a column in the data, and release")
    sp.add_argument("schema")
    sp.add_argument("--data", required=True)
    sp.add_argument("--store", required=True)
    key_arg(sp)
    sp.add_argument("--only", help="comma-separated groups to train alone, on the live features")
    sp.add_argument("--jobs", type=int, help="parallel fits (default: automatic)")
    budget_arg(sp)
    gate_args(sp)
    sp.add_argument("--format", choices=["joblib", "skops"],
                    help="the artifact format of the new versions (default: the schema's store.artifact_format, "
                         "else the live release's, else joblib)")
    _scheduler_arg(sp, "every estimator fit runs on that Dask cluster, whatever the data size")
    sp = add("retrain", cmd_retrain, "retrain one group (or one feature and its heads), gated against the live version")
    sp.add_argument("schema")
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--group")
    what.add_argument("--feature")
    sp.add_argument("--data", required=True)
    sp.add_argument("--store", required=True)
    key_arg(sp)
    gate_args(sp)
    sp.add_argument("--jobs", type=int)
    _scheduler_arg(sp, "every estimator fit runs on that Dask cluster, whatever the data size")
    budget_arg(sp)
    sp = add("tune", cmd_tune, "tune a group's decision to a target on held-out rows, and release it")
    store_args(sp)
    sp.add_argument("--group", required=True)
    sp.add_argument("--target", help="precision=0.95, recall=0.8 or f1 (required unless --curve)")
    sp.add_argument("--curve", action="store_true",
                    help="print precision/recall against the threshold (multiclass: accuracy/coverage against "
                         "min_confidence), the live decision marked")
    sp.add_argument("--data", help="labelled rows; only those in the training holdout are used "
                                   "(default: the holdout stored with the live head version)")
    sp.add_argument("--dry-run", action="store_true", help="report, but write nothing")
    sp.add_argument("--note", help="the new release's note")
    sp.add_argument("--json", help="write the report as JSON")


def _model_commands(add: Adder) -> None:
    sp = add("predict", cmd_predict, "predict merged results for a data file")
    store_args(sp)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True, help=".jsonl (merged results) or .csv/.parquet (flat table)")
    sp.add_argument("--batch-size", type=int, default=20_000,
                    help="rows read, predicted and written at a time (default 20000); memory is bounded by it")
    sp.add_argument("--id", help="an input column written first in the output, to join the results back")
    _scheduler_arg(sp, "predict on that Dask cluster: --data is a glob ('dir/*.parquet'), --out a folder that "
                       "gets one part per input file")
    sp.add_argument("--release", help="a release other than the live one")
    sp = add("evaluate", cmd_evaluate, "evaluate the live release on labelled data")
    store_args(sp)
    sp.add_argument("--data", required=True)
    sp.add_argument("--json", help="write the full report as JSON")
    _evaluate_args(sp)
    sp.add_argument("--release", help="a release other than the live one")


def register(add: Adder) -> None:
    for commands in (_schema_commands, _training_commands, _model_commands):
        commands(add)
