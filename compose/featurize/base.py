"""Shared featurizers built from scikit-learn parts: `tfidf` for text, `tabular` for the rest.

Each is a plain scikit-learn transformer that reads its columns from the prepared input frame, so
it pickles with joblib and can be fitted once and reused by every head that names it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from compose.schema.models import Schema

Matrix = Any  # a dense numpy array or a scipy CSR matrix


class TextJoiner(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Joins text columns into one string per row (missing cells count as empty)."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> TextJoiner:  # noqa: N803 - scikit-learn's name
        return self

    def transform(self, X: pd.DataFrame) -> list[str]:  # noqa: N803
        parts = [X[c].tolist() for c in self.columns]
        return [join_text(row) for row in zip(*parts, strict=True)]


def join_text(values: Iterable[Any]) -> str:
    """One document from the text cells of a row; missing cells (None, NaN) count as empty.

    The batch path (TextJoiner) and the one-row path (compose.featurize.rows) both call this, so the
    two cannot tokenise a row differently.
    """
    return " ".join(str(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))


def build_featurizer(schema: Schema, name: str) -> BaseEstimator:
    """A new, unfitted transformer for feature `name`."""
    spec = schema.features[name]
    params = dict(spec.params)
    if spec.type == "tfidf":
        for key, value in list(params.items()):
            if isinstance(value, list):
                params[key] = tuple(value)
        params.setdefault("sublinear_tf", True)
        params.setdefault("dtype", np.float64)
        return Pipeline([("join", TextJoiner(tuple(spec.inputs))), ("tfidf", TfidfVectorizer(**params))])
    numbers = [c for c in spec.inputs if schema.inputs[c].type == "number"]
    categories = [c for c in spec.inputs if schema.inputs[c].type == "category"]
    parts: list[tuple[str, Any, list[str]]] = []
    if numbers:
        steps: list[Any] = [SimpleImputer(strategy=params.get("impute_numbers", "median"), add_indicator=True,
                                          keep_empty_features=True)]
        if params.get("scale", True):
            steps.append(StandardScaler())
        parts.append(("numbers", make_pipeline(*steps), numbers))
    if categories:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=params.get("min_frequency"),
                                max_categories=params.get("max_categories"), sparse_output=False)
        parts.append(("categories", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="<missing>", keep_empty_features=True), encoder),
            categories))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def feature_width(transformer: Any) -> int:
    """The number of columns a fitted featurizer produces."""
    last = transformer[-1] if isinstance(transformer, Pipeline) else transformer
    return len(last.get_feature_names_out())


def hstack(blocks: list[Matrix]) -> Matrix:
    """Join feature blocks side by side; sparse if any block is sparse."""
    if len(blocks) == 1:
        return blocks[0]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr")
    return np.hstack(blocks)
