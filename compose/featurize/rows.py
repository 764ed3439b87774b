"""The one-row path: inputs and features of a single row without pandas or per-call validation.

`prepare_row` types one mapping exactly as `compose.data.targets.prepare_inputs` types a column, and
answers None for anything it does not handle itself (a missing required input, a number given as
text, an unusual type): the caller then takes the pandas path, which validates it and raises the
same error as a batch would. `compile_row_featurizer` turns a fitted featurizer into a function
of one prepared row that gives the very values its `transform` gives for that row: TF-IDF from the
vectorizer's own analyzer, `vocabulary_` and `idf_`; numbers from the imputer's statistics and the
scaler's mean and scale; anything else through the featurizer itself on a one-row frame.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from compose.data.cells import is_missing
from compose.featurize.base import TextJoiner, feature_width, join_text
from compose.schema.models import Schema

#: A feature of one row: `(indices, values)` of a sparse row, or a 1-d array of a dense one.
RowFeature = tuple[np.ndarray, np.ndarray] | np.ndarray
RowFeaturizer = Callable[[Mapping[str, Any]], RowFeature]

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


def feature_columns(transformer: Any) -> int:
    """The number of columns of a fitted featurizer (the vocabulary size for TF-IDF, without building names)."""
    last = transformer[-1] if isinstance(transformer, Pipeline) else transformer
    vocabulary = getattr(last, "vocabulary_", None)
    return len(vocabulary) if vocabulary is not None else feature_width(transformer)


def _tfidf_row(pipeline: Pipeline) -> RowFeaturizer | None:
    if len(pipeline) != 2 or type(pipeline[0]) is not TextJoiner or type(pipeline[-1]) is not TfidfVectorizer:
        return None
    vec: TfidfVectorizer = pipeline[-1]
    if vec.input != "content" or np.dtype(vec.dtype) != np.float64 or vec.norm not in ("l1", "l2", None):
        return None
    columns: tuple[str, ...] = tuple(pipeline[0].columns)
    analyze = vec.build_analyzer()
    vocabulary: dict[str, int] = vec.vocabulary_
    idf = vec.idf_ if vec.use_idf else None
    sublinear, binary, norm = bool(vec.sublinear_tf), bool(vec.binary), vec.norm

    def featurize(values: Mapping[str, Any]) -> RowFeature:
        text = join_text(values[c] for c in columns)
        counts: dict[int, int] = {}
        for token in analyze(text):
            j = vocabulary.get(token)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        data = np.ones(len(counts)) if binary else np.array([counts[j] for j in indices.tolist()], dtype=np.float64)
        if sublinear:
            np.log(data, data)
            data += 1.0
        if idf is not None:
            data *= idf[indices]
        if norm is not None and len(data):
            total = 0.0
            for v in data.tolist():  # the order of scikit-learn's row normalisation, for identical sums
                total += v * v if norm == "l2" else abs(v)
            if total != 0.0:
                data /= math.sqrt(total) if norm == "l2" else total
        return indices, data

    return featurize


def _numbers_row(ct: ColumnTransformer) -> RowFeaturizer | None:
    parts = [(name, t, cols) for name, t, cols in ct.transformers_ if not (name == "remainder" and t == "drop")]
    if len(parts) != 1 or not isinstance(parts[0][1], Pipeline):
        return None
    _, pipe, cols = parts[0]
    steps = [step for _, step in pipe.steps]
    if type(steps[0]) is not SimpleImputer or not all(type(s) is StandardScaler for s in steps[1:]) or len(steps) > 2:
        return None
    imputer: SimpleImputer = steps[0]
    if not (isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values)):
        return None
    columns = list(cols)
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    indicator = imputer.indicator_.features_ if imputer.add_indicator else None
    scaler: StandardScaler | None = steps[1] if len(steps) == 2 else None

    def featurize(values: Mapping[str, Any]) -> RowFeature:
        x = np.array([values[c] for c in columns], dtype=np.float64)
        missing = np.isnan(x)
        x[missing] = statistics[missing]
        if indicator is not None:
            x = np.concatenate([x, missing[indicator].astype(np.float64)])
        if scaler is not None:
            if scaler.with_mean:
                x -= scaler.mean_
            if scaler.with_std:
                x /= scaler.scale_
        return x

    return featurize


def _frame_row(transformer: Any, schema: Schema) -> RowFeaturizer:
    """Any other featurizer: its own transform on a one-row frame of the prepared inputs."""
    names = list(schema.inputs)

    def featurize(values: Mapping[str, Any]) -> RowFeature:
        frame = pd.DataFrame({n: np.array([values[n]], dtype=np.float64 if schema.inputs[n].type == "number"
                                          else object) for n in names})
        x = transformer.transform(frame)
        if sp.issparse(x):
            row = sp.csr_matrix(x)
            row.sort_indices()
            return np.asarray(row.indices, dtype=np.int32), np.asarray(row.data, dtype=np.float64)
        dense: np.ndarray = np.asarray(x, dtype=np.float64)[0]
        return dense

    return featurize


def compile_row_featurizer(transformer: Any, schema: Schema) -> tuple[RowFeaturizer, str]:
    """A function of one prepared row giving the features `transformer.transform` gives, and its kind."""
    if isinstance(transformer, Pipeline):
        fast = _tfidf_row(transformer)
        if fast is not None:
            return fast, "tfidf"
    if isinstance(transformer, ColumnTransformer):
        fast = _numbers_row(transformer)
        if fast is not None:
            return fast, "numbers"
    return _frame_row(transformer, schema), "frame"


def stack_rows(rows: Sequence[RowFeature], width: int, sparse: bool) -> Any:
    """The batch matrix of row features: CSR for a sparse feature, a 2-d array for a dense one."""
    if not sparse:
        return np.vstack([np.asarray(r) for r in rows]) if rows else np.zeros((0, width))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r[0]) for r in rows])
    indices = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, dtype=np.int32)
    data = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), width))
