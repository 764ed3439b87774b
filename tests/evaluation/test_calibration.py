"""Calibration: the metrics on known values, the schema key, and a head it really improves."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.calibration import CalibratedClassifierCV

import compose
from compose.data.io import read_table
from compose.errors import SchemaError
from compose.evaluation.calibration import brier_score, calibration_metrics, expected_calibration_error
from compose.featurize.base import hstack
from compose.heads.head import make_estimator
from compose.schema.load import parse_schema, schema_from_dict


def test_brier_score_of_each_group_type() -> None:
    assert brier_score("binary", np.array([1, 0]), np.array([[0.2, 0.8], [0.6, 0.4]])) == pytest.approx(0.1)
    # multiclass: sum over labels, (0.3^2 + 0.2^2 + 0.1^2) for the first row, 0 for the second
    scores = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]])
    assert brier_score("multiclass", np.array([0, 1]), scores) == pytest.approx(0.14 / 2)
    assert brier_score("multilabel", np.array([[1, 0]]), np.array([[0.5, 0.5]])) == pytest.approx(0.25)
    assert brier_score("binary", np.zeros(0), np.zeros((0, 2))) is None


def test_expected_calibration_error_on_known_bins() -> None:
    # ten rows at 0.9 of which 9 are positive, ten at 0.2 of which 5 are: |0.9-0.9|/2 + |0.2-0.5|/2
    p = np.array([0.9] * 10 + [0.2] * 10)
    y = np.array([1] * 9 + [0] + [1] * 5 + [0] * 5)
    scores = np.column_stack([1 - p, p])
    assert expected_calibration_error("binary", y, scores, n_bins=10) == pytest.approx(0.15)
    # multiclass compares the top label's confidence with how often it is right
    assert expected_calibration_error("multiclass", np.array([0, 1]), np.array([[0.8, 0.2], [0.6, 0.4]])) \
        == pytest.approx((0.2 + 0.6) / 2)


def test_calibration_metrics_skip_rows_a_conditional_head_did_not_run_on() -> None:
    scores = np.array([[0.1, 0.9], [np.nan, np.nan]])
    report = calibration_metrics("binary", np.array([1, 0]), scores)
    assert report["n"] == 1
    assert report["brier"] == pytest.approx(0.01)
    assert report["reliability"] == [{"low": 0.8667, "high": 0.9333, "n": 1, "mean_score": 0.9, "observed": 1.0}]


def test_calibration_is_a_validated_group_key(penguins_schema_path: Path) -> None:
    text = penguins_schema_path.read_text()
    plain = parse_schema(text)
    calibrated = parse_schema(text.replace("    type: binary\n", "    type: binary\n    calibration: isotonic\n"))
    assert calibrated.groups["sex"].calibration == "isotonic"
    assert plain.group_fingerprint("species") == calibrated.group_fingerprint("species")
    assert plain.group_fingerprint("sex") != calibrated.group_fingerprint("sex")
    line = 1 + text.splitlines().index("    type: binary")  # the key is inserted on the next line
    with pytest.raises(SchemaError, match=rf"groups\.sex\.calibration at <string>:{line + 1}: got 'platt'; allowed: "
                                          "'sigmoid' or 'isotonic'"):
        parse_schema(text.replace("    type: binary\n", "    type: binary\n    calibration: platt\n"))


def test_make_estimator_wraps_the_head_when_the_group_asks() -> None:
    y = np.array([0, 1] * 10)
    est = make_estimator("random_forest", {}, y, "isotonic")
    assert isinstance(est, CalibratedClassifierCV) and est.method == "isotonic" and est.cv == 5
    assert not isinstance(make_estimator("random_forest", {}, y), CalibratedClassifierCV)


def _holdout_ece(schema_data: dict[str, Any], df: pd.DataFrame, store: Path, group: str) -> float:
    schema = schema_from_dict(schema_data)
    compose.fit_and_release(schema, df, store)
    model = compose.load(store)
    assert model.store is not None
    held = model.store.load_extra("groups", group, model.version_of(group), "holdout")
    head = model.heads_[group]
    blocks = model.transform_features(held["inputs"], head.features)
    scores = head.scores(hstack([blocks[f] for f in head.features]))
    ece = expected_calibration_error(schema.groups[group].type, held["y"], scores)
    assert ece is not None
    return ece


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_lowers_the_ece_of_an_overconfident_head(
    tmp_path: Path, movies_csv: Path, movies_schema_path: Path, method: str
) -> None:
    """Complement naive Bayes on the movies sample's `language` (1,200 real films, 246 held out)
    gives scores far from the observed rates; CalibratedClassifierCV brings them close."""
    df = read_table(movies_csv)
    raw: dict[str, Any] = yaml.safe_load(movies_schema_path.read_text())
    data = copy.deepcopy(raw)
    data["groups"] = {"language": {**data["groups"]["language"], "model": {"estimator": "complement_nb"}}}
    data["features"] = {"people": data["features"]["people"]}
    plain = _holdout_ece(data, df, tmp_path / "plain", "language")
    data["groups"]["language"]["calibration"] = method
    calibrated = _holdout_ece(data, df, tmp_path / "calibrated", "language")
    assert plain > 0.3  # an uncalibrated head: far from "0.9 means 90%"
    assert calibrated < plain / 3
