"""compose against plain scikit-learn: throughput, latency, fit, load and memory, in one run.

    .venv/bin/python benchmarks/run.py            # synthetic (20,000 rows) and the full movies table
    .venv/bin/python benchmarks/run.py --quick    # smaller, under about two minutes
    .venv/bin/python benchmarks/run.py --smoke    # CI: 600 synthetic rows, 400 films, one repetition (seconds)
    .venv/bin/python benchmarks/run.py --rows 50000 --only synthetic

Per data set: compose (`compose.train`, `compose.load`, the fused batch path and `predict_one`)
against three scikit-learn set-ups built from the same featurizers and estimators
(benchmarks/baselines.py). Then the targets of issue 7: one-row p50 against featurizing the row
alone, batch time against featurizing the batch plus the heads' arithmetic, and the speed-up of
parallel head fits (joblib processes, one BLAS thread each, as compose.training.run does).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from baselines import MonolithicBaseline, PipelinesBaseline, SharedBaseline  # noqa: E402
from corpus import SCHEMA, make_corpus  # noqa: E402
from fit_parts import describe, timed_train  # noqa: E402

import compose  # noqa: E402
from compose.data.io import as_frame  # noqa: E402
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes  # noqa: E402
from compose.featurize.base import hstack  # noqa: E402
from compose.featurize.rows import prepare_row  # noqa: E402
from compose.schema.load import parse_schema  # noqa: E402
from compose.schema.models import Schema  # noqa: E402
from compose.training.executor import FitJob  # noqa: E402

SYSTEMS = ["compose", "shared", "pipelines", "monolithic"]
TITLES = {"compose": "compose", "shared": "sklearn: shared featurizer + heads",
          "pipelines": "sklearn: one pipeline per group", "monolithic": "sklearn: monolithic one-vs-rest"}

LOAD_SCRIPT = """
import gc, json, sys, time, tracemalloc
here, pairs = sys.argv[1], sys.argv[2:]
sys.path.insert(0, here)
import joblib, compose
for kind, path in zip(pairs[::2], pairs[1::2]):
    load = (lambda: compose.load(path)) if kind == "compose" else (lambda: joblib.load(path))
    t0 = time.perf_counter(); obj = load(); seconds = time.perf_counter() - t0
    del obj; gc.collect()
    tracemalloc.start(); obj = load(); peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    del obj; gc.collect()
    print(json.dumps({"seconds": seconds, "peak_mb": peak / 2**20}))
