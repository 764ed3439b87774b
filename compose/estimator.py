"""`ComposedClassifier`: a schema's composed model behind scikit-learn's estimator contract.

It fits, predicts and scores like any scikit-learn classifier, so it works in a Pipeline and in
cross-validation. `fit` trains every group into a store (a temporary one unless `store` is given)
and keeps the loaded release in memory as `model_`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from compose.data.io import as_frame
from compose.data.targets import parse_targets
from compose.errors import DataError
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.schema.load import load_schema, schema_from_dict
from compose.schema.models import Schema, TrainingSpec
from compose.training.run import fit_and_release


class ComposedClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A composed model as a scikit-learn estimator.

    Parameters
    ----------
    schema : path, Schema or dict
        The schema of the groups to learn.
    store : path or None
        Where versions are written; None trains into a temporary folder that is removed after fit.
    holdout : float or None
        Overrides the schema's holdout fraction (0 uses every row for fitting, as cross-validation
        usually wants).
    n_jobs : int or None
        Parallel head fits (None: automatic).

    `predict` returns an (n_rows, n_groups) object array: the label of each multiclass and binary
    group (None when abstained or skipped) and the `|`-joined labels of each multilabel group.
    `predict_proba` returns one (n_rows, n_labels) array per group, in `groups_` order.
    """

    def __init__(self, schema: str | Path | Schema | dict[str, Any] | None = None, *, store: str | Path | None = None,
                 holdout: float | None = None, n_jobs: int | None = None) -> None:
        self.schema = schema
        self.store = store
        self.holdout = holdout
        self.n_jobs = n_jobs

    def _schema(self) -> Schema:
        if self.schema is None:
            raise DataError("ComposedClassifier needs a schema: ComposedClassifier(schema='schema.yaml')")
        if isinstance(self.schema, Schema):
            schema = self.schema
        elif isinstance(self.schema, dict):
            schema = schema_from_dict(self.schema)
        else:
            schema = load_schema(self.schema)
        if self.holdout is not None:
            training = TrainingSpec(holdout=self.holdout, seed=schema.training.seed)
            schema = schema.model_copy(update={"training": training})
        return schema

    def fit(self, X: Any, y: Any = None) -> ComposedClassifier:  # noqa: N803 - scikit-learn's name
        """Train every group. `X` holds the inputs; `y` (a DataFrame) the group columns, or None
        when `X` holds them too."""
        schema = self._schema()
        frame = as_frame(X)
        if y is not None:
            labels = y if isinstance(y, pd.DataFrame) else pd.DataFrame(y, columns=list(schema.groups)[:1])
            frame = pd.concat([frame.reset_index(drop=True), labels.reset_index(drop=True)], axis=1)
        root = Path(self.store) if self.store is not None else Path(tempfile.mkdtemp(prefix="compose-"))
        try:
            fit_and_release(schema, frame, root, n_jobs=self.n_jobs, note="ComposedClassifier.fit")
            self.model_: ComposedModel = load(root / schema.name)
        finally:
            if self.store is None:
                shutil.rmtree(root, ignore_errors=True)
        self.groups_ = self.model_.groups
        self.classes_ = [np.array(self.model_.heads_[g].labels, dtype=object) for g in self.groups_]
        return self

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "model_")
        frame = self.model_.predict_frame(X)
        return frame[self.groups_].to_numpy(dtype=object)

    def predict_proba(self, X: Any) -> list[np.ndarray]:  # noqa: N803
        check_is_fitted(self, "model_")
        scores = self.model_.predict_scores(X)
        return [scores[g] for g in self.groups_]

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:  # noqa: N803
        """Mean accuracy over every labelled (row, group) cell: a multilabel cell counts when its set is exact."""
        check_is_fitted(self, "model_")
        frame = as_frame(X)
        if y is not None:
            frame = pd.concat([frame.reset_index(drop=True), pd.DataFrame(y).reset_index(drop=True)], axis=1)
        targets = parse_targets(frame, self.model_.schema, self.groups_)
        predicted = self.predict(frame)
        right = total = 0
        for j, group in enumerate(self.groups_):
            t = targets.get(group)
            if t is None:
                continue
            labels = t.labels
            for r in np.flatnonzero(t.labelled):
                if t.y.ndim == 2:
                    truth = "|".join(label for k, label in enumerate(labels) if t.y[r, k])
                else:
                    truth = labels[t.y[r]]
                right += int((predicted[r, j] or "") == truth)
                total += 1
        if total == 0:
            raise DataError("score needs at least one labelled group cell in the data")
        return right / total
