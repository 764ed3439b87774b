"""The row path and the fused batch path give exactly what the pandas path and the heads give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import compose
from compose.data.io import read_table
from compose.data.targets import prepare_inputs
from compose.errors import DataError
from compose.featurize.rows import prepare_row, stack_rows
from compose.runtime.model import ComposedModel
from compose.schema.load import parse_schema


def _mappings(df: pd.DataFrame, model: ComposedModel) -> list[dict[str, Any]]:
    rows = []
    for rec in df.to_dict("records"):
        row = {}
        for name, spec in model.schema.inputs.items():
            v = rec.get(name)
            v = None if v is None or (isinstance(v, float) and np.isnan(v)) else v
            row[name] = float(v) if v is not None and spec.type == "number" else v
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def movies_model(tmp_path_factory: pytest.TempPathFactory, movies_csv: Path,
                 movies_schema_path: Path) -> ComposedModel:
    model: ComposedModel = compose.train(movies_schema_path, movies_csv, store=tmp_path_factory.mktemp("m"))
    return model


@pytest.fixture(scope="module")
def movies_frame(movies_csv: Path) -> pd.DataFrame:
    return read_table(movies_csv)


def test_linear_heads_are_fused(movies_model: ComposedModel) -> None:
    assert set(movies_model.fused_groups) == set(movies_model.groups)
    assert set(movies_model.fused_.weights) == {"people", "length"}
    assert {kind for _, kind in movies_model.row_featurizers_.values()} == {"tfidf", "numbers"}


def test_row_features_equal_batch_features(movies_model: ComposedModel, movies_frame: pd.DataFrame) -> None:
    inputs = prepare_inputs(movies_frame, movies_model.schema)
    batch = movies_model.transform_features(inputs)
    prepared = [prepare_row(movies_model.schema, row) for row in _mappings(movies_frame, movies_model)]
    assert all(p is not None for p in prepared)
    for f, (featurize, _) in movies_model.row_featurizers_.items():
        rows = [featurize(p) for p in prepared if p is not None]
        stacked = stack_rows(rows, movies_model.widths_[f], isinstance(rows[0], tuple))
        expected = batch[f].toarray() if hasattr(batch[f], "toarray") else batch[f]
        got = stacked.toarray() if hasattr(stacked, "toarray") else stacked
        assert np.array_equal(got, expected), f  # identical, not merely close


def test_predict_one_equals_the_pandas_path(movies_model: ComposedModel, movies_frame: pd.DataFrame) -> None:
    rows = _mappings(movies_frame, movies_model)
    batch = movies_model.predict(movies_frame)  # a DataFrame takes the pandas path
    assert [movies_model.predict_one(row) for row in rows] == batch


def test_predict_one_equals_predict_of_a_list(movies_model: ComposedModel, movies_frame: pd.DataFrame) -> None:
    rows = _mappings(movies_frame.head(40), movies_model)
    assert [movies_model.predict_one(r) for r in rows] == movies_model.predict(rows)
    assert movies_model.predict_one(rows[3]) == movies_model.predict([rows[3]])[0]


def test_fused_scores_equal_the_heads_scores(movies_model: ComposedModel, movies_frame: pd.DataFrame) -> None:
    plain = ComposedModel(movies_model.schema, movies_model.features_, movies_model.heads_,
                          movies_model.release, fuse=False)
    assert plain.fused_groups == ()
    fused, reference = movies_model.predict_scores(movies_frame), plain.predict_scores(movies_frame)
    for group, scores in reference.items():
        np.testing.assert_allclose(fused[group], scores, rtol=0, atol=1e-9)


def test_the_row_path_validates_like_the_batch_path(movies_model: ComposedModel) -> None:
    with pytest.raises(DataError, match="missing input column"):
        movies_model.predict_one({"director": "Agnès Varda"})
    with pytest.raises(DataError, match="not a finite number"):
        movies_model.predict_one({"title": "Cléo from 5 to 7", "runtime": "ninety"})


def test_a_plain_decimal_written_as_text_stays_on_the_row_path(movies_model: ComposedModel) -> None:
    row = {"title": "Cléo from 5 to 7", "director": "Agnès Varda", "runtime": " 90.0 ", "cast": "   "}
    assert prepare_row(movies_model.schema, row) is not None
    assert movies_model.predict_one(row) == movies_model.predict(pd.DataFrame([row]))[0]
    assert movies_model.predict_one({**row, "runtime": 90}) == movies_model.predict_one(row)


@pytest.mark.parametrize("odd", ["1_000", "0x5A", "inf", float("inf"), True])
def test_odd_values_take_the_pandas_path_which_decides(movies_model: ComposedModel, odd: object) -> None:
    row = {"title": "Cléo from 5 to 7", "runtime": odd}
    assert prepare_row(movies_model.schema, row) is None


def test_a_forest_head_is_not_fused(tmp_path: Path, penguins_csv: Path, penguins_schema_path: Path,
                                    penguins_frame: pd.DataFrame) -> None:
    model: ComposedModel = compose.train(penguins_schema_path, penguins_csv, store=tmp_path)
    assert "island" not in model.fused_groups
    assert {"species", "sex"} <= set(model.fused_groups)
    rows = _mappings(penguins_frame.head(30), model)
    assert [model.predict_one(r) for r in rows] == model.predict(penguins_frame.head(30))


CONDITIONAL = """
schema_version: 1
name: conditional
inputs:
  title: {type: text}
  director: {type: text, required: false}
  runtime: {type: number, required: false}
  country: {type: category, required: false}
features:
  people: {type: tfidf, inputs: [title, director], params: {min_df: 2}}
  meta: {type: tabular, inputs: [runtime, country]}
groups:
  language:
    type: multiclass
    labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic, other]
    features: [people, meta]
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    features: [people]
    model: {estimator: random_forest, params: {n_estimators: 20}}
    when: {language: [English]}
"""


def test_conditional_heads_and_a_frame_featurizer(tmp_path: Path, movies_frame: pd.DataFrame) -> None:
    model: ComposedModel = compose.train(parse_schema(CONDITIONAL), movies_frame, store=tmp_path)
    assert model.row_featurizers_["meta"][1] == "frame"  # a category input: the featurizer's own transform
    assert model.fused_groups == ("language",)
    frame = movies_frame.head(60)
    rows = _mappings(frame, model)
    expected = model.predict(frame)
    assert any(r["groups"]["decade"].get("skipped") for r in expected)
    assert [model.predict_one(r) for r in rows] == expected
    assert model.predict(rows) == expected
