"""Turning the cells of a table into inputs and per-group targets.

An EMPTY cell means "not annotated for this group": the row is left out of that group. In a
multilabel cell, `[]` means "none of these labels"; labels are a JSON list or `red|blue`; a JSON
object `{"red": true, "blue": false}` gives per-label truth, the labels it does not name unknown.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from compose.data.cells import multilabel_cell, single_label
from compose.data.hierarchy import expand_columns
from compose.data.images import base_folder, image_digest, resolve_images
from compose.data.io import source_of
from compose.data.tags import convert
from compose.errors import DataError
from compose.schema.models import Schema

_MAX_SHOWN = 5
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _show(cells: list[str], total: int) -> str:
    more = f" (and {total - len(cells)} more)" if total > len(cells) else ""
    return "; ".join(cells) + more


def prepare_inputs(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The input columns typed as the schema says: text as str, numbers as float, categories as str.

    A missing required column is an error that names it; a missing optional one is filled empty.
    A bad cell is named by its row in the whole file: a batch read by `iter_batches` carries the
    position of its first row in `df.attrs["first_row"]`.
    """
    src = source_of(df)
    first = int(df.attrs.get("first_row", 0))
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
            if isinstance(col.dtype, pd.DatetimeTZDtype) or col.dtype.kind in "mM":
                raise DataError(f"{src}, column {name!r}: holds dates or times ({col.dtype}), but the schema declares "
                                "it type: number; convert it to a number first (for example the year) or declare "
                                "it type: category")
            numbers = _numbers(col)
            # beyond float32's range is refused too: scikit-learn's trees compute in float32
            bad_mask = (numbers.isna() & ~empty) | (numbers.abs() > _FLOAT32_MAX)
            if bad_mask.any():
                rows = np.flatnonzero(bad_mask.to_numpy())
                cells = [f"row {first + r + 1}: {col.iloc[r]!r}" for r in rows[:_MAX_SHOWN]]
                raise DataError(f"{src}, column {name!r}: not a finite number in {_show(cells, len(rows))}; "
                                "the schema declares it type: number (leave a cell empty if unknown; beyond ±3.4e38 is "
                                "not finite here)")
            out[name] = numbers.astype(float).to_numpy()
        else:
            values = text.to_numpy(dtype=object)
            values[empty] = np.nan
            out[name] = values
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _numbers(col: pd.Series) -> pd.Series:
    """`col` as floats; a cell that is no number (a list, a date, a word) becomes NaN, to be reported."""
    try:
        return pd.to_numeric(col, errors="coerce").astype(float)
    except (TypeError, ValueError, OverflowError):
        def one(value: Any) -> float:
            if isinstance(value, (bool, int, float, np.integer, np.floating, str)):
                try:
                    return float(value)
                except (TypeError, ValueError, OverflowError):
                    return float("nan")
            return float("nan")

        return pd.Series([one(v) for v in col], index=col.index, dtype=float)


@dataclass(frozen=True)
class GroupTargets:
    """The labels of one group: `labelled[i]` says whether row i is annotated for the group.

    For multiclass and binary groups `y[i]` is a label index; for multilabel groups `y` is an
    (n_rows, n_labels) 0/1 matrix. Rows that are not labelled hold -1 or zeros.

    `known` (multilabel groups only) is the (n_rows, n_labels) mask of the cells whose truth is
    known: a per-label cell (`{"red": true}`) leaves the labels it does not name unknown, and each
    label is trained and evaluated only on the rows where it is known. None means every label of
    every labelled row is known (cells written as lists or `a|b`).
    """

    group: str
    labels: list[str]
    labelled: np.ndarray
    y: np.ndarray
    known: np.ndarray | None = None

    @property
    def n_labelled(self) -> int:
        return int(self.labelled.sum())

    def known_cells(self) -> np.ndarray:
        """The (n_rows, n_labels) mask of known cells of a multilabel group (labelled rows, named labels)."""
        if self.known is not None:
            return self.known
        return np.repeat(self.labelled[:, None], len(self.labels), axis=1)

    def label_rows(self, j: int) -> np.ndarray:
        """The rows where label `j` of a multilabel group is known (present or absent)."""
        return self.labelled if self.known is None else self.labelled & self.known[:, j]


