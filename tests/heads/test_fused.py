"""Fused linear heads give the heads' own scores (to 1e-9) for every supported estimator and kind."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from compose.data.io import read_table
from compose.data.targets import parse_targets, prepare_inputs
from compose.featurize.base import build_featurizer, hstack
from compose.heads.fused import FusedHeads, fuse_heads
from compose.heads.head import ConstantProbability, Head, assemble_head, fit_estimator
from compose.schema.load import load_schema
from compose.schema.models import Schema

LINEAR = ["logistic_regression", "sgd", "ridge", "linear_svc"]
FEATURES = {"sparse": ["people"], "dense": ["length"], "mixed": ["people", "length"]}


@pytest.fixture(scope="module")
def movies(movies_csv: Any, movies_schema_path: Any) -> dict[str, Any]:
    schema = load_schema(movies_schema_path)
    df = read_table(movies_csv)
    inputs = prepare_inputs(df, schema)
    blocks = {f: build_featurizer(schema, f).fit(inputs).transform(inputs) for f in schema.features}
    return {"schema": schema, "blocks": blocks, "targets": parse_targets(df, schema),
            "widths": {f: b.shape[1] for f, b in blocks.items()}}


def _head(movies: dict[str, Any], estimator: str, kind: str, features: list[str], *,
          singleton: bool = False) -> tuple[Head, Any]:
    """A head fitted like compose.training.run fits one, on the movies sample."""
    schema: Schema = movies["schema"]
    x = hstack([movies["blocks"][f] for f in features])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence on a small sample
        if kind == "multilabel":
            t = movies["targets"]["genres"]
            rows = np.flatnonzero(t.labelled)
            ests = [fit_estimator(estimator, {}, x[rows], t.y[rows, j], "test", allow_constant=True)
                    for j in range(len(t.labels))]
            return assemble_head("g", kind, t.labels, features, ests), x
        t = movies["targets"]["language"]
        rows = np.flatnonzero(t.labelled)
        y = t.y[rows]
        labels = schema.labels_of("language")
        if kind == "binary":
            y, labels = (y == 0).astype(np.int64), ["not_english", "english"]
        if singleton:  # one class with a single row: no calibration, the decision function is squashed
            y = y.copy()
            y[0] = len(labels)
            labels = [*labels, "single"]
        est = fit_estimator(estimator, {}, x[rows], y, "test")
    return assemble_head("g", kind, labels, features, [est]), x


def _assert_parity(fused: FusedHeads, head: Head, blocks: dict[str, Any], x: Any) -> None:
    assert head.group in fused.groups
    got = fused.scores(head.group, fused.logits({f: blocks[f] for f in fused.weights}))
    np.testing.assert_allclose(got, head.scores(x), rtol=0, atol=1e-9)


@pytest.mark.parametrize("features", list(FEATURES))
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("estimator", LINEAR)
def test_fused_scores_equal_head_scores(movies: dict[str, Any], estimator: str, kind: str, features: str) -> None:
    head, x = _head(movies, estimator, kind, FEATURES[features])
    _assert_parity(fuse_heads({"g": head}, movies["widths"]), head, movies["blocks"], x)


@pytest.mark.parametrize("kind", ["multiclass", "binary"])
@pytest.mark.parametrize("estimator", ["ridge", "linear_svc"])
def test_uncalibrated_decision_function_heads_are_fused(movies: dict[str, Any], estimator: str, kind: str) -> None:
    head, x = _head(movies, estimator, kind, FEATURES["mixed"], singleton=True)
    assert type(head.estimators_[0]).__name__ in ("RidgeClassifier", "LinearSVC")
    _assert_parity(fuse_heads({"g": head}, movies["widths"]), head, movies["blocks"], x)


def test_calibrated_heads_are_fused(movies: dict[str, Any]) -> None:
    head, _ = _head(movies, "linear_svc", "multiclass", FEATURES["sparse"])
    assert type(head.estimators_[0]).__name__ == "CalibratedClassifierCV"
    assert "g" in fuse_heads({"g": head}, movies["widths"]).groups


def test_several_heads_share_one_product_per_feature(movies: dict[str, Any]) -> None:
    heads = {}
    xs = {}
    for i, (estimator, kind, features) in enumerate([("logistic_regression", "multiclass", "sparse"),
                                                     ("sgd", "multilabel", "mixed"),
                                                     ("ridge", "binary", "dense")]):
        head, xs[f"h{i}"] = _head(movies, estimator, kind, FEATURES[features])
        head.group = f"h{i}"
        heads[head.group] = head
    fused = fuse_heads(heads, movies["widths"])
    assert set(fused.weights) == {"people", "length"}
    assert fused.weights["people"].weights.shape[1] < fused.n_columns  # only the heads that read it
    for g, head in heads.items():
        _assert_parity(fused, head, movies["blocks"], xs[g])


def test_constant_labels_of_a_multilabel_head_are_fused(movies: dict[str, Any]) -> None:
    head, x = _head(movies, "logistic_regression", "multilabel", FEATURES["sparse"])
    head.estimators_[2] = ConstantProbability(0.0)
    head.classes_[2] = [0, 1]
    _assert_parity(fuse_heads({"g": head}, movies["widths"]), head, movies["blocks"], x)


def test_random_forest_is_not_fused(movies: dict[str, Any]) -> None:
    forest, _ = _head(movies, "random_forest", "multiclass", FEATURES["dense"])
    linear, _ = _head(movies, "logistic_regression", "multiclass", FEATURES["dense"])
    linear.group = "linear"
    fused = fuse_heads({"g": forest, "linear": linear}, movies["widths"])
    assert fused.groups == ("linear",)


def test_a_head_whose_width_does_not_match_is_not_fused(movies: dict[str, Any]) -> None:
    head, _ = _head(movies, "logistic_regression", "multiclass", FEATURES["dense"])
    assert fuse_heads({"g": head}, {"length": movies["widths"]["length"] + 1}).groups == ()


def test_no_heads_fuse_to_nothing() -> None:
    fused = fuse_heads({}, {})
    assert fused.groups == () and fused.n_columns == 0
    assert fused.logits({"x": pd.DataFrame({"a": [1.0]}).to_numpy()}).shape == (1, 0)
