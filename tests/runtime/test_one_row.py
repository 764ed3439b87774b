"""`compose.runtime.one_row`: the compiled one-row path gives the very bytes of `predict_one`, for every
decision policy, gate, fused and unfused head it meets, and hands anything else to the general path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

import compose
from compose.data.io import read_table
from compose.featurize.rows import prepare_row
from compose.runtime.model import ComposedModel
from compose.runtime.one_row import RowPath, row_path, row_results
from compose.schema.load import parse_schema

ROOT = Path(__file__).resolve().parents[2]
MOVIES = ROOT / "tests" / "fixtures" / "movies_sample.csv"

# Every decision the row path writes out itself, and the ones it leaves to `decide`: zones, top_k,
# cumulative, a multilabel group with min/max labels; an unfused head (random forest) gated on a
# binary group, a group gated on that gated group and on a zoned one; an SGD head (one-vs-rest) and
# a calibrated binary one (fused programs the row path runs on a one-row array).
POLICIES = """
schema_version: 1
name: policies
inputs:
  title: {type: text}
  director: {type: text, required: false}
  cast: {type: text, required: false}
  runtime: {type: number, required: false}
features:
  people: {type: tfidf, inputs: [title, director, cast], params: {min_df: 2}}
  length: {type: tabular, inputs: [runtime]}
groups:
  language:
    type: multiclass
    labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic, other]
    features: [people]
    decision: {policy: zones, accept: 0.8, review: 0.5}
  english:
    type: binary
    labels: ["no", "yes"]
    features: [people, length]
    calibration: sigmoid
    decision: {threshold: 0.7}
  country:
    type: multiclass
    labels: [United States, France, United Kingdom, Canada, Germany, Australia, Japan, Italy, India, Belgium, other]
    features: [people]
    model: {estimator: sgd}
    decision: {policy: top_k, k: 2, min_confidence: 0.3}
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    features: [people, length]
    model: {estimator: random_forest, params: {n_estimators: 8}}
    decision: {min_confidence: 0.3}
    when: {english: ["yes"]}
  genres:
    type: multilabel
    labels: [Drama, Comedy, Romance, Action, Crime, Thriller, Horror, Documentary, Sci-Fi, Fantasy,
             Adventure, Musical, Biography, Mystery, War, Family, Animation, Western, Sport, History, Music]
    features: [people, length]
    decision: {threshold: 0.3, max_labels: 2, min_labels: 1}
  mpaa:
    type: multiclass
    labels: [G, PG, PG-13, R, NC-17]
    features: [people, length]
    decision: {policy: cumulative, p: 0.8, k: 3}
    when: {decade: [1990s, 2000s, 2010s], language: [English]}
"""

HIERARCHY = """
schema_version: 1
name: census
inputs: {age: {type: number}}
features: {person: {type: tabular, inputs: [age]}}
groups:
  marital:
    type: hierarchy
    labels:
      Married: [Civil, Absent]
      Not married: [Never, Divorced]
    features: [person]
