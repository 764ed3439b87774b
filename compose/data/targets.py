"""Turning the cells of a table into inputs and per-group targets.

An EMPTY cell means "not annotated for this group": the row is left out of that group. In a
multilabel cell, `[]` means "none of these labels"; labels are a JSON list or `red|blue`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from compose.data.cells import single_label, split_multilabel
from compose.data.images import base_folder, image_digest, resolve_images
from compose.data.io import source_of
from compose.data.tags import convert
from compose.errors import DataError
from compose.schema.models import Schema

_MAX_SHOWN = 5


def _show(cells: list[str], total: int) -> str:
    more = f" (and {total - len(cells)} more)" if total > len(cells) else ""
    return "; ".join(cells) + more


def prepare_inputs(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The input columns typed as the schema says: text as str, numbers as float, categories as str.

    A missing required column is an error that names it; a missing optional one is filled empty.
    """
    src = source_of(df)
    missing = [name for name, spec in schema.inputs.items() if spec.required and name not in df.columns]
    if missing:
        spare = [c for c in df.columns if c not in schema.inputs and c not in schema.groups]
        close = {m: difflib.get_close_matches(m, spare, n=1) for m in missing}
        hints = "".join(f" Is {c[0]!r} meant to be {m!r}?" for m, c in close.items() if c)
        raise DataError(f"{src}: missing input column{'s' if len(missing) > 1 else ''} {missing}; "
                        f"the file has {list(df.columns)[:20]}.{hints} Add the column or rename it.")
    out: dict[str, Any] = {}
    for name, spec in schema.inputs.items():
        col = df[name] if name in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
        if spec.type == "image":
            out[name] = resolve_images(col.to_numpy(dtype=object), base_folder(df.attrs.get("source")),
                                       f"{src}, column {name!r}", spec.required and name in df.columns)
            continue
        text = col.astype("string")  # vectorised: None, NaN and NA become <NA>
        empty = (text.isna() | (text.str.strip() == "")).to_numpy(dtype=bool)
        if spec.type == "number":
            numbers = pd.to_numeric(col, errors="coerce").astype(float)
            bad_mask = (numbers.isna() & ~empty) | np.isinf(numbers)
            if bad_mask.any():
                rows = np.flatnonzero(bad_mask.to_numpy())
                cells = [f"row {r + 1}: {col.iloc[r]!r}" for r in rows[:_MAX_SHOWN]]
                raise DataError(f"{src}, column {name!r}: not a finite number in {_show(cells, len(rows))}; "
                                "the schema declares it type: number (leave a cell empty if unknown)")
            out[name] = numbers.astype(float).to_numpy()
        else:
            values = text.to_numpy(dtype=object)
            values[empty] = np.nan
            out[name] = values
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


@dataclass(frozen=True)
class GroupTargets:
    """The labels of one group: `labelled[i]` says whether row i is annotated for the group.

    For multiclass and binary groups `y[i]` is a label index; for multilabel groups `y` is an
    (n_rows, n_labels) 0/1 matrix. Rows that are not labelled hold -1 or zeros.
    """

    group: str
    labels: list[str]
    labelled: np.ndarray
    y: np.ndarray

    @property
    def n_labelled(self) -> int:
        return int(self.labelled.sum())


