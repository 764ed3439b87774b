"""Plain scikit-learn baselines built from the same featurizers and estimators as a compose schema.

- `shared`: every featurizer fitted once, one estimator per group (OneVsRestClassifier for a
  multilabel group), each group's features hstacked per call.
- `pipelines`: one Pipeline per group (its own featurizers, then its estimator).
- `monolithic`: one Pipeline with all featurizers and one OneVsRestClassifier over every label of
  every group (an unlabelled cell counts as a negative: that is what a monolithic model does).

They read the inputs prepared by `compose.data.targets.prepare_inputs` (prepared once, outside the timed
part, which favours the baselines) and fit on the same training rows as compose.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from compose.data.targets import GroupTargets
from compose.featurize.base import build_featurizer, hstack
from compose.registry import default_registry
from compose.schema.models import Schema


def _estimator(schema: Schema, group: str) -> Any:
    spec = schema.groups[group]
    est = default_registry().build_estimator(spec.model.estimator, dict(spec.model.params))
    return OneVsRestClassifier(est) if spec.type == "multilabel" else est


def _features(schema: Schema, names: list[str]) -> Any:
    if len(names) == 1:
        return build_featurizer(schema, names[0])
    return FeatureUnion([(f, build_featurizer(schema, f)) for f in names])


def _rows(t: GroupTargets, train: np.ndarray) -> np.ndarray:
    return np.intersect1d(np.flatnonzero(t.labelled), train)


class SharedBaseline:
    """Featurizers fitted once and shared; one scikit-learn estimator per group."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.features: dict[str, Any] = {}
        self.heads: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}  # the last fit's parts: features (fit, transform), heads

    def fit(self, inputs: pd.DataFrame, targets: dict[str, GroupTargets], train: np.ndarray) -> SharedBaseline:
        t0 = time.perf_counter()
        names = sorted({f for g in targets for f in self.schema.features_of(g)})
        self.features = {f: build_featurizer(self.schema, f).fit(inputs.iloc[train]) for f in names}
        blocks = {f: t.transform(inputs) for f, t in self.features.items()}
        t1 = time.perf_counter()
        for g, t in targets.items():
            rows = _rows(t, train)
            x = hstack([blocks[f] for f in self.schema.features_of(g)])
            self.heads[g] = _estimator(self.schema, g).fit(x[rows], t.y[rows])
        self.seconds = {"features": t1 - t0, "heads": time.perf_counter() - t1}
        return self

    def predict_proba(self, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
        blocks = {f: t.transform(inputs) for f, t in self.features.items()}
        return {g: est.predict_proba(hstack([blocks[f] for f in self.schema.features_of(g)]))
                for g, est in self.heads.items()}


class PipelinesBaseline:
    """One scikit-learn Pipeline per group: its own featurizers, then its estimator."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.pipelines: dict[str, Pipeline] = {}

    def fit(self, inputs: pd.DataFrame, targets: dict[str, GroupTargets], train: np.ndarray) -> PipelinesBaseline:
        for g, t in targets.items():
            rows = _rows(t, train)
            pipe = Pipeline([("features", _features(self.schema, self.schema.features_of(g))),
                             ("clf", _estimator(self.schema, g))])
            self.pipelines[g] = pipe.fit(inputs.iloc[rows], t.y[rows])
        return self

    def predict_proba(self, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
        return {g: p.predict_proba(inputs) for g, p in self.pipelines.items()}


class MonolithicBaseline:
    """One Pipeline: every featurizer, then one-vs-rest logistic regression over every label of every group."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.pipeline: Pipeline | None = None

    def fit(self, inputs: pd.DataFrame, targets: dict[str, GroupTargets], train: np.ndarray) -> MonolithicBaseline:
        columns = []
        for t in targets.values():
            if t.y.ndim == 2:
                columns.append(t.y.astype(np.int8))
            else:
                columns.append((t.y[:, None] == np.arange(len(t.labels))[None, :]).astype(np.int8))
        y = np.hstack(columns)[train]
        keep = y.min(axis=0) != y.max(axis=0)  # a label with one value cannot be fitted
        names = sorted({f for g in targets for f in self.schema.features_of(g)})
        est = clone(default_registry().build_estimator("logistic_regression", {}))
        self.pipeline = Pipeline([("features", _features(self.schema, names)), ("clf", OneVsRestClassifier(est))])
        self.pipeline.fit(inputs.iloc[train], y[:, keep])
        return self

    def predict_proba(self, inputs: pd.DataFrame) -> dict[str, np.ndarray]:
        assert self.pipeline is not None
        return {"all": self.pipeline.predict_proba(inputs)}
