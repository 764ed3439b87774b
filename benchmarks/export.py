"""One-row latency of the ONNX runner (onnxruntime) against compose's own `predict_one`.

    .venv/bin/python benchmarks/export.py            # the full movies table and penguins
    .venv/bin/python benchmarks/export.py --quick    # the 1,200-film sample in tests/fixtures
    .venv/bin/python benchmarks/export.py --smoke    # seconds: 300 films of that sample, 20 rows (CI)

For each data set: train into a temporary store, export the release with `compose.export_onnx`
(timed, with its parity check), then predict the same rows one at a time with
`ComposedModel.predict_one` and `compose.export.onnx.load(...).predict_one`, interleaved, after a
warm-up. Prints p50 / p95 in milliseconds, the export time and the size of the graphs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

import compose  # noqa: E402
from compose.export.onnx import load as load_onnx  # noqa: E402


def _penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def _latency(fn: Any, rows: list[dict[str, Any]]) -> list[float]:
    out = []
    for row in rows:
        t0 = time.perf_counter()
        fn(row)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(name: str, schema: compose.Schema, frame: pd.DataFrame, n_rows: int, work: Path) -> dict[str, Any]:
    model = compose.train(schema, frame, store=work / "models")
    t0 = time.perf_counter()
    report = compose.export_onnx(work / "models" / schema.name, work / "onnx")
    export_s = time.perf_counter() - t0
    runner = load_onnx(work / "onnx")
    inputs = [c for c in schema.inputs if c in frame.columns]
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in frame[inputs].sample(min(n_rows, len(frame)), random_state=0).to_dict("records")]
    for row in rows[:20]:  # warm-up
        model.predict_one(row)
        runner.predict_one(row)
    compose_ms: list[float] = []
    onnx_ms: list[float] = []
    for i in range(0, len(rows), 50):  # interleaved blocks, so a load spike hits both
        compose_ms += _latency(model.predict_one, rows[i:i + 50])
        onnx_ms += _latency(runner.predict_one, rows[i:i + 50])
    size = sum(p.stat().st_size for p in (work / "onnx").rglob("*.onnx"))
    return {"data": name, "rows": len(rows), "export_s": round(export_s, 2), "onnx_mb": round(size / 1e6, 2),
            "graphs": len(report.files), "max_parity_diff": max(report.parity.values()),
            "compose_p50_ms": round(float(np.percentile(compose_ms, 50)), 3),
            "compose_p95_ms": round(float(np.percentile(compose_ms, 95)), 3),
            "onnx_p50_ms": round(float(np.percentile(onnx_ms, 50)), 3),
            "onnx_p95_ms": round(float(np.percentile(onnx_ms, 95)), 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the 1,200-film sample instead of the full movies table")
    p.add_argument("--smoke", action="store_true", help="seconds: 300 films of the sample, 20 rows (default --rows)")
    p.add_argument("--rows", type=int, default=None, help="rows predicted one at a time (default 500)")
    p.add_argument("--json", help="write the figures as JSON")
    a = p.parse_args(argv)
    a.rows = a.rows or (20 if a.smoke else 500)
    sample = a.quick or a.smoke
    movies = pd.read_csv(ROOT / ("tests/fixtures/movies_sample.csv" if sample else "examples/movies/movies.csv.gz"))
    penguins = (ROOT / "schemas" / "penguins.yaml").read_text(encoding="utf-8")
    if a.smoke:  # a forest of 20 trees: still a tree graph to export, a tenth of the time
        penguins = penguins.replace("n_estimators: 200", "n_estimators: 20")
    sets = [("penguins", compose.parse_schema(penguins, "penguins.yaml"), _penguins()),
            ("movies" + (" (sample)" if sample else ""), compose.load_schema(ROOT / "schemas" / "movies.yaml"),
             movies.head(300) if a.smoke else movies)]
    results = []
    for name, schema, frame in sets:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(name, schema, frame, a.rows, Path(tmp)))
    import onnxruntime
    import sklearn

    print(f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, onnxruntime "
          f"{onnxruntime.__version__}; one row at a time, {a.rows} rows, ms")
    print(f"{'data':<18} {'compose p50':>11} {'p95':>7} {'onnx p50':>9} {'p95':>7} {'ratio':>6} "
          f"{'export s':>8} {'MB':>6} {'max diff':>9}")
    for r in results:
        print(f"{r['data']:<18} {r['compose_p50_ms']:>11.3f} {r['compose_p95_ms']:>7.3f} {r['onnx_p50_ms']:>9.3f} "
              f"{r['onnx_p95_ms']:>7.3f} {r['onnx_p50_ms'] / r['compose_p50_ms']:>6.1f} {r['export_s']:>8.1f} "
              f"{r['onnx_mb']:>6.2f} {r['max_parity_diff']:>9.1e}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
