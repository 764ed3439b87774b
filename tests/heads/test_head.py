"""Heads: every head is its own fitted object with its own parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.errors import TrainingError
from compose.heads.head import ConstantProbability, assemble_head, fit_estimator
from compose.schema.load import parse_schema

SCHEMA = BIRDS_HEADER + """\
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
    model: {estimator: logistic_regression, params: {C: 0.05}}
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    model: {estimator: logistic_regression, params: {C: 20.0}}
  traits:
    type: multilabel
    labels: [heavy, long_bill, emperor]
"""


def _traits(frame: pd.DataFrame) -> list[str]:
    out = []
    for mass, bill in zip(frame["body_mass_g"], frame["bill_length_mm"], strict=True):
        parts = [name for name, on in (("heavy", mass > 4500), ("long_bill", bill > 45)) if on]
        out.append("|".join(parts) if parts else "[]")
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> compose.ComposedModel:
    schema = parse_schema(SCHEMA)
    data = penguins_frame.assign(traits=_traits(penguins_frame))
    store = tmp_path_factory.mktemp("heads")
    return compose.train(schema, data, store=store)


def test_two_heads_of_one_schema_are_distinct_objects(model: compose.ComposedModel) -> None:
    assert model.heads_["species"].estimators_[0] is not model.heads_["island"].estimators_[0]


def test_two_heads_keep_their_own_parameters(model: compose.ComposedModel) -> None:
    assert (model.heads_["species"].estimators_[0].C, model.heads_["island"].estimators_[0].C) == (0.05, 20.0)


def test_two_heads_have_their_own_fitted_coefficients(model: compose.ComposedModel) -> None:
    a, b = (model.heads_[g].estimators_[0].coef_ for g in ("species", "island"))
    assert not np.array_equal(a, b)


def test_a_multilabel_head_has_one_estimator_per_label(model: compose.ComposedModel) -> None:
    assert len(model.heads_["traits"].estimators_) == 3


def test_each_estimator_of_a_multilabel_head_is_its_own_object(model: compose.ComposedModel) -> None:
    heavy, long_bill, _ = model.heads_["traits"].estimators_
    assert heavy is not long_bill and not np.array_equal(heavy.coef_, long_bill.coef_)


def test_a_label_with_only_negative_training_rows_becomes_a_constant(model: compose.ComposedModel) -> None:
    assert isinstance(model.heads_["traits"].estimators_[2], ConstantProbability)


def test_a_constant_label_scores_zero(model: compose.ComposedModel, penguins_frame: pd.DataFrame) -> None:
    scores = model.predict_scores(penguins_frame.head(5))["traits"]
    assert np.array_equal(scores[:, 2], np.zeros(5))


def test_saved_heads_are_distinct_files_with_distinct_digests(model: compose.ComposedModel) -> None:
    assert model.store is not None
    digests = {g: pin.sha256 for g, pin in model.release.groups.items()}
    assert len(set(digests.values())) == 3


def test_fit_estimator_refuses_a_single_label_head() -> None:
    x = np.ones((4, 2))
    with pytest.raises(TrainingError, match=r"group 'g': all 4 labelled training rows have the same label"):
        fit_estimator("logistic_regression", {}, x, np.zeros(4, dtype=int), "group 'g'")


def test_fit_estimator_gives_a_constant_for_an_all_positive_label() -> None:
    est = fit_estimator("logistic_regression", {}, np.ones((3, 2)), np.ones(3, dtype=int), "l", allow_constant=True)
    assert est.predict_proba(np.ones((2, 2)))[:, 1].tolist() == [1.0, 1.0]


def test_fit_estimator_clones_nothing_shared_between_calls() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.array([0, 1] * 20)
    a = fit_estimator("logistic_regression", {"C": 1.0}, x, y, "a")
    b = fit_estimator("logistic_regression", {"C": 1.0}, x, y, "b")
    assert a is not b


def test_an_estimator_without_predict_proba_is_calibrated() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    est = fit_estimator("linear_svc", {}, x, y, "svc")
    proba = est.predict_proba(x)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_a_multiclass_head_scores_labels_unseen_in_training_as_zero() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = np.array([0, 2] * 20)
    est = fit_estimator("logistic_regression", {}, x, y, "g")
    head = assemble_head("g", "multiclass", ["a", "b", "c"], ["f"], [est])
    scores = head.scores(x[:3])
    assert (scores[:, 1].tolist(), np.allclose(scores.sum(axis=1), 1.0)) == ([0.0, 0.0, 0.0], True)


@pytest.mark.parametrize("name", ["linear_svc", "random_forest", "hist_gradient_boosting", "logistic_regression"])
def test_each_short_estimator_name_fits_a_head(name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    params = {"random_forest": {"n_estimators": 10}, "hist_gradient_boosting": {"max_iter": 20}}.get(name, {})
    head = assemble_head("g", "binary", ["no", "yes"], ["f"], [fit_estimator(name, params, x, y, "g")])
    assert head.scores(x[:4]).shape == (4, 2)


def test_the_store_keeps_one_artifact_per_head(model: compose.ComposedModel) -> None:
    assert model.store is not None
    root = Path(model.store.path)
    assert sorted(p.name for p in (root / "groups").iterdir()) == ["island", "species", "traits"]
