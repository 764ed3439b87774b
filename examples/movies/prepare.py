"""Build examples/movies/movies.csv.gz from the CC0 movies table shipped in `bokeh-sampledata`.

The shipped CSV was made with this script (bokeh-sampledata==2026.1); run it again with
`pip install bokeh-sampledata==2026.1 && python examples/movies/prepare.py`. Nothing downloads.

Groups made from the table:
- language: the first listed language, the 8 most common kept, the rest `other`;
- country: the first listed country, the 10 most common kept, the rest `other`;
- decade: from the release year (1940s ... 2010s); the year is not an input;
- genres: the Genre list as a multilabel cell (`Drama|Crime`), empty when the table has none;
- mpaa: the MPAA rating (G, PG, PG-13, R, NC-17), empty for most films: a partially labelled group.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def first(cell: object) -> str | None:
    if not isinstance(cell, str) or not cell.strip():
        return None
    return cell.split(",")[0].strip() or None


def top(values: pd.Series, k: int) -> pd.Series:
    keep = set(values.value_counts().head(k).index)
    return values.map(lambda v: v if v in keep else ("other" if isinstance(v, str) else None))


def build() -> pd.DataFrame:
    from bokeh_sampledata.movies_data import movie_path

    raw = pd.read_sql("select * from omdb", sqlite3.connect(movie_path))
    out = pd.DataFrame({
        "title": raw["Title"],
        "director": raw["Director"],
        "writer": raw["Writer"],
        "cast": raw["Cast"],
        "runtime": raw["Runtime"],
    })
    out["language"] = top(raw["Language"].map(first), 8)
    out["country"] = top(raw["Country"].map(first), 10)
    out["decade"] = raw["Year"].map(lambda y: f"{int(y) // 10 * 10}s" if pd.notna(y) else None)
    out["genres"] = raw["Genre"].map(
        lambda g: "|".join(p.strip() for p in g.split(",") if p.strip()) if isinstance(g, str) and g.strip() else None)
    out["mpaa"] = raw["Rating"].where(raw["Rating"].isin(["G", "PG", "PG-13", "R", "NC-17"]))
    return out.sample(frac=1.0, random_state=0).reset_index(drop=True)


if __name__ == "__main__":
    df = build()
    df.to_csv(HERE / "movies.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    df.head(1200).to_csv(HERE.parent.parent / "tests" / "fixtures" / "movies_sample.csv", index=False)
    print(f"wrote {len(df)} rows to {HERE / 'movies.csv.gz'}")
    for col in ("language", "country", "decade", "mpaa"):
        print(col, df[col].value_counts(dropna=False).to_dict())
