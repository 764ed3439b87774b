"""Zero-shot cold start: how well the label names alone answer, against heads trained on k labels per label.

    python benchmarks/zero_shot.py [--repeats 5] [--json out/zero_shot.json]
    python benchmarks/zero_shot.py --smoke     # seconds: one repeat, k in 0 and 2, 20 test rows per label (CI)

The zero-shot reading is compose's own zero-shot head (`compose.heads.zero_shot.ZeroShotHead`, the
cold start of a group with fewer than `cold_start.min_per_label` labelled samples for a label): each
text and each label's text (its name, or a description) are embedded with compose's `type: embedding`
featurizer (wordllama, offline), and the label with the highest cosine similarity answers (a softmax
over the scaled similarities gives the scores). Against it, compose's default head (logistic
regression on the same embeddings) trained on k samples per label; `compose` is what a group answers
with the default `min_per_label: 2` (zero-shot below 2 labels per label, the trained head from 2 on;
`learn` then releases the trained head only when it beats the zero-shot one on the holdout). Real
public data:

- `emoji`: `tests/fixtures/emoji/emoji.csv` (Google Noto emoji names, MIT), name -> category, 9 labels;
  the label texts are the category names ("Smileys & Emotion", "Food & Drink", ...).
- `genre`: the movies table (`examples/movies/movies.csv.gz`, Wikidata, CC0), films with exactly one
  of Drama, Documentary, Comedy, Horror, Action; text = title, director, writer and cast.

Per repeat (seeded) k samples per label train, the rest of each label (at most 100) is the test set;
figures are the balanced accuracy, mean over repeats (chance: 1 / labels).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compose.featurize.base import build_featurizer  # noqa: E402
from compose.heads.zero_shot import zero_shot_head  # noqa: E402
from compose.schema.load import parse_schema  # noqa: E402

SCHEMA = """\
schema_version: 1
name: zero_shot
inputs:
  text: {type: text}
features:
  meaning: {type: embedding, inputs: [text]}
groups:
  label: {type: multiclass, labels: LABELS}
"""
KS = {"emoji": (0, 1, 2, 5, 10), "genre": (0, 1, 2, 5, 10, 40)}  # emoji: 18 names in most categories
SMOKE_KS = {"emoji": (0, 2), "genre": (0, 2)}
MIN_PER_LABEL = 2  # compose's default `cold_start.min_per_label`


def tasks() -> dict[str, pd.DataFrame]:
    emoji = pd.read_csv(ROOT / "tests" / "fixtures" / "emoji" / "emoji.csv")
    emoji = emoji.assign(text=emoji["name"].str.lower(), label=emoji["category"])[["text", "label"]]
    df = pd.read_csv(ROOT / "examples" / "movies" / "movies.csv.gz")
    genres = df["genres"].fillna("")
    single = df[~genres.str.contains(r"\|") & genres.isin(["Drama", "Documentary", "Comedy", "Horror", "Action"])]
    text = single[["title", "director", "writer", "cast"]].fillna("").agg(" ".join, axis=1)
    return {"emoji": emoji, "genre": pd.DataFrame({"text": text, "label": single["genres"]})}


def head_for(labels: list[str], featurizer: Any) -> Any:
    """compose's zero-shot head of a group with these labels, reading `featurizer`'s embedding."""
    schema = parse_schema(SCHEMA.replace("LABELS", json.dumps(labels)))
    return zero_shot_head(schema, "label", {"meaning": featurizer}, {"meaning": int(featurizer.width_)})


def split(frame: pd.DataFrame, k: int, seed: int, top_k: int,
          test_per_label: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for _, rows in frame.groupby("label"):
        order = rng.permutation(len(rows))
        train.append(rows.iloc[order[:k]])
        test.append(rows.iloc[order[top_k:top_k + test_per_label]])  # the same test rows for every k
    return pd.concat(train), pd.concat(test)


def run(repeats: int, ks: dict[str, tuple[int, ...]] = KS, test_per_label: int = 100) -> list[dict[str, Any]]:
    schema = parse_schema(SCHEMA.replace("LABELS", "[a, b]"))
    featurizer = build_featurizer(schema, "meaning").fit(pd.DataFrame({"text": ["x"]}))
    out = []
    for task, frame in tasks().items():
        labels = sorted(frame["label"].unique())
        head = head_for(labels, featurizer)
        for k in ks[task]:
            zs, trained = [], []
            for seed in range(repeats):
                train, test = split(frame, k, seed, max(ks[task]), test_per_label)
                xte = featurizer.transform(test[["text"]])
                y = test["label"].to_numpy()
                zs.append(balanced_accuracy_score(y, np.asarray(labels)[head.scores(xte).argmax(axis=1)]))
                if k:
                    clf = LogisticRegression(max_iter=2000).fit(featurizer.transform(train[["text"]]), train["label"])
                    trained.append(balanced_accuracy_score(y, clf.predict(xte)))
            row = {"task": task, "labels": len(labels), "labels_per_label": k, "repeats": repeats,
                   "zero_shot": round(float(np.mean(zs)), 3),
                   "trained": round(float(np.mean(trained)), 3) if trained else None,
                   "trained_std": round(float(np.std(trained)), 3) if trained else None}
            row["compose"] = row["zero_shot"] if k < MIN_PER_LABEL else row["trained"]
            out.append(row)
            print(f"{task:<6} k={k:<3} zero-shot {row['zero_shot']:.3f}   trained "
                  f"{'-' if row['trained'] is None else format(row['trained'], '.3f')}   compose {row['compose']:.3f}",
                  flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="seconds: one repeat, k in 0 and 2, 20 test rows per label")
    ap.add_argument("--json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(1, SMOKE_KS, 20) if args.smoke else run(args.repeats)
    print(f"({time.perf_counter() - t0:.0f}s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
