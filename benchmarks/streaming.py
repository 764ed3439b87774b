"""Streaming `compose predict`: peak memory against the number of rows, and time against plain scikit-learn.

    .venv/bin/python benchmarks/streaming.py                   # movies rows repeated to 200,000 and 2,000,000
    .venv/bin/python benchmarks/streaming.py --rows 20000,200000   # quicker
    .venv/bin/python benchmarks/streaming.py --smoke                # CI: 300 films trained, 2,000 rows predicted

The movies schema is trained on examples/movies/movies.csv.gz; the films are repeated (in order)
into Parquet files of each size. Each figure is one child process, measured with
`resource.getrusage(RUSAGE_CHILDREN)` (peak RSS) and wall-clock time:

- `compose predict --data big.parquet --out out.parquet` (and `.jsonl`): the streaming path;
- a plain scikit-learn script doing the same: the same Parquet batches (pyarrow `iter_batches`),
  the same fitted featurizers and heads (`benchmarks/baselines.py`, shared featurizer),
  `predict_proba`, and per group the argmax label and its probability appended with a
  `ParquetWriter`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from baselines import SharedBaseline  # noqa: E402

import compose  # noqa: E402
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes  # noqa: E402

PLAIN = """
import sys, joblib, numpy as np, pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, sys.argv[3]); sys.path.insert(0, sys.argv[3] + "/benchmarks")
from compose.data.targets import prepare_inputs
base = joblib.load(sys.argv[1]); data, out = sys.argv[2], sys.argv[4]
writer = None
with pq.ParquetFile(data, pre_buffer=False) as pf:
    for batch in pf.iter_batches(batch_size=20000):
        inputs = prepare_inputs(batch.to_pandas(), base.schema)
        cols = {}
        for g, p in base.predict_proba(inputs).items():
            labels = np.asarray(base.schema.labels_of(g), dtype=object)
            if p.ndim == 2 and base.schema.groups[g].type != "multilabel":
                best = p.argmax(axis=1)
                cols[g] = pa.array(labels[best]).dictionary_encode()
                cols[g + "_confidence"] = pa.array(p[np.arange(len(p)), best])
            else:
                for j, label in enumerate(labels):
                    cols[f"{g}_score_{label}"] = pa.array(p[:, j])
        table = pa.table(cols)
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
writer.close()
"""

MEASURE = """
import resource, subprocess, sys, time, json
t0 = time.perf_counter(); code = subprocess.run(sys.argv[1:]).returncode; seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": code, "seconds": seconds, "peak_mb": peak}))
"""


def measured(cmd: list[str]) -> dict[str, Any]:
    """Run `cmd` in a fresh child of a fresh process: its wall time and peak RSS (MB)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, *cmd], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"{cmd} failed: {done.stderr[-2000:]}")
    return result


def write_rows(df: pd.DataFrame, n: int, path: Path) -> None:
    """`n` rows of `df` repeated in order, written as Parquet in row groups of 100,000 (bounded memory)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    with pq.ParquetWriter(path, table.schema) as writer:
        left = n
        while left > 0:
            parts = []
            chunk = min(left, 100_000)
            while sum(len(p) for p in parts) < chunk:
                parts.append(table)
            writer.write_table(pa.concat_tables(parts).slice(0, chunk))
            left -= chunk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="200000,2000000", help="comma-separated sizes (default 200000,2000000)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    parser.add_argument("--train-rows", type=int, default=None, help="train on the first N films (default: all)")
    parser.add_argument("--smoke", action="store_true", help="CI: --train-rows 300 --rows 2000 (one size)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.train_rows = "2000", 300
    warnings.filterwarnings("ignore")
    sizes = [int(x) for x in args.rows.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        schema = compose.load_schema(ROOT / "schemas/movies.yaml")
        df = pd.read_csv(ROOT / "examples/movies/movies.csv.gz", dtype=str, keep_default_na=False, na_values=[""])
        if args.train_rows:
            df = df.head(args.train_rows)
        compose.train(schema, df, store=work / "store")
        inputs = prepare_inputs(df, schema)
        train = np.flatnonzero(~holdout_mask(row_hashes(inputs, schema.training.seed), schema.training.holdout))
        joblib.dump(SharedBaseline(schema).fit(inputs, parse_targets(df, schema), train), work / "shared.joblib")
        data = df[list(schema.inputs)]
        exe = str(Path(sys.executable).parent / "compose")
        rows: list[dict[str, Any]] = []
        for n in sizes:
            path = work / f"rows-{n}.parquet"
            write_rows(data, n, path)
            r: dict[str, Any] = {"rows": n, "file_mb": path.stat().st_size / 2**20}
            r["compose_parquet"] = measured([exe, "-q", "predict", "--store", str(work / "store"), "--data", str(path),
                                             "--out", str(work / "out.parquet")])
            r["plain_parquet"] = measured([sys.executable, "-c", PLAIN, str(work / "shared.joblib"), str(path),
                                           str(ROOT), str(work / "plain.parquet")])
            r["compose_jsonl"] = measured([exe, "-q", "predict", "--store", str(work / "store"), "--data", str(path),
                                           "--out", str(work / "out.jsonl")])
            rows.append(r)
            path.unlink()
            print(f"  {n:,} rows done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the store, the rows and the outputs: gigabytes at 2M rows
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["### streaming `compose predict` (movies schema, films repeated; Parquet input, batches of 20,000)", "",
             "| rows | input MB | compose → .parquet: s, peak MB | plain sklearn → .parquet: s, peak MB | "
             "compose / plain time | compose → .jsonl: s, peak MB |", "|---|---|---|---|---|---|"]
    for r in rows:
        c, p, j = r["compose_parquet"], r["plain_parquet"], r["compose_jsonl"]
        lines.append(f"| {r['rows']:,} | {r['file_mb']:.0f} | {c['seconds']:.1f}, {c['peak_mb']:.0f} | "
                     f"{p['seconds']:.1f}, {p['peak_mb']:.0f} | {c['seconds'] / p['seconds']:.2f} (goal ≤ 1.3) | "
                     f"{j['seconds']:.1f}, {j['peak_mb']:.0f} |")
    if len(rows) >= 2:
        small, big = rows[0], rows[-1]
        for key, what in (("compose_parquet", ".parquet"), ("compose_jsonl", ".jsonl")):
            ratio = big[key]["peak_mb"] / small[key]["peak_mb"]
            lines.append(f"\nPeak memory of compose predict → {what}, {big['rows']:,} rows / {small['rows']:,} rows: "
                         f"{ratio:.2f} (goal ≤ 1.3: {'met' if ratio <= 1.3 else 'not met'})")
    return "\n".join(lines)


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"[streaming: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    raise SystemExit(code)
