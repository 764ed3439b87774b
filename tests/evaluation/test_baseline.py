"""The monolithic one-vs-rest baseline: its rows, its estimators and its invalid combinations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes
from compose.evaluation.baseline import MonolithicBaseline, invalid_combination_rate
from compose.evaluation.evaluator import evaluate

# One input that decides `side` and says nothing about `noise`: with three balanced `noise`
# labels, no one-vs-rest tag reaches 0.5, so the monolithic model leaves `noise` empty.
NOISE_SCHEMA = """
schema_version: 1
name: noise
inputs: {x: {type: number}}
features: {f: {type: tabular, inputs: [x]}}
groups:
  noise: {type: multiclass, labels: [a, b, c], features: [f]}
  side: {type: binary, labels: [left, right], features: [f]}
"""


@pytest.fixture(scope="module")
def noise_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    return pd.DataFrame({"x": x, "noise": rng.choice(["a", "b", "c"], size=600),
                         "side": np.where(x > 0, "right", "left")})


def test_invalid_combination_rate_counts_rows_with_zero_or_several_labels() -> None:
    indicator = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1]])
    assert invalid_combination_rate(indicator) == 0.5
    assert invalid_combination_rate(np.zeros((0, 3))) == 0.0


def test_monolithic_leaves_an_unlearnable_exclusive_group_empty_while_composed_never_does(
    tmp_path: Path, noise_frame: pd.DataFrame
) -> None:
    schema = compose.parse_schema(NOISE_SCHEMA)
    model = compose.train(schema, noise_frame, store=tmp_path)
    report = evaluate(model, noise_frame, baseline="monolithic")
    mono, comp = report["baseline"]["groups"], report["groups"]
    assert mono["noise"]["invalid_combination_rate"] > 0.9
    assert mono["noise"]["none_rate"] > 0.9
    assert comp["noise"]["invalid_combination_rate"] == 0.0
    assert mono["side"]["invalid_combination_rate"] < 0.1
    assert report["baseline"]["merged"]["invalid_combination_rate"] >= mono["noise"]["invalid_combination_rate"]
    assert report["merged"]["invalid_combination_rate"] == 0.0


def test_masked_baseline_fits_each_tag_only_on_rows_labelled_for_its_group(penguins_frame: pd.DataFrame) -> None:
    schema = compose.load_schema(Path(__file__).parents[2] / "schemas" / "penguins.yaml")
    inputs = prepare_inputs(penguins_frame, schema)
    targets = parse_targets(penguins_frame, schema)
    train = np.flatnonzero(~holdout_mask(row_hashes(inputs, schema.training.seed), schema.training.holdout))
    mono = MonolithicBaseline(schema, estimator="logistic_regression", n_jobs=1).fit(inputs, targets, train)
    assert mono.train_rows_per_group_["species"] == len(train)
    assert mono.train_rows_per_group_["sex"] == int(targets["sex"].labelled[train].sum()) < len(train)
    negative = MonolithicBaseline(schema, estimator="logistic_regression", missing="negative", n_jobs=1)
    negative.fit(inputs, targets, train)
    assert negative.train_rows_per_group_["sex"] == len(train)
    assert mono.describe()["missing_labels"] == "masked"


def test_baseline_uses_each_groups_estimator_and_one_object_per_tag(penguins_frame: pd.DataFrame) -> None:
    schema = compose.load_schema(Path(__file__).parents[2] / "schemas" / "penguins.yaml")
    inputs = prepare_inputs(penguins_frame, schema)
    targets = parse_targets(penguins_frame, schema)
    mono = MonolithicBaseline(schema, n_jobs=1).fit(inputs, targets, np.arange(len(inputs)))
    kinds = {g: type(e).__name__ for (g, _), e in zip(mono.columns_, mono.estimators_, strict=True)}
    assert kinds == {"species": "LogisticRegression", "island": "RandomForestClassifier", "sex": "LogisticRegression"}
    assert len({id(e) for e in mono.estimators_}) == len(mono.estimators_) == 3 + 3 + 2
    forced = MonolithicBaseline(schema, estimator="logistic_regression", params={"C": 0.5}, n_jobs=1)
    forced.fit(inputs, targets, np.arange(len(inputs)))
    assert {type(e).__name__ for e in forced.estimators_} == {"LogisticRegression"}
    assert forced.estimators_[0].C == 0.5


def test_baseline_probabilities_have_one_column_per_tag(penguins_frame: pd.DataFrame) -> None:
    schema = compose.load_schema(Path(__file__).parents[2] / "schemas" / "penguins.yaml")
    inputs = prepare_inputs(penguins_frame, schema)
    targets = parse_targets(penguins_frame, schema)
    mono = MonolithicBaseline(schema, estimator="logistic_regression", n_jobs=1)
    mono.fit(inputs, targets, np.arange(len(inputs)))
    proba = mono.predict_proba(inputs.head(5))
    assert proba.shape == (5, 8)
    assert ((proba >= 0) & (proba <= 1)).all()
    groups = mono.predict_groups(inputs.head(5))
    assert groups["island"].indicator.shape == (5, 3)
    assert not groups["island"].deliberate_empty.any()


def test_unknown_missing_policy_is_refused(penguins_frame: pd.DataFrame) -> None:
    schema = compose.load_schema(Path(__file__).parents[2] / "schemas" / "penguins.yaml")
    inputs = prepare_inputs(penguins_frame, schema)
    targets = parse_targets(penguins_frame, schema)
    mono = MonolithicBaseline(schema, missing="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing='drop'"):
        mono.fit(inputs, targets, np.arange(len(inputs)))