"""


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def latencies(fn: Callable[[Any], Any], items: list[Any], calls: int) -> np.ndarray:
    for item in items[:5]:
        fn(item)
    out = np.empty(calls)
    for i in range(calls):
        item = items[i % len(items)]
        t0 = time.perf_counter()
        fn(item)
        out[i] = time.perf_counter() - t0
    return out


def stage(name: str, what: str, since: float) -> float:
    now = time.perf_counter()
    print(f"  {name}: {what} done at {now - since:.0f} s", file=sys.stderr)
    return since


def load_stats(kind: str, path: Path, runs: int) -> dict[str, float]:
    """The median over `runs` fresh processes of the seconds and peak memory of one load."""
    done = [_loads([(kind, path)])[0] for _ in range(runs)]
    return {"seconds": float(np.median([r["seconds"] for r in done])),
            "peak_mb": float(np.median([r["peak_mb"] for r in done]))}


def _loads(pairs: list[tuple[str, Path]]) -> list[dict[str, float]]:
    """One fresh process loading each (kind, path) in turn: its seconds and peak memory per load."""
    args = [str(x) for pair in pairs for x in pair]
    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(ROOT / "benchmarks"), *args], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return [json.loads(line) for line in out[-len(pairs):]]


def mappings(df: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """Rows as a caller would pass them: None for an empty cell, numbers as floats."""
    out = []
    for rec in df.to_dict("records"):
        row: dict[str, Any] = {}
        for name, spec in schema.inputs.items():
            v = rec.get(name)
            v = None if v is None or (isinstance(v, float) and np.isnan(v)) else v
            row[name] = float(v) if v is not None and spec.type == "number" else v
        out.append(row)
    return out


def head_jobs(schema: Schema, inputs: pd.DataFrame, model: Any, train: np.ndarray,
              targets: dict[str, Any]) -> list[FitJob]:
    """The estimator fits of every head, as compose.training.run builds them."""
    blocks = model.transform_features(inputs)
    jobs = []
    for g, t in targets.items():
        spec = schema.groups[g]
        rows = np.intersect1d(np.flatnonzero(t.labelled), train)
        x = hstack([blocks[f] for f in schema.features_of(g)])[rows]
        if spec.type == "multilabel":
            jobs += [FitJob(spec.model.estimator, dict(spec.model.params), x, t.y[rows, j], g, True)
                     for j in range(len(t.labels))]
        else:
            jobs.append(FitJob(spec.model.estimator, dict(spec.model.params), x, t.y[rows], g, False))
    return jobs


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """The best of `repeat` rounds of each function, the functions taking turns in every round (a
    shared, busy machine slows them alike, so the ratios between them stay fair)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def columnar(model: Any, baselines: dict[str, Any], df: pd.DataFrame, schema: Schema, rows: int,
             repeat: int) -> dict[str, float]:
    """Seconds for `rows` rows: the baselines' predict_proba, compose's scores and its Predictions exports."""
    batch = df.sample(n=rows, replace=len(df) < rows, random_state=2).reset_index(drop=True)
    prepared = prepare_inputs(batch, schema)
    # the exports are written to memory where the machine has it: on a disk, ext4 flushes a rewritten file's
    # pages at close (auto_da_alloc), and that flush, not compose, decided to_jsonl's figure in some runs
    shm = Path("/dev/shm")
    sink = Path(tempfile.mkdtemp(prefix="bench-out-", dir=shm if shm.is_dir() else None))
    fns: dict[str, Callable[[], Any]] = {
        "shared": lambda: baselines["shared"].predict_proba(prepared),
        "pipelines": lambda: baselines["pipelines"].predict_proba(prepared),
        "scores": lambda: model.predict_scores(batch),
        "to_frame": lambda: model.predict(batch).to_frame(),
        "to_arrow": lambda: model.predict(batch).to_arrow(),
        "dicts": lambda: model.predict(batch).to_list(),
        "to_jsonl": lambda: model.predict(batch).to_jsonl(sink / "p.jsonl"),
        "to_parquet": lambda: model.predict(batch).to_parquet(sink / "p.parquet"),
    }
    # 8 fast functions: at least 9 rounds, the best of each (two runs of 5 rounds at rest gave to_jsonl 1.67x and 1.24x)
    rounds = max(repeat, 9) if repeat > 1 else 1
    try:
        out = interleaved(fns, rounds)
    finally:
        shutil.rmtree(sink, ignore_errors=True)
    out["rows"] = rows
    return out


@dataclass(frozen=True)
class Mode:
    """How much of each measurement a run takes: the default, --quick or --smoke."""

    batch_rows: int = 10_000
    calls: int = 2_000
    repeat: int = 5
    pred_rows: int = 4_000
    loads: int = 3
    few_calls: int = 400  # one-row calls of the slow scikit-learn set-ups (milliseconds each)
    one_load_process: bool = False  # --smoke: every load in one fresh process (not one process each)


MODES = {"full": Mode(), "quick": Mode(2_000, 250, 3, 2_000, 1, 50),
         "smoke": Mode(200, 50, 1, 200, 1, 10, one_load_process=True)}


