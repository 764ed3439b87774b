"""The rows of an upsert: the id of each row, its annotation texts, and rows that repeat a sample.

A row is a sample. With an `id` column, the id names it, and rows of one upsert that repeat an id
are merged into its first row (two that disagree on a group are an error naming both). Without
one, the k-th row whose inputs hash to h is the k-th stored sample with those inputs (first-seen
order), else a new sample, whose id is the 16 hex digits of the seeded hash of its inputs (the
hash the holdout rule reads), with `-n` for the n-th sample of those inputs (n >= 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compose.data.targets import GroupTargets
from compose.errors import DataError
from compose.schema.models import Schema
from compose.store.sample_records import contradiction, encode_row, merge


def hash_id(h: int, ordinal: int = 0) -> str:
    """The id of the `ordinal`-th (0-based) sample whose inputs hash to `h` (an unsigned 64-bit hash)."""
    text = f"{h & 0xFFFF_FFFF_FFFF_FFFF:016x}"
    return text if ordinal == 0 else f"{text}-{ordinal + 1}"


def given_ids(df: pd.DataFrame, where: str, *, allow_empty: bool = False) -> list[str | None]:
    """The `id` cell of each row (None: no id column, or an empty cell where `allow_empty`)."""
    if "id" not in df.columns:
        return [None] * len(df)
    col = df["id"]
    empty = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    missing = np.flatnonzero(empty)
    if len(missing) and not allow_empty:
        raise DataError(f"{where}: the id column is empty in row{'s' * (len(missing) > 1)} "
                        f"{', '.join(str(r + 1) for r in missing[:5])}; give every row an id, or drop the "
                        "column to identify samples by their inputs")
    return [None if gap else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
            for v, gap in zip(col.tolist(), empty.tolist(), strict=True)]


def file_ids(df: pd.DataFrame, hashes: np.ndarray, where: str) -> list[str]:
    """The sample id of each row of a file as an empty sample store would name it: its `id` cell, else
    the hash of its inputs and its order among the file's rows with equal inputs."""
    named = given_ids(df, where)
    k = ordinals(hashes, list(range(len(df)))).tolist()
    return [i if i is not None else hash_id(int(h), n) for i, h, n in zip(named, hashes.tolist(), k, strict=True)]


def ordinals(hashes: np.ndarray, rows: list[int]) -> np.ndarray:
    """For each of `rows` (in order), how many of the earlier ones have the same hash."""
    if not rows:
        return np.zeros(0, dtype=np.int64)
    return pd.Series(hashes[rows]).groupby(hashes[rows], sort=False).cumcount().to_numpy(dtype=np.int64)

def row_cells(schema: Schema, group: str, t: GroupTargets) -> list[str | None]:
    """The annotation text of each row of a group's parsed targets (None: not annotated); each
    distinct row of labels is encoded once."""
    kind, labels = schema.groups[group].type, schema.labels_of(group)
    rows = np.flatnonzero(t.labelled)
    out = np.full(len(t.labelled), None, dtype=object)
    if kind != "multilabel":
        out[rows] = np.array(labels, dtype=object)[t.y[rows]]
        return list(out)
    complete = rows if t.known is None else rows[t.known[rows].all(axis=1)]
    if len(complete):
        packed = np.packbits(t.y[complete].astype(bool), axis=1)
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
        texts = np.array([encode_row(kind, labels, t, int(complete[i])) for i in first], dtype=object)
        out[complete] = texts[np.asarray(inverse).reshape(-1)]
    for r in np.setdiff1d(rows, complete).tolist():
        out[r] = encode_row(kind, labels, t, r)
    return list(out)


def merge_duplicates(schema: Schema, ids: list[str | None], hashes: np.ndarray, cells: dict[str, list[str | None]],
                     where: str) -> list[int]:
    """The rows to write, one per sample: rows repeating an id are merged into its first row (rows
    without an id are samples of their own)."""
    named = pd.Series([i if i is not None else f"\0{r}" for r, i in enumerate(ids)])
    dup = named.duplicated(keep=False).to_numpy()
    if not dup.any():
        return list(range(len(ids)))
    first: dict[str, int] = {}
    drop: set[int] = set()
    for r in np.flatnonzero(dup).tolist():
        key = ids[r]
        assert key is not None  # rows without an id are never duplicates
        i = first.setdefault(key, r)
        if i == r:
            continue
        drop.add(r)
        if hashes[r] != hashes[i]:
            raise DataError(f"{where}: rows {i + 1} and {r + 1} have the same id {ids[r]!r} but different "
                            "inputs; one sample has one set of inputs: give one of them another id")
        for g, column in cells.items():
            a, b = column[i], column[r]
            if b is None:
                continue
            if a is None:
                column[i] = b
                continue
            kind, labels = schema.groups[g].type, schema.labels_of(g)
            why = contradiction(kind, labels, a, b)
            if why is not None:
                raise DataError(f"{where}: rows {i + 1} and {r + 1} are the same sample ({ids[r]!r}) but disagree "
                                f"on group {g!r}: {why}; keep one of them (or make them agree)")
            column[i] = merge(kind, labels, a, b)
    return [r for r in range(len(ids)) if r not in drop]