def in_when(labels: Sequence[str], index: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
    """Rows whose gate label (an index into `labels`, -1 for none) is one of `wanted`.

    The one test of a `when` condition: training and tuning apply it to the gate's labels in the
    data, the runtime to the gate's decided labels.
    """
    ids = [labels.index(w) for w in wanted]
    if len(ids) == 1:  # the common `when: {gate: [label]}`: one comparison, 10x cheaper than isin on a row
        same: np.ndarray = np.asarray(index) == ids[0]
        return same
    return np.isin(index, ids)


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


def _what(bad: list[str]) -> str:
    """How to call the bad cells of a group column: unreadable ones are not merely undeclared labels."""
    return "that cannot be read or hold" if any(" looks like a JSON list" in b or " is not a list" in b
                                                for b in bad) else "with"


def parse_targets(df: pd.DataFrame, schema: Schema, groups: Iterable[str] | None = None) -> dict[str, GroupTargets]:
    """The targets of every group whose column is in `df`; an undeclared label is an error."""
    df = expand_columns(split_tags(df, schema), schema)
    src = source_of(df)
    wanted = list(groups) if groups is not None else list(schema.groups)
    out: dict[str, GroupTargets] = {}
    for group in wanted:
        if group not in df.columns:
            continue
        spec = schema.groups[group]
        labels = schema.labels_of(group)
        codes, cells = _distinct(df[group])
        # parse each distinct cell once, then spread the result over the rows holding it
        u_labelled = np.zeros(len(cells), dtype=bool)
        bad: dict[int, str] = {}
        y: np.ndarray[Any, Any]
        known: np.ndarray | None = None
        if spec.type == "multilabel":
            u_y, u_known = _multilabel(cells, labels, u_labelled, bad)
            y = _spread(u_y, codes, 0)
            known = None if u_known is None else _spread(u_known, codes, False)
        else:
            u_y = _single(cells, labels, spec.type == "binary" and spec.labels is None, u_labelled, bad)
            y = _spread(u_y, codes, -1)
        labelled = _spread(u_labelled, codes, False)
        if bad:
            rows = np.flatnonzero(np.isin(codes, list(bad)))
            shown = [f"row {r + 1}: {bad[int(codes[r])]}" for r in rows[:_MAX_SHOWN]]
            what = _what(list(bad.values()))
            raise DataError(f"{src}, column {group!r}: {len(rows)} cell{'s' if len(rows) > 1 else ''} {what} a label "
                            f"the schema does not declare: {_show(shown, len(rows))}. Declared labels: {labels}. "
                            f"Fix the cells, or add the label to the schema's groups.{group}.labels "
                            "(rows count from 1 after the header)")
        if known is not None and bool(known[labelled].all()):
            known = None  # every label of every labelled row is known after all
        out[group] = GroupTargets(group, labels, labelled, y, known)
    return out


def _distinct(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1: an empty cell) and the distinct cells of a column; every cell its own code when
    the cells cannot be hashed (lists or mappings read from JSON Lines or Parquet)."""
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        return np.asarray(codes), list(uniques)
    except TypeError:
        values = column.tolist()
        return np.arange(len(values)), values


def _spread(values: np.ndarray, codes: np.ndarray, empty: Any) -> np.ndarray:
    """Per-row values from per-distinct-cell values (`empty` where the code is -1)."""
    pad = np.full((1, *values.shape[1:]), empty, dtype=values.dtype)
    spread: np.ndarray = np.concatenate([values, pad])[codes]
    return spread


def _single(cells: list[Any], labels: list[str], binary_default: bool, labelled: np.ndarray,
            bad: dict[int, str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    y = np.full(len(cells), -1, dtype=np.int64)
    for u, value in enumerate(cells):
        label = single_label(value, labels, binary_default)
        if label is None:
            continue
        if label in index:
            labelled[u] = True
            y[u] = index[label]
        else:
            bad[u] = f"{label!r}{_near(label, labels)}"
    return y


def _multilabel(cells: list[Any], labels: list[str], labelled: np.ndarray,
                bad: dict[int, str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The 0/1 matrix and known-cell mask of distinct multilabel cells; fills `labelled` and `bad`."""
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(cells), len(labels)), dtype=np.int8)
    known: np.ndarray | None = None
    for u, value in enumerate(cells):
        try:
            cell = multilabel_cell(value)
        except ValueError as exc:
            bad[u] = str(exc)
            continue
        if cell is None:
            continue
        if isinstance(cell, dict):
            if known is None:
                known = np.repeat(labelled[:, None], len(labels), axis=1)
            known[u] = False
            if not cell:
                continue  # `{}` names no label: nothing is known about this row
        elif known is not None:
            known[u] = True
        labelled[u] = True
        for part in cell:
            if part in index:
                y[u, index[part]] = int(cell[part]) if isinstance(cell, dict) else 1
                if known is not None:
                    known[u, index[part]] = True
            elif u not in bad:
                bad[u] = f"{part!r}{_near(part, labels)}"
    return y, known


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