def scenario(name: str, schema: Schema, df: pd.DataFrame, mode: Mode) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    r: dict[str, Any] = {"name": name, "rows": len(df)}
    try:
        inputs = prepare_inputs(df, schema)
        train = np.flatnonzero(~holdout_mask(row_hashes(inputs, schema.training.seed), schema.training.holdout))
        targets = parse_targets(df, schema)
        r["groups"] = len(targets)
        start = time.perf_counter()
        model, baselines = fits(r, schema, df, inputs, targets, train, work)
        stage(name, "fit", start)
        loads(r, schema, work, list(baselines), mode)
        stage(name, "load" if "load" in r else "loads listed", start)
        batches(r, model, baselines, schema, df, mode)
        stage(name, "batch", start)
        one_rows(r, model, baselines, schema, df, mode.calls, mode.few_calls)
        stage(name, "one row", start)
        # Training: the same head fits sequentially and on 2 worker processes (one BLAS thread each),
        # through compose's own executors.
        jobs = head_jobs(schema, inputs, model, train, targets)
        seq = best_of(lambda: compose.LocalExecutor().map(jobs), 1)
        par = best_of(lambda: compose.ProcessExecutor(2).map(jobs), 1)
        stage(name, "training", start)
        r["training"] = {"fits": len(jobs), "sequential": seq, "parallel_2": par}
        return r
    finally:
        if mode.one_load_process and "load_pairs" in r:
            r["work"] = work  # loaded later, by `shared_loads`, which removes it
        else:
            shutil.rmtree(work, ignore_errors=True)  # the stores of the fits


def fits(r: dict[str, Any], schema: Schema, df: pd.DataFrame, inputs: pd.DataFrame, targets: dict[str, Any],
         train: np.ndarray, work: Path) -> tuple[Any, dict[str, Any]]:
    """Fit: what `compose train` runs (`compose.train_groups`: features, heads, holdout metrics, store
    writes) with every fit in this process, as the baselines fit, timed by its parts; then the same
    with the automatic executor (what `compose train` does by default). The baselines: fit, then
    `joblib.dump` (their store write), on the same training rows."""
    timed = timed_train(schema, df, work / "store")
    fit = {"compose": timed["seconds"]}
    r["fit_cpu"] = {"compose": timed["cpu_seconds"]}
    r["fit_parts"] = {"compose": timed["parts"], "missing": timed["missing"]}
    model = compose.load(work / "store" / schema.name)
    baselines = {"shared": SharedBaseline(schema), "pipelines": PipelinesBaseline(schema),
                 "monolithic": MonolithicBaseline(schema)}
    for key, base in baselines.items():
        t0, c0 = time.perf_counter(), time.process_time()
        with threadpool_limits(limits=1):  # as compose fits: BLAS oversubscription would only slow them down
            base.fit(inputs, targets, train)
        t1 = time.perf_counter()
        joblib.dump(base, work / f"{key}.joblib")
        fit[key] = time.perf_counter() - t0
        r["fit_cpu"][key] = time.process_time() - c0
        if key == "shared":
            r["fit_parts"]["shared"] = {**base.seconds, "dump": time.perf_counter() - t1}
    r["fit"] = fit
    t0 = time.perf_counter()
    compose.train_groups(schema, df, store=work / "store-auto")
    r["fit_auto"] = time.perf_counter() - t0
    r["fused"] = list(model.fused_groups)
    r["features"] = dict(model.widths_)
    return model, baselines


def loads(r: dict[str, Any], schema: Schema, work: Path, baselines: list[str], mode: Mode) -> None:
    """Cold start: a fresh process loads the release (or the pickled baseline). With
    `one_load_process` the loads are only listed here, for `shared_loads` after every data set."""
    pairs = [("compose", work / "store" / schema.name), *(("joblib", work / f"{k}.joblib") for k in baselines)]
    keys = ["compose", *baselines]
    if mode.one_load_process:
        r["load_pairs"] = list(zip(keys, pairs, strict=True))
    else:
        r["load"] = {key: load_stats(kind, path, mode.loads) for key, (kind, path) in zip(keys, pairs, strict=True)}


def shared_loads(results: list[dict[str, Any]]) -> None:
    """--smoke: every listed load of every data set in one fresh process (one interpreter start-up)."""
    listed = [(r, key, pair) for r in results for key, pair in r.pop("load_pairs", [])]
    try:
        if listed:
            for (r, key, _), stats in zip(listed, _loads([pair for _, _, pair in listed]), strict=True):
                r.setdefault("load", {})[key] = stats
    finally:
        for r in results:
            if "work" in r:
                shutil.rmtree(r.pop("work"), ignore_errors=True)