"""


def _rows(frame: pd.DataFrame, model: ComposedModel) -> list[dict[str, Any]]:
    records = frame[list(model.schema.inputs)].to_dict("records")
    return [{str(k): None if pd.isna(v) else v for k, v in r.items()} for r in records]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = read_table(MOVIES)
    df["english"] = df["language"].map(lambda v: None if pd.isna(v) else ("yes" if v == "English" else "no"))
    return df


@pytest.fixture(scope="module")
def movies(tmp_path_factory: pytest.TempPathFactory) -> ComposedModel:
    schema = ROOT / "schemas" / "movies.yaml"
    model: ComposedModel = compose.train(schema, MOVIES, store=tmp_path_factory.mktemp("movies"), n_jobs=1)
    return model


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> ComposedModel:
    model: ComposedModel = compose.train(parse_schema(POLICIES), frame, store=tmp_path_factory.mktemp("p"), n_jobs=1)
    return model


def _same_bytes(model: ComposedModel, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        got = row_results(model, [row])
        assert got is not None, row
        assert orjson.dumps(got[0]) == orjson.dumps(model.predict_one(row)), row  # same values, same key order


def test_the_movies_model_gives_the_bytes_of_predict_one(movies: ComposedModel, frame: pd.DataFrame) -> None:
    rows = _rows(frame, movies)
    _same_bytes(movies, rows)
    results = [r["groups"] for r in movies.predict(rows[:64])]
    assert any(g["mpaa"]["outcome"] == "skipped" for g in results)  # the gate says no on some rows
    assert any(g["mpaa"]["outcome"] == "abstained" for g in results)
    assert any(g["genres"]["outcome"] == "below_threshold" for g in results)


def test_every_policy_gate_and_head_kind_gives_the_bytes_of_predict_one(policies: ComposedModel,
                                                                        frame: pd.DataFrame) -> None:
    path = row_path(policies)
    assert path is not None
    how = {g.name: (g.scorer.how, g.decision) for g in path.groups}
    assert how == {"language": ("softmax", "general"), "english": ("program", "binary"),
                   "country": ("program", "general"), "decade": ("head", "argmax"),
                   "genres": ("sigmoids", "general"), "mpaa": ("softmax", "general")}
    rows = _rows(frame, policies)
    _same_bytes(policies, rows)
    outcomes = {(g, r["groups"][g]["outcome"]) for r in policies.predict(rows) for g in r["groups"]}
    assert {("language", "review"), ("language", "rejected"), ("decade", "skipped"), ("decade", "abstained"),
            ("mpaa", "skipped")} <= outcomes
    reasons = {r["groups"]["mpaa"].get("skipped") for r in policies.predict(rows)}
    assert "decade is undecided" in reasons and "english is no" not in reasons


def test_a_few_rows_give_what_predict_gives(policies: ComposedModel, frame: pd.DataFrame) -> None:
    rows = _rows(frame.head(20), policies)
    assert orjson.dumps(row_results(policies, rows)) == orjson.dumps(policies.predict(rows).to_list())
    assert row_results(policies, []) == []


def test_the_fused_scores_of_the_row_path_are_the_same_floats(movies: ComposedModel, frame: pd.DataFrame) -> None:
    path = row_path(movies)
    assert path is not None and path.fused is not None
    for row in _rows(frame.head(50), movies):
        values = prepare_row(movies.schema, row)
        assert values is not None
        features = {f: featurize(values) for f, featurize in path.featurizers}
        z = path.fused.logits_row(features)
        assert path.batch is not None
        batch = path.batch.scores(z)
        for g in path.groups:
            expected = movies.fused_.scores(g.name, z[None, :])[0]
            assert np.array_equal(g.scorer.scores(z, features, movies.widths_), expected), g.name  # not merely close
            if g.at >= 0:  # scored with the other groups of the release's batch
                assert np.array_equal(batch[g.at:g.at + len(g.labels)], expected), g.name
    assert sorted(g.name for g in path.groups if g.at >= 0) == sorted(movies.groups)  # every movies group


@pytest.mark.parametrize("row", [
    {"director": "Agnès Varda"},  # the required title is missing
    {"title": "Cléo from 5 to 7", "runtime": "ninety"},  # a number the pandas path refuses
    {"title": "Cléo from 5 to 7", "runtime": True},
    {"title": "Cléo from 5 to 7", "runtime": float("inf")},
])
def test_a_row_that_needs_validation_is_left_to_the_general_path(movies: ComposedModel, row: dict[str, Any]) -> None:
    assert row_results(movies, [{"title": "Vagabond"}, row]) is None


def test_a_hierarchy_takes_the_general_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ages = rng.uniform(18, 90, 200)
    labels = np.where(ages > 40, np.where(ages > 65, "Absent", "Civil"), np.where(ages > 30, "Divorced", "Never"))
    model = compose.train(parse_schema(HIERARCHY), pd.DataFrame({"age": ages, "marital": labels}), store=tmp_path)
    assert row_path(model) is None and row_results(model, [{"age": 50.0}]) is None
    assert model.predict_one({"age": 50.0})["groups"]["marital"]["path"]


def test_the_path_is_compiled_once_per_model(movies: ComposedModel) -> None:
    assert row_path(movies) is row_path(movies)
    assert isinstance(RowPath.compile(movies), RowPath) and RowPath.compile(movies) is not row_path(movies)


def test_a_binary_group_and_numbers_only(linear_penguins_store: Path, penguins_frame: pd.DataFrame) -> None:
    model: ComposedModel = compose.load(linear_penguins_store)
    path = row_path(model)
    assert path is not None and ("sigmoid", "binary") in {(g.scorer.how, g.decision) for g in path.groups}
    _same_bytes(model, _rows(penguins_frame, model))
