"""ComposedClassifier follows scikit-learn's estimator contract: clone, fit, predict, cross-validate."""

from __future__ import annotations

import pickle
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
    assert est.get_params() == {"schema": penguins_schema_path, "store": None, "holdout": 0.0, "n_jobs": 1,
                                "registry": None}
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


def test_a_fitted_schema_estimator_pickles_with_identical_predictions(
    penguins_schema_path: Path, xy: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    x, y = xy
    est = ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1).fit(x, y)
    again = pickle.loads(pickle.dumps(est))
    assert (again.predict(x) == est.predict(x)).all()
    assert all(np.array_equal(a, b) for a, b in zip(again.predict_proba(x), est.predict_proba(x), strict=True))


def test_score_accepts_the_one_column_y_that_fit_accepts(penguins_schema_path: Path,
                                                         xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    est = ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1).fit(x, y["species"].to_numpy())
    assert est.groups_ == ["species"]
    assert est.score(x, y["species"].to_numpy()) == est.score(x, y[["species"]]) > 0.9


def test_score_weighs_rows_by_sample_weight(penguins_schema_path: Path, xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    est = ComposedClassifier(penguins_schema_path, holdout=0.0, n_jobs=1).fit(x, y["species"])
    wrong = est.predict(x)[:, 0] != y["species"].to_numpy()
    assert wrong.any()
    assert est.score(x, y["species"], sample_weight=wrong.astype(float)) == 0.0


def test_without_a_schema_it_infers_numbers_from_an_array(xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    est = ComposedClassifier(n_jobs=1).fit(x.to_numpy(), y["species"].to_numpy())
    assert list(est.schema_.inputs) == ["x0", "x1", "x2", "x3"]
    assert {i.type for i in est.schema_.inputs.values()} == {"number"}
    assert (est.schema_.groups["y"].type, est.classes_.tolist()) == ("multiclass", ["Adelie", "Chinstrap", "Gentoo"])
    assert est.n_features_in_ == 4 and not hasattr(est, "feature_names_in_")
    assert est.score(x.to_numpy(), y["species"].to_numpy()) > 0.95


def test_without_a_schema_a_frame_gives_numbers_categories_and_text(movies_csv: Path) -> None:
    films = pd.read_csv(movies_csv).dropna(subset=["language"]).head(400)
    x = films[["title", "cast", "runtime", "country"]].assign(country=films["country"].fillna("unknown"))
    est = ComposedClassifier(n_jobs=1).fit(x, films["language"])
    assert {n: i.type for n, i in est.schema_.inputs.items()} == {
        "title": "text", "cast": "text", "runtime": "number", "country": "category"}  # titles: 2.8 words on average
    assert list(est.feature_names_in_) == ["title", "cast", "runtime", "country"]
    assert set(est.predict(x)) <= set(est.classes_)


def test_without_a_schema_a_binary_y_is_a_binary_group_whose_positive_label_is_the_second_class(
    xy: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    x, y = xy
    est = ComposedClassifier(n_jobs=1).fit(x, (y["species"] == "Gentoo").to_numpy())
    assert (est.schema_.groups["y"].type, est.schema_.labels_of("y"), est.classes_.tolist()) == (
        "binary", ["False", "True"], [False, True])
    assert est.predict(x).dtype == bool


def test_without_a_schema_a_2d_indicator_is_a_multilabel_group(xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    indicator = pd.get_dummies(y["island"]).to_numpy(dtype=np.int64)
    est = ComposedClassifier(n_jobs=1).fit(x.to_numpy(), indicator)
    assert est.schema_.groups["y"].type == "multilabel" and est.classes_.tolist() == [0, 1, 2]
    pred = est.predict(x.to_numpy())
    assert pred.shape == indicator.shape and pred.dtype == indicator.dtype
    assert est.predict_proba(x.to_numpy()).shape == indicator.shape


def test_without_a_schema_an_infinite_number_is_refused_in_scikit_learns_words(
    xy: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    x, y = xy
    values = x.to_numpy().copy()
    values[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"Input X contains infinity or a value too large"):
        ComposedClassifier(n_jobs=1).fit(values, y["species"].to_numpy())


def test_without_a_schema_a_missing_number_is_imputed(xy: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    x, y = xy
    values = x.to_numpy().copy()
    values[::7, 2] = np.nan
    est = ComposedClassifier(n_jobs=1).fit(values, y["species"].to_numpy())
    assert est.predict(values[:5]).shape == (5,)
