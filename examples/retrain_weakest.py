"""Per-group retraining on real data: find the weakest group, retrain it alone with more labels.

The story: a first annotation round labelled only part of the films for each group, and a model
was trained and released from it. Then the weakest group (lowest holdout score) gets a second
round of labels: a file with the inputs and THAT group's column only. compose retrains that head
alone on the live features, scores the candidate and the live head on the same holdout rows, and
releases the candidate only if it is not worse. Every other artifact stays byte-identical.

    python examples/retrain_weakest.py [--first-round 0.1] [--store out/retrain-store]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import compose

ROOT = Path(__file__).resolve().parents[1]


def digests(model_dir: Path, skip: str) -> dict[str, str]:
    return {str(p.relative_to(model_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(model_dir.rglob("*.joblib")) if p.relative_to(model_dir).parts[:2] != ("groups", skip)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schema", default=str(ROOT / "schemas" / "movies.yaml"))
    ap.add_argument("--data", default=str(ROOT / "examples" / "movies" / "movies.csv.gz"))
    ap.add_argument("--first-round", type=float, default=0.1, help="share of rows labelled in the first round")
    ap.add_argument("--store", default=str(ROOT / "out" / "retrain-store"))
    args = ap.parse_args()

    schema = compose.load_schema(args.schema)
    full = compose.data.targets.read_table(args.data)
    groups = list(schema.groups)
    inputs = list(schema.inputs)
    rng = np.random.default_rng(0)
    first = full.copy()
    for g in groups:  # the first round labelled a random part of the rows, group by group
        first.loc[rng.random(len(first)) >= args.first_round, g] = None
    shutil.rmtree(args.store, ignore_errors=True)

    with tempfile.TemporaryDirectory() as tmp:
        first_path = Path(tmp) / "first_round.csv"
        first.to_csv(first_path, index=False)
        print(f"== first round: {args.first_round:.0%} of {len(full)} rows labelled per group")
        compose.train(schema, first_path, store=args.store)
        rows = [r for r in compose.list_versions(args.store) if r["kind"] == "group" and r["live"]]
        for r in rows:
            print(f"  {r['name']:<10} v{r['version']:04d}  {r['rows']:>6} training rows  holdout "
                  f"{r['gate_metric']} {r['metrics'].get(r['gate_metric'])}")
        weakest = min(rows, key=lambda r: r["metrics"].get(r["gate_metric"]) or 0.0)["name"]
        print(f"== weakest group: {weakest}; second round: every row labelled for {weakest} only")

        second = full[[*[c for c in inputs if c in full.columns], weakest]]
        second_path = Path(tmp) / f"{weakest}_round2.csv"
        second.to_csv(second_path, index=False)
        model_dir = Path(args.store) / schema.name
        before = digests(model_dir, weakest)
        try:
            report = compose.retrain(schema, second_path, args.store, group=weakest)
            outcome = "RELEASED"
        except compose.GateRefusedError as exc:
            report = exc.report
            outcome = f"REFUSED: {exc}"
        r = report.groups[weakest]
        verdict = r.gate or {}
        print(f"  candidate v{r.version:04d}: {r.n_train} training rows")
        print(f"  gate on the same {verdict.get('n_holdout')} holdout rows: {verdict.get('metric')} "
              f"live v{verdict.get('against', 0):04d} {verdict.get('live')} -> candidate {verdict.get('candidate')}")
        print(f"  verdict: {outcome}")
        unchanged = digests(model_dir, weakest) == before
        print(f"  every other artifact byte-identical: {unchanged}")
        print(f"  live release: {compose.load(args.store).release_name}; "
              f"{' '.join(compose.diff_releases(args.store, 'r0001', compose.ModelStore(model_dir).current_name()))}")


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
