"""Few-shot text classification: TF-IDF, wordllama embeddings, and both, at 10 and 40 labels per label.

    python benchmarks/few_shot.py [--repeats 5] [--json out/few_shot.json]
    python benchmarks/few_shot.py --smoke      # seconds: one repeat, k = 10, 20 test films per label (CI)

Real public data: the movies table (`examples/movies/movies.csv.gz`, Wikidata, CC0), text = title,
director, writer and cast joined. Two 5-class tasks: `language` (English, French, Spanish, Japanese,
Italian) and `genre` (films with exactly one of Drama, Documentary, Comedy, Horror, Action). Per
repeat (seeded): k training films per label, and a disjoint test set of 100 films per label (the
same for every k and feature set). The features are compose's own featurizers (`type: tfidf` with
its defaults, `type: embedding` with wordllama), fitted on the k x 5 training texts; the head is
compose's default, logistic regression (max_iter 2000). Figures: mean accuracy over the repeats
(balanced test set: chance is 0.20), with the standard deviation.
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
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compose.featurize.base import build_featurizer  # noqa: E402
from compose.schema.load import parse_schema  # noqa: E402

SCHEMA = """\
schema_version: 1
name: few_shot
inputs:
  title: {type: text}
  director: {type: text, required: false}
  writer: {type: text, required: false}
  cast: {type: text, required: false}
features:
  words: {type: tfidf, inputs: [title, director, writer, cast]}
  meaning: {type: embedding, inputs: [title, director, writer, cast]}
groups:
  label: {type: binary}
"""
TEXT = ["title", "director", "writer", "cast"]


def tasks() -> dict[str, pd.DataFrame]:
    df = pd.read_csv(ROOT / "examples" / "movies" / "movies.csv.gz")
    lang = df[df["language"].isin(["English", "French", "Spanish", "Japanese", "Italian"])]
    genres = df["genres"].fillna("")
    single = df[~genres.str.contains(r"\|") & genres.isin(["Drama", "Documentary", "Comedy", "Horror", "Action"])]
    return {"language": lang.assign(label=lang["language"])[[*TEXT, "label"]],
            "genre": single.assign(label=single["genres"])[[*TEXT, "label"]]}


def split(frame: pd.DataFrame, k: int, seed: int, test_per_label: int = 100) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for _, rows in frame.groupby("label"):
        order = rng.permutation(len(rows))
        test.append(rows.iloc[order[:test_per_label]])
        train.append(rows.iloc[order[test_per_label:test_per_label + k]])
    return pd.concat(train), pd.concat(test)


def run(repeats: int, ks: tuple[int, ...] = (10, 40), test_per_label: int = 100) -> list[dict[str, Any]]:
    schema = parse_schema(SCHEMA)
    out = []
    for task, frame in tasks().items():
        for k in ks:
            scores: dict[str, list[float]] = {"tfidf": [], "wordllama": [], "both": []}
            for seed in range(repeats):
                train, test = split(frame, k, seed, test_per_label)
                blocks = {}
                for name in ("words", "meaning"):
                    f = build_featurizer(schema, name).fit(train)
                    blocks[name] = (f.transform(train), f.transform(test))
                sets = {"tfidf": ["words"], "wordllama": ["meaning"], "both": ["words", "meaning"]}
                for label, names in sets.items():
                    xtr = sp.hstack([sp.csr_matrix(blocks[n][0]) for n in names], format="csr")
                    xte = sp.hstack([sp.csr_matrix(blocks[n][1]) for n in names], format="csr")
                    clf = LogisticRegression(max_iter=2000).fit(xtr, train["label"])
                    scores[label].append(float((clf.predict(xte) == test["label"].to_numpy()).mean()))
            row = {"task": task, "labels_per_label": k, "repeats": repeats,
                   **{f"{n}_mean": round(float(np.mean(v)), 3) for n, v in scores.items()},
                   **{f"{n}_std": round(float(np.std(v)), 3) for n, v in scores.items()}}
            out.append(row)
            print(f"{task:<9} k={k:<3} tfidf {row['tfidf_mean']:.3f} ±{row['tfidf_std']:.3f}   "
                  f"wordllama {row['wordllama_mean']:.3f} ±{row['wordllama_std']:.3f}   "
                  f"both {row['both_mean']:.3f} ±{row['both_std']:.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="seconds: one repeat, k = 10, 20 test films per label")
    ap.add_argument("--json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(1, (10,), 20) if args.smoke else run(args.repeats)
    print(f"({time.perf_counter() - t0:.0f}s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
