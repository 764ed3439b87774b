"""The monolithic baseline: ONE one-vs-rest model over every label of every group.

It is what a user would build without compose: the labels of all groups flattened into one tag
vocabulary, one binary classifier per tag on one shared feature matrix, and a tag is on when its
probability is at least 0.5. Nothing ties the tags of a group together, so a multiclass or binary
group can come out with no label or with several: its invalid-combination rate measures that.

Fairness of the comparison:
- features: the schema's featurizers, built by `build_featurizer` and fitted on the same rows
  as training fits them (every row of the file outside the hash holdout); the baseline reads the
  union of the features of every group, in schema order;
- estimator: by default each tag's classifier is its group's estimator with its group's params
  (LogisticRegression unless the schema says otherwise), so the structure is the only
  difference; `estimator=` forces one estimator for every tag;
- missing labels (`missing="masked"`, the default): a tag is fitted only on the training rows
  labelled for its group (and, for a conditional group, inside its `when`), exactly the rows the
  composed head sees. Taking an unannotated cell as "not this tag" (`missing="negative"`) would
  teach the model that most films are "not R, not PG-13..." when nobody rated them, and would
  inflate the empty answers of partly labelled groups: a straw man, not a baseline.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from compose.data.targets import GroupTargets, outside_when
from compose.featurize.base import build_featurizer, hstack
from compose.heads.head import class_columns, fit_estimator, fit_workers, probabilities
from compose.metrics import GroupPrediction
from compose.schema.models import Schema

Missing = Literal["masked", "negative"]

MISSING_NOTES: dict[str, str] = {
    "masked": "masked one-vs-rest: each label's classifier is fitted only on the training rows labelled for its "
              "group (inside its `when`), the rows the composed head sees; unannotated cells are never negatives",
    "negative": "unannotated cells are taken as negatives: every label's classifier is fitted on every training row",
}


def _positive_proba(est: Any, x: Any) -> np.ndarray:
    """P(tag) of one fitted binary classifier."""
    return probabilities(est, x)[:, class_columns(est).index(1)]


class MonolithicBaseline:
    """One big one-vs-rest model over the flat tag vocabulary of a schema (see the module docstring).

    Fitted attributes: `features_` (the fitted featurizers), `columns_` (group, label) per tag,
    `estimators_` (one per tag), `fit_seconds_`, `n_train_rows_`.
    """

    def __init__(
        self, schema: Schema, *, estimator: str | None = None, params: dict[str, Any] | None = None,
        threshold: float = 0.5, missing: Missing = "masked", n_jobs: int | None = None,
    ) -> None:
        self.schema = schema
        self.estimator = estimator
        self.params = params
        self.threshold = threshold
        self.missing = missing
        self.n_jobs = n_jobs

    def _spec_of(self, group: str) -> tuple[str, dict[str, Any]]:
        if self.estimator is not None:
            return self.estimator, dict(self.params or {})
        model = self.schema.groups[group].model
        if model.estimator == "auto":  # the baseline does not search: compose's default estimator
            return "logistic_regression", {}
        return model.estimator, dict(model.params)

    def _fit_options(self, group: str) -> dict[str, Any]:
        """The group's probability calibration, when it sets one and the tag uses its estimator."""
        calibration = getattr(self.schema.groups[group], "calibration", None)
        options: dict[str, Any] = {}
        if self.schema.trusted_modules:  # a dotted estimator under the schema's trusted modules
            options["trusted"] = tuple(self.schema.trusted_modules)
        if calibration is not None and self.estimator is None:
            options["calibration"] = calibration
        return options

    def _rows_of(self, group: str, targets: dict[str, GroupTargets], rows: np.ndarray) -> np.ndarray:
        if self.missing == "negative":
            return rows
        labelled = targets[group].labelled
        mask = labelled & ~outside_when(self.schema.groups[group].when, targets, len(labelled))
        return np.asarray(rows[mask[rows]])

    def fit(self, inputs: pd.DataFrame, targets: dict[str, GroupTargets], rows: np.ndarray) -> MonolithicBaseline:
        """Fit the featurizers on `rows` of the prepared inputs, then one classifier per tag."""
        if self.missing not in MISSING_NOTES:
            raise ValueError(f"missing={self.missing!r}; use one of {sorted(MISSING_NOTES)}")
        t0 = time.perf_counter()
        self.groups_ = [g for g in self.schema.groups if g in targets]
        names = {f for g in self.groups_ for f in self.schema.features_of(g)}
        self.feature_names_ = [f for f in self.schema.features if f in names]
        self.features_ = {f: build_featurizer(self.schema, f).fit(inputs.iloc[rows]) for f in self.feature_names_}
        x = self._matrix(inputs)
        jobs: list[tuple[str, dict[str, Any], Any, np.ndarray, str, dict[str, Any]]] = []
        self.columns_: list[tuple[str, str]] = []
        self.train_rows_per_group_: dict[str, int] = {}
        for g in self.groups_:
            t = targets[g]
            sel = self._rows_of(g, targets, rows)
            self.train_rows_per_group_[g] = len(sel)
            name, params = self._spec_of(g)
            for j, label in enumerate(t.labels):
                rows_j = sel if t.known is None else sel[t.known[sel, j]]  # per-label truth: known rows only
                y = t.y[rows_j, j] if t.y.ndim == 2 else (t.y[rows_j] == j)
                jobs.append((name, params, x[rows_j], y.astype(np.int64), f"baseline tag {g}={label!r}",
                             self._fit_options(g)))
                self.columns_.append((g, label))
        workers = fit_workers(self.n_jobs, [j[2].shape[0] for j in jobs])
        self.estimators_: list[Any] = Parallel(n_jobs=workers, prefer="processes")(
            delayed(fit_estimator)(name, params, xs, y, what, allow_constant=True, **options)
            for name, params, xs, y, what, options in jobs)
        self.n_train_rows_ = len(rows)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _matrix(self, inputs: pd.DataFrame) -> Any:
        return hstack([self.features_[f].transform(inputs) for f in self.feature_names_])

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        """P(tag) for every tag, shape (n_rows, n_tags), in the order of `columns_`."""
        x = self._matrix(inputs)
        out = np.zeros((x.shape[0], len(self.estimators_)))
        for c, est in enumerate(self.estimators_):
            out[:, c] = _positive_proba(est, x)
        return out

    def predict_groups(self, inputs: pd.DataFrame) -> dict[str, GroupPrediction]:
        """Per group, its tags at the threshold: no row is ever an empty answer by decision."""
        proba = self.predict_proba(inputs)
        out: dict[str, GroupPrediction] = {}
        for g in self.groups_:
            cols = [c for c, (group, _) in enumerate(self.columns_) if group == g]
            scores = proba[:, cols]
            out[g] = GroupPrediction((scores >= self.threshold).astype(np.int8), scores,
                                     np.zeros(len(scores), dtype=bool))
        return out

    def describe(self) -> dict[str, Any]:
        """How the baseline was built, for the report."""
        estimators = {g: {"estimator": self._spec_of(g)[0], "params": self._spec_of(g)[1], **self._fit_options(g)}
                      for g in self.groups_}
        return {
            "kind": "monolithic",
            "tags": len(self.columns_),
            "features": list(self.feature_names_),
            "estimators": estimators,
            "threshold": self.threshold,
            "missing_labels": self.missing,
            "missing_labels_note": MISSING_NOTES[self.missing],
            "train_rows": self.n_train_rows_,
            "train_rows_per_group": dict(self.train_rows_per_group_),
            "fit_seconds": round(self.fit_seconds_, 3),
        }


def invalid_combination_rate(indicator: np.ndarray) -> float:
    """The share of rows with zero or more than one label on, in one exclusive group's 0/1 matrix."""
    if len(indicator) == 0:
        return 0.0
    return float((indicator.sum(axis=1) != 1).mean())
