"""Train the tabular example: Palmer penguins (CC0), three groups: species, island, sex.

    python examples/penguins/penguins.py [--store out/penguins-store]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from palmerpenguins import load_penguins

import compose

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default=str(ROOT / "out" / "penguins-store"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "penguins.csv"
        load_penguins().to_csv(data, index=False)
        schema = compose.load_schema(ROOT / "schemas" / "penguins.yaml")
        model = compose.train(schema, data, store=args.store)
        for result in model.predict(data)[:3]:
            print(result["labels"], {g: r.get("confidence") for g, r in result["groups"].items()})
        report = compose.evaluate(model, data, split="holdout")
        print("\n".join(compose.evaluation_summary(report)))


if __name__ == "__main__":
    main()
