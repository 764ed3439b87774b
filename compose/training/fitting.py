"""The pure steps of a fit: the estimator jobs of a group, its label counts, its holdout metrics,
and a featurizer fitted on the training rows (no store, no run state)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from compose.errors import TrainingError
from compose.featurize.base import featurizer_of, fit_transform_rows
from compose.heads.auto import SearchResult
from compose.heads.decide import raw_predictions
from compose.heads.head import Head
from compose.metrics import group_metrics
from compose.registry import Registry
from compose.schema.models import Schema
from compose.training.splits import GroupRows


def jobs_for(schema: Schema, rows: GroupRows, x: Any, registry: Registry,
              chosen: SearchResult | None = None) -> list[tuple[Any, ...]]:
    spec = schema.groups[rows.group]
    estimator, model_params = spec.model.estimator, dict(spec.model.params)
    if chosen is not None:  # `model: auto`: the search's winner
        estimator, model_params = chosen.estimator, dict(chosen.params)
    # An unfitted template built here from the registry: workers clone it and resolve no names.
    name = registry.build_estimator(estimator, model_params, trusted=schema.trusted_modules)
    params: dict[str, Any] = {}
    xt = x[rows.train]
    if spec.type == "multilabel":
        labels = schema.labels_of(rows.group)
        # a label is fitted on the rows where its truth is known (all of them, unless per-label cells)
        return [(name, params, xt if rows.known is None else x[rows.label_train(j)], rows.y[rows.label_train(j), j],
                 f"group {rows.group!r}, label {label!r}", True, spec.calibration) for j, label in enumerate(labels)]
    return [(name, params, xt, rows.y[rows.train], f"group {rows.group!r}", False, spec.calibration)]


def counts_of(schema: Schema, group: str, y: np.ndarray) -> dict[str, int]:
    labels = schema.labels_of(group)
    if schema.groups[group].type == "multilabel":
        return {label: int(y[:, j].sum()) for j, label in enumerate(labels)}
    return {label: int((y == i).sum()) for i, label in enumerate(labels)}


def evaluate_head(schema: Schema, head: Head, x: Any, rows: GroupRows) -> dict[str, Any]:
    if len(rows.holdout) == 0:
        return {"n": 0}
    spec = schema.groups[head.group]
    scores = head.scores(x[rows.holdout])
    pred = raw_predictions(spec, head.labels, scores)
    known = None if rows.known is None else rows.known[rows.holdout]
    return group_metrics(spec.type, rows.y[rows.holdout], pred, head.labels, known=known)


def fit_feature(schema: Schema, name: str, inputs: pd.DataFrame, rows: np.ndarray,
                 registry: Registry) -> tuple[Any, Any]:
    """A featurizer fitted on the training rows, and the features of every row of `inputs`.

    A failure names the feature, its inputs and the cause.
    """
    featurizer = featurizer_of(schema, name, registry)
    spec = schema.features[name]
    transformer = featurizer.build(spec, schema)
    try:
        block = fit_transform_rows(transformer, inputs, rows)
    except ValueError as exc:
        hint = f" {featurizer.fit_hint}" if featurizer.fit_hint else ""
        raise TrainingError(f"feature {name!r} ({spec.type} over {spec.inputs}) cannot be fitted on "
                            f"{len(rows)} training row{'s' * (len(rows) != 1)}: {exc}.{hint}") from exc
    return transformer, block
