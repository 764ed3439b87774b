"""`tabular`: numbers (imputed with a missing indicator, scaled) and categories (one-hot), and the
exact one-row path of an all-number feature.

The batch transform is a ColumnTransformer. The row path of a feature that reads numbers only
computes the imputer's and scaler's arithmetic on a numpy vector; one with categories has no row
path of its own (the runtime transforms a one-row frame).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from compose.featurize.base import FeaturizerBase, RowFeature
from compose.schema.models import FeatureSpec, Schema

PARAMS = ("impute_numbers", "max_categories", "min_frequency", "scale")


class TabularFeaturizer(FeaturizerBase):
    """Number inputs imputed (median, with indicators) and scaled; category inputs one-hot encoded."""

    accepts = frozenset({"number", "category"})
    fit_hint = ""

    def param_names(self) -> Collection[str]:
        return PARAMS

    def build(self, spec: FeatureSpec, schema: Schema) -> ColumnTransformer:
        params = spec.params
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

    def row_path(self, fitted: Any, schema: Schema) -> NumbersRow | None:
        return NumbersRow.compile(fitted)


class NumbersRow:
    """The features of one prepared row of an all-number tabular feature, as a dense vector."""

    kind = "numbers"

    def __init__(self, columns: list[str], statistics: np.ndarray, indicator: np.ndarray | None,
                 scaler: StandardScaler | None) -> None:
        self.columns = columns
        self.statistics = statistics
        self.indicator = indicator
        self.scaler = scaler

    @classmethod
    def compile(cls, ct: Any) -> NumbersRow | None:
        """The row path of a fitted ColumnTransformer of one (SimpleImputer[, StandardScaler]) pipeline."""
        if not isinstance(ct, ColumnTransformer):
            return None
        parts = [(name, t, cols) for name, t, cols in ct.transformers_ if not (name == "remainder" and t == "drop")]
        if len(parts) != 1 or not isinstance(parts[0][1], Pipeline):
            return None
        _, pipe, cols = parts[0]
        steps = [step for _, step in pipe.steps]
        if (type(steps[0]) is not SimpleImputer or not all(type(s) is StandardScaler for s in steps[1:])
                or len(steps) > 2):
            return None
        imputer: SimpleImputer = steps[0]
        if not (isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values)):
            return None
        return cls(list(cols), np.asarray(imputer.statistics_, dtype=np.float64),
                   imputer.indicator_.features_ if imputer.add_indicator else None,
                   steps[1] if len(steps) == 2 else None)

    def __call__(self, values: Mapping[str, Any]) -> RowFeature:
        x = np.array([values[c] for c in self.columns], dtype=np.float64)
        missing = np.isnan(x)
        x[missing] = self.statistics[missing]
        if self.indicator is not None:
            x = np.concatenate([x, missing[self.indicator].astype(np.float64)])
        scaler = self.scaler
        if scaler is not None:
            if scaler.with_mean:
                x -= scaler.mean_
            if scaler.with_std:
                x /= scaler.scale_
        return x
