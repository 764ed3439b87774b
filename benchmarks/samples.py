"""The sample store's figures (issue 11): import speed, `learn` against a plain scikit-learn fit, size.

    .venv/bin/python benchmarks/samples.py            # 1,000,000 rows imported; learn on a 100,000-sample store
    .venv/bin/python benchmarks/samples.py --quick    # 100,000 rows; a 20,000-sample store
    .venv/bin/python benchmarks/samples.py --smoke    # CI: 2,000 rows; a 600-sample store

Rows are the 17,472 films of examples/movies/movies.csv.gz, repeated with a copy number added to
the title and the runtime nudged, so that every row is a distinct sample (real text, real label
distributions).

1. **Import**: `SampleStore.upsert` of N rows in chunks of 100,000 (one transaction each) into a
   new store: rows/s over the whole import, and the database's size per sample.
2. **learn** of 100 new labels for one group (`decade`, a logistic regression over the TF-IDF and
   runtime features) in a store of M samples (every column of the rows stored; the live release
   trained `decade` on them, `train --only decade`): the wall time
   of `compose.learn` (upsert, read every stored sample of the group, features, fit, gate against
   the live head, write the version and the release) against the plain scikit-learn work of
   refitting that head on the same rows: transform those rows with the live featurizers and fit
   the same estimator (`LogisticRegression(C=4.0)`) on the same training rows. Goal: at most 1.3x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

import compose  # noqa: E402
from compose.featurize.base import hstack  # noqa: E402
from compose.heads.head import make_estimator  # noqa: E402
from compose.store.sample_access import fitted_keys  # noqa: E402
from compose.store.samples import SampleStore  # noqa: E402

GROUP = "decade"
CHUNK = 100_000


def movies() -> pd.DataFrame:
    return pd.read_csv(ROOT / "examples/movies/movies.csv.gz", dtype=str, keep_default_na=False, na_values=[""])


def copies(base: pd.DataFrame, n: int, start: int = 0) -> pd.DataFrame:
    """`n` rows: the films repeated, copy k with " (k)" after the title and the runtime + k/1000."""
    parts, k = [], start
    while sum(len(p) for p in parts) < n:
        part = base.copy()
        if k:
            part["title"] = part["title"] + f" ({k})"
            runtime = pd.to_numeric(part["runtime"], errors="coerce") + k / 1000
            part["runtime"] = runtime.map(lambda x: "" if pd.isna(x) else repr(float(x)))
        parts.append(part)
        k += 1
    out = pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)
    out.attrs["source"] = f"movies x{k - start}"
    return out


def bench_import(schema: compose.Schema, n: int, work: Path) -> dict[str, Any]:
    data = copies(movies(), n)
    store = SampleStore.open(work / "import" / schema.name, schema=schema)
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, n, CHUNK):
        store.upsert(data.iloc[start:start + CHUNK].reset_index(drop=True), schema, source="bench")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if store.dialect.name == "sqlite":  # (COMPOSE_SAMPLES=postgresql://... measures PostgreSQL)
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the size of the database itself, log folded in
    size = store.size_bytes()
    counts = store.counts()
    store.close()
    return {"rows": n, "samples": counts.samples, "seconds": round(seconds, 1), "rows_per_s": round(n / seconds),
            "cpu_seconds": round(cpu, 1), "rows_per_cpu_s": round(n / cpu),
            "db_bytes": size, "bytes_per_sample": round(size / counts.samples)}


def bench_learn(schema: compose.Schema, m: int, work: Path) -> dict[str, Any]:
    root = work / "learn"
    base = movies()
    data = copies(base, m)
    t0 = time.perf_counter()
    compose.train(schema, data, store=root, only=[GROUP])  # every column is stored; only the group is trained
    train_seconds = time.perf_counter() - t0
    # 100 new films (copies numbered past the store's) labelled for the group only
    extra = copies(base, 100, start=1000)[["title", "director", "writer", "cast", "runtime", GROUP]]
    extra.attrs["source"] = "100 new labels"
    live = compose.load(root)
    t0, c0 = time.perf_counter(), time.process_time()
    report = compose.learn(root, extra, n_jobs=1)
    learn_seconds, learn_cpu = time.perf_counter() - t0, time.process_time() - c0
    g = report.groups[GROUP]

    # The same head refitted with plain scikit-learn on the same rows: the stored samples (read
    # back as the frame `compose train` reads) plus the 100, transformed by the live featurizers.
    with SampleStore.open(root / schema.name) as samples:
        frame = samples.frame(schema, groups=[GROUP], meta=True)
        # the version's `fit` file (or, for versions older than it, the database) names its samples
        fit = fitted_keys(compose.ModelStore(root / schema.name), samples, GROUP, g.version)
        assert fit is not None
        keys = samples.keys(frame["id"].tolist())
    rows = frame[np.isin(keys, fit)].reset_index(drop=True)
    labels = schema.labels_of(GROUP)
    y = rows[GROUP].map({label: i for i, label in enumerate(labels)}).to_numpy()
    t0, c0 = time.perf_counter(), time.process_time()
    inputs = compose.prepare_inputs(rows, schema)
    x = hstack([live.features_[f].transform(inputs) for f in schema.features_of(GROUP)])
    transform_seconds = time.perf_counter() - t0
    spec = schema.groups[GROUP]
    est = make_estimator(spec.model.estimator, dict(spec.model.params), y, spec.calibration)
    t1 = time.perf_counter()
    est.fit(x, y)
    fit_seconds = time.perf_counter() - t1
    plain, plain_cpu = transform_seconds + fit_seconds, time.process_time() - c0
    return {"store_samples": m, "train_seconds": round(train_seconds, 1), "group": GROUP,
            "rows_before": g.rows_before, "rows_after": g.rows_after, "released": g.released,
            "metric": g.metric, "live": g.live, "candidate": g.candidate, "compared_on": g.compared_on,
            "learn_seconds": round(learn_seconds, 2), "sklearn_transform_seconds": round(transform_seconds, 2),
            "sklearn_fit_seconds": round(fit_seconds, 2), "sklearn_seconds": round(plain, 2),
            "ratio": round(learn_seconds / plain, 2), "ratio_to_fit_alone": round(learn_seconds / fit_seconds, 2),
            "learn_cpu_seconds": round(learn_cpu, 2), "sklearn_cpu_seconds": round(plain_cpu, 2),
            "cpu_ratio": round(learn_cpu / plain_cpu, 2),
            "sklearn_rows": len(rows)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100,000 rows imported; a 20,000-sample store")
    p.add_argument("--smoke", action="store_true", help="CI: 2,000 rows imported; a 600-sample store")
    p.add_argument("--rows", type=int, help="rows to import (default 1,000,000)")
    p.add_argument("--store-samples", type=int, help="samples in the learn store (default 100,000)")
    p.add_argument("--json", help="write the figures as JSON")
    p.add_argument("--skip-import", action="store_true", help="only the learn figures")
    a = p.parse_args(argv)
    n = a.rows or (2_000 if a.smoke else 100_000 if a.quick else 1_000_000)
    m = a.store_samples or (600 if a.smoke else 20_000 if a.quick else 100_000)
    schema = compose.load_schema(ROOT / "schemas/movies.yaml")
    with tempfile.TemporaryDirectory(prefix="compose-bench-") as tmp:
        work = Path(tmp)
        imported = {} if a.skip_import else bench_import(schema, n, work)
        if imported:
            print(f"import: {imported['rows']:,} rows in {imported['seconds']} s = {imported['rows_per_s']:,} rows/s "
                  f"({imported['rows_per_cpu_s']:,} rows per CPU second); {imported['samples']:,} samples, "
                  f"{imported['db_bytes'] / 1e6:.0f} MB = {imported['bytes_per_sample']} bytes per sample", flush=True)
        learned = bench_learn(schema, m, work)
        print(f"learn: 100 new {GROUP} labels in a store of {m:,} samples: {learned['learn_seconds']} s "
              f"(rows {learned['rows_before']} -> {learned['rows_after']}, {learned['metric']} {learned['live']} -> "
              f"{learned['candidate']} on {learned['compared_on']} rows, "
              f"{'released' if learned['released'] else 'refused'}); plain scikit-learn on the same "
              f"{learned['sklearn_rows']:,} rows: transform {learned['sklearn_transform_seconds']} s + fit "
              f"{learned['sklearn_fit_seconds']} s = {learned['sklearn_seconds']} s; ratio {learned['ratio']}x "
              f"(goal <= 1.3x; {learned['ratio_to_fit_alone']}x the fit alone); CPU seconds "
              f"{learned['learn_cpu_seconds']} vs {learned['sklearn_cpu_seconds']} = {learned['cpu_ratio']}x",
              flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"import": imported, "learn": learned}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
