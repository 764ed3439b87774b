"""ComposedClassifier follows scikit-learn's estimator contract: clone, fit, predict, cross-validate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, cross_val_score

from compose.estimator import ComposedClassifier

INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
GROUPS = ["species", "island", "sex"]


@pytest.fixture(scope="module")
def xy(penguins_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = penguins_frame.dropna(subset=INPUTS).reset_index(drop=True)
    return df[INPUTS], df[GROUPS]


def test_init_only_stores_parameters_and_get_params_round_trips(penguins_schema_path: Path) -> None:
    est = ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1)
    assert est.get_params() == {"schema": penguins_schema_path, "store": None, "holdout": 0.0, "n_jobs": 1}
    assert clone(est).get_params() == est.get_params()


def test_predict_before_fit_raises_not_fitted(
    penguins_schema_path: Path, xy: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    with pytest.raises(NotFittedError):
        ComposedClassifier(penguins_schema_path).predict(xy[0])


def test_fit_returns_self_and_predicts_one_label_per_group(
    penguins_schema_path: Path, xy: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    x, y = xy
    est = ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1)
    assert est.fit(x, y) is est
    pred = est.predict(x)
    assert pred.shape == (len(x), 3) and est.groups_ == GROUPS
    assert set(pred[:, 0]) <= {"Adelie", "Chinstrap", "Gentoo"}
    proba = est.predict_proba(x)
    assert [p.shape for p in proba] == [(len(x), 3), (len(x), 3), (len(x), 2)]
    assert np.allclose(proba[0].sum(axis=1), 1.0)
    assert est.score(x, y) > 0.8


def test_cross_validation_runs_on_clones(penguins_schema_path: Path, xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    scores = cross_val_score(ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1), x, y,
                             cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and (scores > 0.7).all()