def in_when(labels: Sequence[str], index: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
    """Rows whose gate label (an index into `labels`, -1 for none) is one of `wanted`.

    The one test of a `when` condition: training and tuning apply it to the gate's labels in the
    data, the runtime to the gate's decided labels.
    """
    return np.isin(index, [labels.index(w) for w in wanted])


def outside_when(when: Mapping[str, Sequence[str]] | None, targets: Mapping[str, GroupTargets],
                 n_rows: int) -> np.ndarray:
    """Rows labelled for a gating group with a label outside the conditional group's `when`.

    Such rows are not ones the conditional head is meant for: training, tuning and the baseline
    leave them out. A gate with no column in the data rules out no row (its rows are trusted).
    """
    out = np.zeros(n_rows, dtype=bool)
    for gate, wanted in (when or {}).items():
        gt = targets.get(gate)
        if gt is not None:
            out |= gt.labelled & ~in_when(gt.labels, gt.y, wanted)
    return out


def split_tags(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The data with one column per group, when the schema names a flat `tags` column that the data
    has and no group column is present; the data as it is otherwise."""
    if schema.tags is None or schema.tags not in df.columns or any(g in df.columns for g in schema.groups):
        return df
    return convert(schema, df, tags=schema.tags)


def parse_targets(df: pd.DataFrame, schema: Schema, groups: Iterable[str] | None = None) -> dict[str, GroupTargets]:
    """The targets of every group whose column is in `df`; an undeclared label is an error."""
    df = split_tags(df, schema)
    src = source_of(df)
    wanted = list(groups) if groups is not None else list(schema.groups)
    out: dict[str, GroupTargets] = {}
    for group in wanted:
        if group not in df.columns:
            continue
        spec = schema.groups[group]
        labels = schema.labels_of(group)
        index = {label: i for i, label in enumerate(labels)}
        col = df[group].tolist()
        n = len(col)
        labelled = np.zeros(n, dtype=bool)
        y: np.ndarray[Any, Any]
        bad: list[str] = []
        n_bad = 0
        if spec.type == "multilabel":
            y = np.zeros((n, len(labels)), dtype=np.int8)
            for r, value in enumerate(col):
                try:
                    parts = split_multilabel(value)
                except ValueError as exc:
                    n_bad += 1
                    if len(bad) < _MAX_SHOWN:
                        bad.append(f"row {r + 1}: {exc}")
                    continue
                if parts is None:
                    continue
                labelled[r] = True
                for part in parts:
                    if part in index:
                        y[r, index[part]] = 1
                    else:
                        n_bad += 1
                        if len(bad) < _MAX_SHOWN:
                            bad.append(f"row {r + 1}: {part!r}{_near(part, labels)}")
        else:
            y = np.full(n, -1, dtype=np.int64)
            binary_default = spec.type == "binary" and spec.labels is None
            for r, value in enumerate(col):
                label = single_label(value, labels, binary_default)
                if label is None:
                    continue
                if label in index:
                    labelled[r] = True
                    y[r] = index[label]
                else:
                    n_bad += 1
                    if len(bad) < _MAX_SHOWN:
                        bad.append(f"row {r + 1}: {label!r}{_near(label, labels)}")
        if n_bad:
            raise DataError(f"{src}, column {group!r}: {n_bad} cell{'s' if n_bad > 1 else ''} with a label the "
                            f"schema does not declare: {_show(bad, n_bad)}. Declared labels: {labels}. "
                            f"Fix the cells, or add the label to the schema's groups.{group}.labels "
                            "(rows count from 1 after the header)")
        out[group] = GroupTargets(group, labels, labelled, y)
    return out


def _near(value: str, labels: list[str]) -> str:
    close = difflib.get_close_matches(value, labels, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def row_hashes(inputs: pd.DataFrame, seed: int) -> np.ndarray:
    """A stable 64-bit hash of each row's input values, salted with the seed.

    The hash depends on the inputs only, never on labels or row order, so a row lands in the same
    split every time it is seen: that is what lets a retrained head and the live head be compared
    on rows neither was fitted on.
    """
    if len(inputs) == 0:
        return np.zeros(0, dtype=np.uint64)
    # pandas' hash_key salts only text columns, so the seed is mixed into every row's hash here,
    # with splitmix64's finaliser (a bijection on 64 bits): all-number inputs get a seeded split too.
    salt = np.uint64(int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=8).digest(), "big"))
    h = pd.util.hash_pandas_object(inputs, index=False, categorize=False).to_numpy(dtype=np.uint64) ^ salt
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def split_hashes(df: pd.DataFrame, inputs: pd.DataFrame, schema: Schema, seed: int | None = None) -> np.ndarray:
    """The hash that puts each row in the training or holdout split.

    By default the row's input values (`row_hashes`), with an image input taken by its content,
    not its path. With `training.group_by: COLUMN`, the value of that column of the data, so every
    row sharing it (the skin-tone variants of one emoji) lands on the same side; a row whose cell
    is empty falls back to its input hash.
    """
    seed = schema.training.seed if seed is None else seed
    images = [n for n, spec in schema.inputs.items() if spec.type == "image"]
    keyed = inputs.assign(**{n: [image_digest(v) for v in inputs[n]] for n in images}) if images else inputs
    hashes = row_hashes(keyed, seed)
    column = schema.training.group_by
    if column is None:
        return hashes
    if column not in df.columns:
        raise DataError(f"{source_of(df)}: training.group_by names column {column!r}, which the data does not "
                        f"have; add it (the holdout hash is computed from it) or remove group_by")
    cells = df[column].astype("string").fillna("").to_numpy(dtype=object)
    grouped = row_hashes(pd.DataFrame({"group_by": cells}), seed)
    empty = np.array([not str(c).strip() for c in cells], dtype=bool)
    return np.where(empty, hashes, grouped)


def holdout_mask(hashes: np.ndarray, fraction: float) -> np.ndarray:
    """Rows whose hash falls in the lowest `fraction` of the 64-bit range."""
    return hashes < np.uint64(int(fraction * 2**64) if fraction < 1 else 2**64 - 1)


def fingerprint(hashes: np.ndarray, y: np.ndarray | None = None) -> str:
    """A digest of a set of rows (and their labels), independent of their order."""
    if y is None:
        keys = np.sort(hashes)
        return hashlib.sha256(keys.tobytes()).hexdigest()[:16]
    if len(hashes) == 0:
        return hashlib.sha256(b"").hexdigest()[:16]
    y2 = y.reshape(len(hashes), -1).astype(np.int64)
    order = np.lexsort((*y2.T[::-1], hashes))
    h = hashlib.sha256(hashes[order].tobytes())
    h.update(y2[order].tobytes())
    return h.hexdigest()[:16]
