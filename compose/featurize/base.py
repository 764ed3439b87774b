"""The featurizer protocol, and the parts every featurizer shares.

A featurizer is one module (`compose/featurize/text.py`, `tabular.py`, or a third-party package's)
holding one class that follows `Featurizer`: it builds an unfitted scikit-learn-style transformer
from a feature's spec (the batch transform: `fit(frame)` then `transform(frame)` on the prepared
input frame), says how wide the fitted transformer's output is, and may compile a row path that
gives the very values `transform` gives for one row without pandas. It declares the input kinds it
reads (`accepts`) and the `params` keys it takes (`param_names()`), which schema validation asks
the registry for. Register it by name on a `compose.registry.Registry` (or through the
`compose.featurizers` entry points); a schema then names it as `features.<name>.type`.

The fitted transformer is what the store keeps (joblib), so it must pickle: classes at module
level, no lambdas or local functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from compose.errors import PluginError
from compose.registry import Registry, resolve
from compose.schema.models import FeatureSpec, Schema
from compose.typing import Matrix

#: A feature of one row: `(indices, values)` of a sparse row, or a 1-d array of a dense one.
RowFeature = tuple[np.ndarray, np.ndarray] | np.ndarray
#: A function of one prepared row (see `compose.featurize.rows.prepare_row`) giving its features.
RowFeaturizer = Callable[[Mapping[str, Any]], RowFeature]


@runtime_checkable
class Featurizer(Protocol):
    """What a featurizer module provides (see the module docstring)."""

    #: The input kinds (`inputs.<name>.type`) this featurizer reads.
    accepts: frozenset[str]
    #: Said after the cause when fitting fails: how the user can make the feature fit.
    fit_hint: str

    def param_names(self) -> Collection[str] | None:
        """The `params` keys the feature takes, for schema validation; None accepts any."""
        ...

    def build(self, spec: FeatureSpec, schema: Schema) -> Any:
        """A new, unfitted transformer (`fit(frame)`, `transform(frame)`) for one feature."""
        ...

    def width(self, fitted: Any) -> int:
        """The number of columns the fitted transformer produces."""
        ...

    def row_path(self, fitted: Any, schema: Schema) -> RowFeaturizer | None:
        """A picklable callable of one prepared row giving `fitted.transform`'s values; None when the
        fitted transformer has no exact row path (the runtime then transforms a one-row frame)."""
        ...


class FeaturizerBase:
    """Defaults for a featurizer: any params, the width from `get_feature_names_out`, no row path."""

    accepts: frozenset[str] = frozenset()
    fit_hint: str = ""

    def param_names(self) -> Collection[str] | None:
        return None

    def build(self, spec: FeatureSpec, schema: Schema) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define build(spec, schema)")

    def width(self, fitted: Any) -> int:
        return feature_width(fitted)

    def row_path(self, fitted: Any, schema: Schema) -> RowFeaturizer | None:
        return None


class TextJoiner(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Joins text columns into one string per row (missing cells count as empty); shared by text featurizers."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> TextJoiner:  # noqa: N803 - scikit-learn's name
        return self

    def transform(self, X: pd.DataFrame) -> list[str]:  # noqa: N803
        parts = [X[c].tolist() for c in self.columns]
        return [join_text(row) for row in zip(*parts, strict=True)]


def join_text(values: Iterable[Any]) -> str:
    """One document from the text cells of a row; missing cells (None, NaN) count as empty.

    The batch path (TextJoiner) and the one-row paths both call this, so the two cannot tokenise
    a row differently.
    """
    return " ".join(str(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))


def featurizer_of(schema: Schema, name: str, registry: Registry | None = None) -> Featurizer:
    """The registered featurizer that feature `name` of the schema is declared with."""
    found = resolve(registry).featurizer(schema.features[name].type)
    if not isinstance(found, Featurizer):
        raise PluginError(f"featurizer {schema.features[name].type!r} of feature {name!r} does not follow "
                          "compose's featurizer protocol (accepts, fit_hint, param_names, build, width, row_path)")
    return found


def build_featurizer(schema: Schema, name: str, registry: Registry | None = None) -> Any:
    """A new, unfitted transformer for feature `name`, built by its registered featurizer."""
    return featurizer_of(schema, name, registry).build(schema.features[name], schema)


def fit_transform_rows(transformer: Any, inputs: pd.DataFrame, rows: np.ndarray) -> Matrix:
    """Fit `transformer` on `inputs.iloc[rows]` and return the features of every row of `inputs`.

    The fitted rows come from `fit_transform` when the transformer has it (it computes them
    anyway, so they are not tokenised twice) and the others from `transform`, put back in the
    order of `inputs`.
    """
    n = len(inputs)
    rows = np.asarray(rows, dtype=np.int64)
    part = inputs.iloc[rows]
    if hasattr(transformer, "fit_transform"):
        fitted = transformer.fit_transform(part)
    else:  # a plugin transformer with only fit and transform (the featurizer protocol)
        fitted = transformer.fit(part).transform(part)
    if len(rows) == n and np.array_equal(rows, np.arange(n)):
        return fitted
    rest = np.setdiff1d(np.arange(n), rows, assume_unique=True)
    others = transformer.transform(inputs.iloc[rest]) if len(rest) else fitted[:0]
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate([rows, rest])] = np.arange(n)
    if sp.issparse(fitted):
        return sp.vstack([sp.csr_matrix(fitted), sp.csr_matrix(others)], format="csr")[order]
    return np.vstack([np.asarray(fitted), np.asarray(others)])[order]


def feature_width(transformer: Any) -> int:
    """The number of columns a fitted transformer produces, from its (last step's) feature names."""
    last = transformer[-1] if isinstance(transformer, Pipeline) else transformer
    return len(last.get_feature_names_out())


def hstack(blocks: list[Matrix]) -> Matrix:
    """Join feature blocks side by side; sparse if any block is sparse."""
    if len(blocks) == 1:
        return blocks[0]
    if any(sp.issparse(b) for b in blocks):
        return sp.hstack([sp.csr_matrix(b) for b in blocks], format="csr")
    return np.hstack(blocks)
