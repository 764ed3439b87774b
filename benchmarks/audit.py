"""Annotation quality on public data: does the audit find injected label errors, and does the queue
pick better rows to label than chance?

1. Audit. Labels are corrupted on purpose, a model is trained on the corrupted data (as a user
   would), and `compose audit` is run on it; precision and recall are those of the flagged rows
   against the corrupted ones. Multiclass: 8% of labels flipped to another label (penguins
   species, movies language). Multilabel: 10% of the given tags dropped (movies genres).
2. Queue. Start from a small labelled seed of one group, then label 200 more rows, picked either
   by `compose queue` (margin) in rounds of 50 or at random; the head is retrained after each
   round and scored on the holdout. Several seeds.

Data: Palmer penguins (CC0, `palmerpenguins`), the movies of `examples/movies` (CC0, Wikidata via
`bokeh-sampledata`). Run: `python benchmarks/audit.py [--quick]`; `--smoke` (CI, seconds): 400
films (600 for the queue), one seed, a 40-row seed and one round of 20.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compose  # noqa: E402
from compose.audit.labels import audit_model  # noqa: E402
from compose.audit.queue import queue_model  # noqa: E402
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes  # noqa: E402
from compose.schema.load import load_schema  # noqa: E402

MOVIES = ROOT / "examples/movies/movies.csv.gz"
PENGUINS_SCHEMA = ROOT / "schemas/penguins.yaml"
MOVIES_SCHEMA = ROOT / "schemas/movies.yaml"


def penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def flip(df: pd.DataFrame, col: str, frac: float, seed: int) -> tuple[pd.DataFrame, set[int]]:
    rng = np.random.default_rng(seed)
    out = df.copy()
    labelled = np.flatnonzero(out[col].notna().to_numpy() & (out[col].astype(str) != ""))
    idx = rng.choice(labelled, round(frac * len(labelled)), replace=False)
    labels = sorted(out[col].dropna().astype(str).unique())
    values = out[col].astype(object).to_numpy().copy()
    for i in idx:
        values[i] = rng.choice([lab for lab in labels if lab != values[i]])
    out[col] = values
    return out, {int(i) + 1 for i in idx}


def drop_tags(df: pd.DataFrame, col: str, frac: float, seed: int) -> tuple[pd.DataFrame, set[tuple[int, str]]]:
    rng = np.random.default_rng(seed)
    out = df.copy()
    cells = out[col].astype(object).to_numpy().copy()
    tags = [(r, t) for r, c in enumerate(cells) if isinstance(c, str) and c for t in c.split("|")]
    picked = {tags[i] for i in rng.choice(len(tags), round(frac * len(tags)), replace=False)}
    for r in {r for r, _ in picked}:
        cells[r] = "|".join(t for t in cells[r].split("|") if (r, t) not in picked) or "[]"
    out[col] = cells
    return out, {(r + 1, t) for r, t in picked}


def _pr(found: set[object], truth: set[object]) -> tuple[float, float]:
    tp = len(found & truth)
    return tp / max(len(found), 1), tp / max(len(truth), 1)


def audit_rows(sample: int | None) -> list[dict[str, object]]:
    movies = compose.read_table(MOVIES)
    if sample:
        movies = movies.sample(sample, random_state=0).reset_index(drop=True)
    out = []
    cases = [("penguins", PENGUINS_SCHEMA, penguins(), "species"), ("movies", MOVIES_SCHEMA, movies, "language")]
    for name, schema, df, col in cases:
        noisy, truth = flip(df, col, 0.08, 0)
        with tempfile.TemporaryDirectory() as d:
            model = compose.train(schema, noisy, store=d)
            t = time.perf_counter()
            report = audit_model(model, noisy, groups=[col])
            secs = time.perf_counter() - t
        found = {i.row for i in report.issues}
        p, r = _pr(found, truth)  # type: ignore[arg-type]
        out.append({"data": name, "group": col, "corruption": "8% labels flipped", "rows": report.groups[col].rows,
                    "corrupted": len(truth), "flagged": len(found), "precision": round(p, 3), "recall": round(r, 3),
                    "audit_s": round(secs, 1)})
    noisy, dropped = drop_tags(movies, "genres", 0.10, 0)
    with tempfile.TemporaryDirectory() as d:
        model = compose.train(MOVIES_SCHEMA, noisy, store=d)
        t = time.perf_counter()
        report = audit_model(model, noisy, groups=["genres"])
        secs = time.perf_counter() - t
    missing = {(i.row, i.suggested) for i in report.issues if i.kind == "missing_tag"}
    p, r = _pr(missing, dropped)  # type: ignore[arg-type]
    out.append({"data": "movies", "group": "genres", "corruption": "10% tags dropped",
                "rows": report.groups["genres"].rows, "corrupted": len(dropped), "flagged": len(missing),
                "precision": round(p, 3), "recall": round(r, 3), "audit_s": round(secs, 1)})
    return out


def _holdout_accuracy(model: compose.ComposedModel, df: pd.DataFrame, group: str, hold: np.ndarray) -> float:
    schema = model.schema
    t = parse_targets(df, schema, [group])[group]
    rows = np.flatnonzero(hold & t.labelled)
    scores = model.predict_scores(df.iloc[rows].reset_index(drop=True))[group]
    return float((scores.argmax(axis=1) == t.y[rows]).mean())


def queue_rows(sample: int | None, seeds: int, seed_rows: int = 100, rounds: int = 4,
               per_round: int = 50) -> list[dict[str, object]]:
    """Movies `country`: a 100-row seed, then 4 rounds of 50 rows picked by the queue or at random."""
    group = "country"
    schema = load_schema(MOVIES_SCHEMA)
    movies = compose.read_table(MOVIES)
    if sample:
        movies = movies.sample(sample, random_state=1).reset_index(drop=True)
    keep = [c for c in movies.columns if c not in schema.groups or c == group]
    movies = movies[keep]
    hold = holdout_mask(row_hashes(prepare_inputs(movies, schema), schema.training.seed), schema.training.holdout)
    pool = np.flatnonzero(~hold & movies[group].notna().to_numpy())
    out = []
    for strategy in ("queue (margin)", "random"):
        accs = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            known = set(rng.choice(pool, seed_rows, replace=False).tolist())
            for _ in range(rounds + 1):
                train = movies.copy()
                unknown = np.ones(len(train), dtype=bool)
                unknown[list(known)] = False
                train.loc[unknown & ~hold, group] = None  # the simulated annotator has labelled only `known`
                with tempfile.TemporaryDirectory() as d:
                    model = compose.train(MOVIES_SCHEMA, train.loc[~unknown | hold], store=d, only=None)
                    if len(known) >= seed_rows + rounds * per_round:
                        break
                    candidates = train.iloc[np.setdiff1d(pool, list(known))]
                    if strategy == "random":
                        picked = rng.choice(candidates.index.to_numpy(), per_round, replace=False)
                    else:
                        q = queue_model(model, group, candidates.assign(**{group: None}), n=per_round)
                        ids = {f"{h:016x}": i for i, h in zip(candidates.index,
                               row_hashes(prepare_inputs(candidates, schema), 0), strict=True)}
                        picked = np.array([ids[i] for i in q.frame["id"]])
                    known.update(int(i) for i in picked)
            accs.append(_holdout_accuracy(model, movies, group, hold))
        out.append({"group": group, "strategy": strategy, "seed_rows": seed_rows, "added": rounds * per_round,
                    "seeds": seeds, "holdout_accuracy_mean": round(float(np.mean(accs)), 4),
                    "holdout_accuracy_min": round(float(np.min(accs)), 4),
                    "holdout_accuracy_max": round(float(np.max(accs)), 4)})
    return out


def _table(rows: list[dict[str, object]]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a sample of the movies and fewer seeds")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: 400 films (600 for the queue), one seed, a 40-row seed, one round of 20")
    ap.add_argument("--seeds", type=int, default=None)
    a = ap.parse_args()
    print("## Audit: injected errors found\n")
    print(_table(audit_rows(400 if a.smoke else 4000 if a.quick else None)))
    seed_rows, rounds, per_round = (40, 1, 20) if a.smoke else (100, 4, 50)
    print(f"\n## Queue: holdout accuracy after labelling {rounds * per_round} rows\n")
    print(_table(queue_rows(600 if a.smoke else 6000 if a.quick else None, a.seeds or (1 if a.smoke else 2 if a.quick
                                                                                         else 5),
                            seed_rows, rounds, per_round)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