def batches(r: dict[str, Any], model: Any, baselines: dict[str, Any], schema: Schema, df: pd.DataFrame,
            mode: Mode) -> None:
    """Batch throughput, on `batch_rows` rows (repeated if the data set is smaller), and its parts."""
    batch_rows, repeat = mode.batch_rows, mode.repeat
    batch = df.sample(n=batch_rows, replace=len(df) < batch_rows, random_state=0).reset_index(drop=True)
    prepared = prepare_inputs(batch, schema)
    secs = {"compose": best_of(lambda: model.predict_scores(batch), repeat)}
    secs.update({k: best_of(lambda b=b: b.predict_proba(prepared), repeat) for k, b in baselines.items()})
    r["batch_rows_per_s"] = {k: batch_rows / s for k, s in secs.items()}
    r["columnar"] = columnar(model, baselines, df, schema, mode.pred_rows, repeat)
    validate = best_of(lambda: prepare_inputs(as_frame(batch), schema), repeat)
    featurize = best_of(lambda: model.transform_features(prepared), repeat)
    blocks = model.transform_features(prepared)
    fallback = [g for g in model.groups if g not in model.fused_groups]

    def arithmetic() -> None:
        z = model.fused_.logits(blocks)
        for g in model.fused_groups:
            model.fused_.scores(g, z)
        for g in fallback:
            model.heads_[g].scores(hstack([blocks[f] for f in model.heads_[g].features]))

    heads = best_of(arithmetic, repeat)
    r["batch_parts"] = {"compose": secs["compose"], "validate": validate, "featurize": featurize, "heads": heads}


def one_rows(r: dict[str, Any], model: Any, baselines: dict[str, Any], schema: Schema, df: pd.DataFrame,
             calls: int, few: int) -> None:
    """One row: p50 and p99 of single calls on distinct rows."""
    rows = mappings(df.sample(n=min(500, len(df)), random_state=1), schema)
    frames = [prepare_inputs(pd.DataFrame([row]), schema) for row in rows[:min(200, calls)]]
    lat = {"compose": latencies(model.predict_one, rows, calls)}
    lat.update({k: latencies(b.predict_proba, frames, few) for k, b in baselines.items()})
    featurizers = model.row_featurizers_
    lat["featurize_row"] = latencies(
        lambda row: {f: fz(prepare_row(schema, row)) for f, (fz, _) in featurizers.items()}, rows, calls)
    lat["featurize_row_sklearn"] = latencies(model.transform_features, frames, few)
    r["latency_ms"] = {k: (float(np.percentile(v, 50)) * 1e3, float(np.percentile(v, 99)) * 1e3)
                       for k, v in lat.items()}


def _x(compose_value: float, other: float, higher_is_better: bool) -> str:
    factor = compose_value / other if higher_is_better else other / compose_value
    return f"×{factor:.1f}"


