"""The rows of an upsert: the id of each row, its annotation texts, and rows that repeat a sample.

A row's id is the data's `id` column when it has one, else the 16 hex digits of the seeded hash of
its inputs (the hash the holdout rule reads). Rows of one upsert that repeat a sample are merged
into its first row; two that disagree on a group are an error naming both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from compose.data.targets import GroupTargets
from compose.errors import DataError
from compose.schema.models import Schema
from compose.store.sample_records import contradiction, encode_row, merge


def row_ids(df: pd.DataFrame, hashes: np.ndarray, where: str) -> list[str]:
    if "id" not in df.columns:
        return [f"{int(h):016x}" for h in hashes.tolist()]
    col = df["id"]
    missing = np.flatnonzero(col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy())
    if len(missing):
        raise DataError(f"{where}: the id column is empty in row{'s' * (len(missing) > 1)} "
                        f"{', '.join(str(r + 1) for r in missing[:5])}; give every row an id, or drop the "
                        "column to identify samples by their inputs")
    values = col.tolist()
    return [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip() for v in values]

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


def merge_duplicates(schema: Schema, ids: list[str], hashes: np.ndarray, cells: dict[str, list[str | None]],
                     where: str, skip: set[int] | None = None) -> list[int]:
    """The rows to write, one per sample; rows repeating a sample are merged into its first row.
    Rows in `skip` are left out."""
    skip = skip or set()
    dup = pd.Series(ids).duplicated(keep=False).to_numpy().copy()
    dup[list(skip)] = False
    if not dup.any():
        return [r for r in range(len(ids)) if r not in skip]
    first: dict[str, int] = {}
    drop: set[int] = set()
    for r in np.flatnonzero(dup).tolist():
        i = first.setdefault(ids[r], r)
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
    return [r for r in range(len(ids)) if r not in drop and r not in skip]
