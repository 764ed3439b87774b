"""The one-row path: inputs of a single row typed without pandas, and the generic row featurizer.

`prepare_row` types one mapping exactly as `compose.data.targets.prepare_inputs` types a column, and
answers None for anything it does not handle itself (a missing required input, a number given as
text, an unusual type): the caller then takes the pandas path, which validates it and raises the
same error as a batch would. `compile_row_featurizer` asks a feature's featurizer for its exact row
path (next to the featurizer: `compose.featurize.text.TfidfRow`, `compose.featurize.tabular.NumbersRow`)
and falls back to `FrameRow`, the fitted transform on a one-row frame. Every row featurizer is a
class, so a loaded model pickles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from compose.data.cells import is_missing
from compose.featurize.base import Featurizer, RowFeature, RowFeaturizer
from compose.schema.models import Schema

_PLAIN = (str, int, float, np.integer, np.floating)


#: Plain decimal numbers written as text ("92", "-1.5e3"), which pandas and float() read alike.
_DECIMAL = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def prepare_row(schema: Schema, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The inputs of one row typed as `prepare_inputs` types them, or None to take the pandas path."""
    out: dict[str, Any] = {}
    for name, spec in schema.inputs.items():
        if name not in row:
            if spec.required:
                return None  # the pandas path names the missing column
            out[name] = math.nan if spec.type == "number" else np.nan
            continue
        value = row[name]
        if spec.type == "image":
            return None  # the pandas path resolves the path (or bytes) and checks the file
        if value is None:
            out[name] = math.nan if spec.type == "number" else np.nan
        elif isinstance(value, bool | np.bool_) or not isinstance(value, _PLAIN):
            return None
        elif spec.type == "number":
            if isinstance(value, str):
                if not value.strip():
                    out[name] = math.nan  # a blank cell is missing, as in prepare_inputs
                    continue
                if not _DECIMAL.match(value):
                    return None  # pandas' own number parsing decides, and reports the row
            number = float(value)
            if not math.isfinite(number) and not math.isnan(number):
                return None  # the pandas path refuses an infinite number and names the row
            out[name] = number
        else:
            out[name] = np.nan if is_missing(value) else str(value)
    return out


class FrameRow:
    """Any featurizer without a row path of its own: its fitted transform on a one-row frame."""

    kind = "frame"

    def __init__(self, transformer: Any, schema: Schema) -> None:
        self.transformer = transformer
        self.numbers = {n: s.type == "number" for n, s in schema.inputs.items()}

    def __call__(self, values: Mapping[str, Any]) -> RowFeature:
        frame = pd.DataFrame({n: np.array([values[n]], dtype=np.float64 if number else object)
                              for n, number in self.numbers.items()})
        x = self.transformer.transform(frame)
        if sp.issparse(x):
            row = sp.csr_matrix(x)
            row.sort_indices()
            return np.asarray(row.indices, dtype=np.int32), np.asarray(row.data, dtype=np.float64)
        dense: np.ndarray = np.asarray(x, dtype=np.float64)[0]
        return dense


def compile_row_featurizer(featurizer: Featurizer, transformer: Any, schema: Schema) -> tuple[RowFeaturizer, str]:
    """A picklable callable of one prepared row giving the features `transformer.transform` gives, and
    its kind (`tfidf`, `numbers`, ... from the featurizer's row path, or `frame`)."""
    fast = featurizer.row_path(transformer, schema)
    if fast is not None:
        return fast, str(getattr(fast, "kind", type(fast).__name__))
    return FrameRow(transformer, schema), FrameRow.kind


def stack_rows(rows: Sequence[RowFeature], width: int, sparse: bool) -> Any:
    """The batch matrix of row features: CSR for a sparse feature, a 2-d array for a dense one."""
    if not sparse:
        return np.vstack([np.asarray(r) for r in rows]) if rows else np.zeros((0, width))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r[0]) for r in rows])
    indices = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, dtype=np.int32)
    data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), width))
