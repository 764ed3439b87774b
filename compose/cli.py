"""The `compose` command line. A user's mistake prints one clear message and exits non-zero."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import compose
from compose.report import require_matplotlib, write_html

EXIT_USER_ERROR = 2
EXIT_REFUSED = 3


Adder = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")


def _write_json(path: str | None, obj: Any) -> None:
    """Write `obj` as JSON to the path of a `--json` option, if one was given, and say so."""
    if path:
        Path(path).write_text(json.dumps(obj, indent=2), encoding="utf-8")
        _print(f"wrote {path}")


def _schema(path: str) -> compose.Schema:
    return compose.load_schema(path)


def cmd_validate(a: argparse.Namespace) -> int:
    schema = _schema(a.schema)
    compose.build_plan(schema)
    n_labels = sum(len(schema.labels_of(g)) for g in schema.groups)
    _print(f"{a.schema}: valid schema {schema.name!r}: {len(schema.inputs)} inputs, {len(schema.features)} "
           f"features, {len(schema.groups)} groups, {n_labels} labels")
    return 0


def cmd_plan(a: argparse.Namespace) -> int:
    plan = compose.build_plan(_schema(a.schema))
    if a.format == "json":
        _print(json.dumps(plan.to_json(), indent=2))
    elif a.format == "dot":
        _print(plan.to_dot())
    else:
        _print(plan.to_text())
    return 0


def _print_report(report: compose.TrainReport) -> None:
    for g, r in report.groups.items():
        metric = next((k for k in ("accuracy", "micro_f1") if k in r.metrics), None)
        value = f"{metric} {r.metrics[metric]:.4f}" if metric else "no holdout rows"
        state = "released" if r.released else "kept, NOT released"
        gate = ""
        if r.gate and "live" in r.gate:
            gate = f"; live v{r.gate['against']:04d} scored {r.gate['live']:.4f} on the same {r.gate['n_holdout']} rows"
        _print(f"  {g:<18} v{r.version:04d}  {r.n_train:>6} train / {r.n_holdout:>5} holdout rows  "
               f"holdout {value}{gate}  [{state}]")
    if report.release:
        _print(f"release {report.release} is live in {report.store}")
    else:
        _print(f"no new release; the live release in {report.store} is unchanged")


def cmd_train(a: argparse.Namespace) -> int:
    schema = _schema(a.schema)
    only = [g.strip() for g in a.only.split(",")] if a.only else None
    report = compose.fit_and_release(
        schema, a.data, a.store, groups=only, refit=None if only is None else set(), n_jobs=a.jobs,
        note="train" if only is None else f"train --only {a.only}")
    _print_report(report)
    return 0


def cmd_retrain(a: argparse.Namespace) -> int:
    schema = _schema(a.schema)
    try:
        report = compose.retrain(schema, a.data, a.store, group=a.group, feature=a.feature, force=a.force,
                                 n_jobs=a.jobs)
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
    model = _load(a)
    out = Path(a.out)
    suffix = out.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv", ".parquet"):
        raise compose.DataError(f"--out {a.out}: unknown output type {suffix!r}; use .jsonl, .csv or .parquet")
    if a.batch_size < 1:
        raise compose.DataError(f"--batch-size must be at least 1; got {a.batch_size}")
    # Validate every row first, so an error names its row in the whole file, then work in batches.
    inputs = compose.prepare_inputs(compose.read_table(a.data), model.schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    log = logging.getLogger("compose")
    frames = []
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for start in range(0, max(len(inputs), 1), a.batch_size):
                batch = inputs.iloc[start:start + a.batch_size].reset_index(drop=True)
                if suffix in (".jsonl", ".ndjson"):
                    fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in model.predict(batch))
                elif suffix == ".csv":
                    model.predict_frame(batch).to_csv(fh, index=False, header=start == 0)
                else:
                    frames.append(model.predict_frame(batch))
                if len(inputs) > a.batch_size:
                    log.info("predicted %d of %d rows", min(start + a.batch_size, len(inputs)), len(inputs))
        if frames:
            pd.concat(frames, ignore_index=True).to_parquet(tmp, index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("wrote %d results to %s (release %s)", len(inputs), out, model.release_name)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    if a.html:
        require_matplotlib()  # fail before the work, not after it
    model = _load(a)
    if a.baseline:
        logging.getLogger("compose").info("fitting the %s baseline on the training-split rows of %s", a.baseline,
                                          a.data)
    report = compose.evaluate(model, a.data, split=a.split, baseline=a.baseline)
    for line in compose.evaluation_summary(report):
        _print(line)
    _write_json(a.json, report)
    if a.html:
        write_html(report, a.html)
        _print(f"wrote {a.html}")
    return 0


def cmd_versions(a: argparse.Namespace) -> int:
    rows = compose.list_versions(a.store, model=a.model, group=a.group)
    if a.json:
        _print(json.dumps(rows, indent=2))
        return 0
    _print(f"{'':2}{'kind':<10}{'name':<18}{'version':<9}{'rows':>7}{'holdout':>9}  {'metric':<22}{'data':<18}"
           f"{'created':<27}parents")
    for r in rows:
        metric = r["gate_metric"]
        value = r["metrics"].get(metric) if metric else None
        shown = f"{metric} {value:.4f}" if isinstance(value, float) else "-"
        parents = ", ".join(f"{f} v{v:04d}" for f, v in r["parents"].items())
        _print(f"{'*' if r['live'] else ' ':2}{r['kind']:<10}{r['name']:<18}v{r['version']:04d}    "
               f"{r['rows'] or 0:>7}{r['holdout_rows'] if r['holdout_rows'] is not None else '-':>9}  "
               f"{shown:<22}{r['data'] or '-':<18}{r['created'] or '-':<27}{parents}")
    _print("(* = in the live release)")
    return 0


def cmd_releases(a: argparse.Namespace) -> int:
    rows = compose.list_releases(a.store, model=a.model)
    if a.json:
        _print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        pins = ", ".join(f"{g} v{v:04d}" + (f" (decision v{r['decisions'][g]:04d})" if g in r["decisions"] else "")
                         for g, v in r["groups"].items())
        _print(f"{'*' if r['live'] else ' '} {r['release']}  {r['created']}  {r['note']:<34}  {pins}")
    return 0


def cmd_rollback(a: argparse.Namespace) -> int:
    if a.to_release:
        name = compose.set_release(a.store, a.to_release, model=a.model)
        _print(f"CURRENT now names {name}")
        return 0
    if not (a.group and a.to):
        raise compose.DataError("rollback needs --group G --to vN, or --to-release rNNNN")
    name = compose.rollback(a.store, a.group, a.to, model=a.model)
    _print(f"release {name} is live: group {a.group} at {a.to}")
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    check = compose.verify_store(a.store, model=a.model)
    for line in check.lines():
        _print(line)
    return 0 if check.ok else 1


def cmd_promote(a: argparse.Namespace) -> int:
    name = compose.promote(a.store, a.group, a.version, model=a.model)
    _print(f"release {name} is live: group {a.group} at {a.version}")
    return 0


def cmd_diff(a: argparse.Namespace) -> int:
    for line in compose.diff_releases(a.store, a.a, a.b, model=a.model):
        _print(line)
    return 0


def cmd_tune(a: argparse.Namespace) -> int:
    report = compose.tune(a.store, a.group, a.target, data=a.data, model=a.model, dry_run=a.dry_run, note=a.note)
    for line in report.lines():
        _print(line)
    _write_json(a.json, report.to_dict())
    return 0 if report.any_met else EXIT_REFUSED


def _evaluate_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--split", choices=["all", "holdout", "train"],
                    help="rows to evaluate, by the training holdout rule (default: holdout with --baseline, else all)")
    sp.add_argument("--baseline", choices=["monolithic"],
                    help="also fit one one-vs-rest model over every label on the training-split rows, and compare")
    sp.add_argument("--html", help="write a self-contained HTML report (needs matplotlib)")


def _store_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--store", required=True, help="the store's root folder (or a model folder in it)")
    sp.add_argument("--model", help="the model's name, when the store holds more than one")


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
    sp.add_argument("--only", help="comma-separated groups to train alone, on the live features")
    sp.add_argument("--jobs", type=int, help="parallel fits (default: automatic)")
    sp = add("retrain", cmd_retrain, "retrain one group (or one feature and its heads), gated against the live version")
    sp.add_argument("schema")
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--group")
    what.add_argument("--feature")
    sp.add_argument("--data", required=True)
    sp.add_argument("--store", required=True)
    sp.add_argument("--force", action="store_true", help="release even if the gate refuses")
    sp.add_argument("--jobs", type=int)
    sp = add("tune", cmd_tune, "tune a group's decision to a target on held-out rows, and release it")
    _store_args(sp)
    sp.add_argument("--group", required=True)
    sp.add_argument("--target", required=True, help="precision=0.95, recall=0.8 or f1")
    sp.add_argument("--data", help="labelled rows; only those in the training holdout are used "
                                   "(default: the holdout stored with the live head version)")
    sp.add_argument("--dry-run", action="store_true", help="report, but write nothing")
    sp.add_argument("--note", help="the new release's note")
    sp.add_argument("--json", help="write the report as JSON")


def _model_commands(add: Adder) -> None:
    sp = add("predict", cmd_predict, "predict merged results for a data file")
    _store_args(sp)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True, help=".jsonl (merged results) or .csv/.parquet (flat table)")
    sp.add_argument("--batch-size", type=int, default=20_000, help="rows predicted at a time (default 20000)")
    sp.add_argument("--release", help="a release other than the live one")
    sp = add("evaluate", cmd_evaluate, "evaluate the live release on labelled data")
    _store_args(sp)
    sp.add_argument("--data", required=True)
    sp.add_argument("--json", help="write the full report as JSON")
    _evaluate_args(sp)
    sp.add_argument("--release", help="a release other than the live one")


def _history_commands(add: Adder) -> None:
    sp = add("versions", cmd_versions, "list stored versions with their metrics")
    _store_args(sp)
    sp.add_argument("--group")
    sp.add_argument("--json", action="store_true")
    sp = add("releases", cmd_releases, "list releases")
    _store_args(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("rollback", cmd_rollback, "release an earlier version of a group, or point CURRENT at a release")
    _store_args(sp)
    sp.add_argument("--group")
    sp.add_argument("--to", help="the version, e.g. v0002")
    sp.add_argument("--to-release", help="make this existing release live, e.g. r0003")
    sp = add("promote", cmd_promote, "release a kept version of a group")
    _store_args(sp)
    sp.add_argument("--group", required=True)
    sp.add_argument("--version", required=True)
    sp = add("verify", cmd_verify, "check every release and version of a store (sha256s, pins) without loading")
    _store_args(sp)
    sp = add("diff", cmd_diff, "what changed between two releases")
    sp.add_argument("a")
    sp.add_argument("b")
    _store_args(sp)


def _parser() -> argparse.ArgumentParser:
    from compose.cli_advisor import register as register_advisor

    p = argparse.ArgumentParser(prog="compose", description="Classification with separated label groups.")
    p.add_argument("--version", action="version", version=f"compose {compose.__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    for commands in (_schema_commands, _training_commands, _model_commands, _history_commands, register_advisor):
        commands(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("compose")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    logging.captureWarnings(True)
    try:
        fn: Callable[[argparse.Namespace], int] = args.fn
        return fn(args)
    except compose.ComposeError as exc:
        sys.stderr.write(f"compose: error: {exc}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("compose: interrupted; the store keeps its previous release\n")
        return 130
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        sys.stderr.write(f"compose: error: {exc.strerror or exc}: {exc.filename}\n")
        return EXIT_USER_ERROR
    except Exception as exc:
        if os.environ.get("COMPOSE_DEBUG"):
            raise
        sys.stderr.write(f"compose: internal error: {type(exc).__name__}: {exc}. This is a bug in compose, not in "
                         "your input; rerun with COMPOSE_DEBUG=1 for the traceback and report it\n")
        return 1
    finally:
        logger.removeHandler(handler)