def table(r: dict[str, Any]) -> str:
    lines = [f"### {r['name']}: {r['rows']:,} rows, {r['groups']} groups, features "
             + ", ".join(f"{f} {w:,} columns" for f, w in r["features"].items())
             + f"; fused heads: {', '.join(r['fused']) or 'none'}",
             "", "| metric | " + " | ".join(TITLES[s] for s in SYSTEMS) + " |",
             "|---" * (len(SYSTEMS) + 1) + "|"]
    specs = [("batch rows/s", r["batch_rows_per_s"], True, "{:,.0f}"),
             ("one row p50 (ms)", {k: v[0] for k, v in r["latency_ms"].items()}, False, "{:.3f}"),
             ("one row p99 (ms)", {k: v[1] for k, v in r["latency_ms"].items()}, False, "{:.3f}"),
             ("fit (s)", r["fit"], False, "{:.2f}"),
             ("load (s)", {k: v["seconds"] for k, v in r["load"].items()}, False, "{:.3f}"),
             ("load peak memory (MB)", {k: v["peak_mb"] for k, v in r["load"].items()}, False, "{:.1f}")]
    for label, values, higher, fmt in specs:
        cells = [fmt.format(values["compose"])]
        cells += [f"{fmt.format(values[s])} ({_x(values['compose'], values[s], higher)})" for s in SYSTEMS[1:]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_table(r: dict[str, Any]) -> str:
    p, lat = r["batch_parts"], r["latency_ms"]
    one = lat["compose"][0]
    batch_ratio = p["compose"] / (p["featurize"] + p["heads"])
    vs_pipes = r["batch_rows_per_s"]["compose"] / r["batch_rows_per_s"]["pipelines"]
    rows = [
        ("one row p50 / featurizing the row (compose's row featurizer)", one / lat["featurize_row"][0], 1.3),
        ("one row p50 / featurizing the row (the featurizers' own transform)", one / lat["featurize_row_sklearn"][0],
         1.3),
        ("batch / (featurize + heads' arithmetic)", batch_ratio, 1.05),
        ("batch / (validate + featurize + heads' arithmetic)", p["compose"] / (p["validate"] + p["featurize"]
                                                                                + p["heads"]), 1.05),
        ("one pipeline per group / batch (speed-up)", vs_pipes, -2.5),
    ]
    lines = [f"Targets ({r['name']}); batch parts: compose {p['compose'] * 1e3:.0f} ms = "
             f"validate {p['validate'] * 1e3:.0f} + featurize {p['featurize'] * 1e3:.0f} + heads "
             f"{p['heads'] * 1e3:.1f} + the rest; one row: compose {one * 1e3:.0f} µs, row featurizer "
             f"{lat['featurize_row'][0] * 1e3:.0f} µs, the featurizers' transform "
             f"{lat['featurize_row_sklearn'][0] * 1e3:.0f} µs",
             "", "| target | measured | goal | met |", "|---|---|---|---|"]
    for label, value, goal in rows:
        ok = value >= -goal if goal < 0 else value <= goal
        lines.append(f"| {label} | {value:.2f} | {'≥' if goal < 0 else '≤'} {abs(goal)} | {'yes' if ok else 'no'} |")
    return "\n".join(lines)


def columnar_table(r: dict[str, Any]) -> str:
    """Issue 13's goals: columnar results and fits, as ratios to plain scikit-learn in the same run."""
    c, t, fit = r["columnar"], r["training"], r["fit"]
    ms = {k: v * 1e3 for k, v in c.items() if k != "rows"}
    lines = [f"Columnar results and fits ({r['name']}); {c['rows']:,} rows: sklearn shared featurizer + predict_proba "
             f"{ms['shared']:.0f} ms, one pipeline per group {ms['pipelines']:.0f} ms; compose scores "
             f"{ms['scores']:.0f} ms, to_frame {ms['to_frame']:.0f}, to_arrow {ms['to_arrow']:.0f}, "
             f"merged-result dicts {ms['dicts']:.0f}, to_jsonl {ms['to_jsonl']:.0f}, to_parquet "
             f"{ms['to_parquet']:.0f} ms (each from the input frame: validation, features, heads, decisions, export)",
             "", "| goal | measured | goal | met |", "|---|---|---|---|"]
    speedup = t["sequential"] / t["parallel_2"]
    rows: list[tuple[str, float, str, bool]] = [
        ("predict(...).to_frame() / sklearn shared + predict_proba", c["to_frame"] / c["shared"], "≤ 1.1",
         c["to_frame"] / c["shared"] <= 1.1),
        ("predict(...).to_arrow() / sklearn shared + predict_proba", c["to_arrow"] / c["shared"], "≤ 1.1",
         c["to_arrow"] / c["shared"] <= 1.1),
        ("every merged-result dict / sklearn shared + predict_proba", c["dicts"] / c["shared"], "≤ 2",
         c["dicts"] / c["shared"] <= 2),
        ("one sklearn pipeline per group / to_frame() (speed-up)", c["pipelines"] / c["to_frame"], "≥ 2.5",
         c["pipelines"] / c["to_frame"] >= 2.5),
        ("to_jsonl() / sklearn shared + predict_proba", c["to_jsonl"] / c["shared"], "≤ 1.5",
         c["to_jsonl"] / c["shared"] <= 1.5),
        ("compose train, one process, store writes included / sklearn shared featurizer + heads + joblib.dump",
         fit["compose"] / fit["shared"], "≤ 1.15", fit["compose"] / fit["shared"] <= 1.15),
        ("the same in CPU seconds (steadier than wall time on a shared machine)",
         r["fit_cpu"]["compose"] / r["fit_cpu"]["shared"], "report", True),
        ("compose train / sklearn shared featurizer + heads, without joblib.dump",
         fit["compose"] / (fit["shared"] - r["fit_parts"]["shared"]["dump"]), "report", True),
        (f"head fits on 2 worker processes vs sequential ({t['fits']} fits; {t['sequential']:.1f} s → "
         f"{t['parallel_2']:.1f} s)", speedup, "≥ 1.7" if t["fits"] >= 10 else "report (< 10 fits)",
         speedup >= 1.7 or t["fits"] < 10),
    ]
    for label, value, goal, ok in rows:
        met = "—" if goal.startswith("report") else ("yes" if ok else "no")
        lines.append(f"| {label} | {value:.2f} | {goal} | {met} |")
    lines.append(f"| compose train with the automatic executor (s) | {r['fit_auto']:.1f} | report | — |")
    return "\n".join(lines) + "\n\n" + fit_breakdown(r)


def fit_breakdown(r: dict[str, Any]) -> str:
    """Where the seconds of compose's fit went, beside the shared baseline's."""
    parts, base = r["fit_parts"]["compose"], r["fit_parts"]["shared"]
    missing = r["fit_parts"]["missing"]
    line = (f"Where a fit goes ({r['name']}): compose.train {r['fit']['compose']:.2f} s = {describe(parts)}; "
            f"sklearn shared {r['fit']['shared']:.2f} s = featurizers fitted and every row transformed "
            f"{base['features']:.2f}, the estimator fits {base['heads']:.2f}, joblib.dump {base['dump']:.2f}")
    return line + (f" (steps not found, counted in the rest: {', '.join(missing)})" if missing else "")


def data_set(name: str, rows: int | None, mode: str) -> tuple[Schema, pd.DataFrame]:
    """The schema and rows of one data set: the seeded synthetic corpus, or the movies table."""
    if name == "synthetic":
        return parse_schema(SCHEMA), make_corpus(rows or SYNTHETIC_ROWS[mode], seed=0)
    if name == "movies":
        df = pd.read_csv(ROOT / "examples/movies/movies.csv.gz", dtype=str, keep_default_na=False, na_values=[""])
        return compose.load_schema(ROOT / "schemas/movies.yaml"), df.head(MOVIES_ROWS[mode] or len(df))
    raise SystemExit(f"unknown data set {name!r}; use synthetic or movies")


SYNTHETIC_ROWS = {"full": 20_000, "quick": 3_000, "smoke": 600}
MOVIES_ROWS = {"full": 0, "quick": 2_000, "smoke": 400}  # 0: every film


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets, under about two minutes")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: 600 synthetic rows, 400 films, one repetition, every load in one process")
    parser.add_argument("--rows", type=int, default=None,
                        help="synthetic rows (default 20,000; quick 3,000; smoke 600)")
    parser.add_argument("--only", default="synthetic,movies", help="comma-separated: synthetic, movies")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    results = []
    for name in args.only.split(","):
        schema, df = data_set(name, args.rows, mode)
        t0 = time.perf_counter()
        results.append(scenario(name, schema, df, MODES[mode]))
        print(f"[{name}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    shared_loads(results)
    print(f"`{' '.join(['python', 'benchmarks/run.py', *(argv if argv is not None else sys.argv[1:])])}` on "
          f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {platform.machine()}, Python "
          f"{platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}.\n"
          "×N: compose is N times better (faster, or smaller) than that column.\n")
    for r in results:
        print(table(r) + "\n\n" + targets_table(r) + "\n\n" + columnar_table(r) + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
