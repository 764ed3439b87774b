"""The runtime: merged results per row, each feature computed once per batch, frames, single rows."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import compose
from compose.schema.load import parse_schema

MOVIES = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  director: {type: text, required: false}
  writer: {type: text, required: false}
  cast: {type: text, required: false}
  runtime: {type: number, required: false}
features:
  people: {type: tfidf, inputs: [title, director, writer, cast], params: {min_df: 2, max_features: 2000}}
  length: {type: tabular, inputs: [runtime]}
groups:
  language:
    type: multiclass
    labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic, other]
    features: [people]
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    features: [people, length]
  genres:
    type: multilabel
    labels: [Drama, Comedy, Romance, Action, Crime, Thriller, Horror, Documentary, Sci-Fi, Fantasy,
             Adventure, Musical, Biography, Mystery, War, Family, Animation, Western, Sport, History, Music]
    features: [people, length]
    decision: {threshold: 0.3}
  mpaa:
    type: multiclass
    labels: [G, PG, PG-13, R, NC-17]
    features: [people, length]
    decision: {min_confidence: 0.9}
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, movies_csv: Path) -> compose.ComposedModel:
    return compose.train(parse_schema(MOVIES), movies_csv, store=tmp_path_factory.mktemp("runtime"), n_jobs=1)


@pytest.fixture(scope="module")
def batch(movies_csv: Path) -> pd.DataFrame:
    return pd.read_csv(movies_csv).head(40)


def test_predict_returns_one_result_per_row(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    assert len(model.predict(batch)) == 40


def test_a_merged_result_has_labels_groups_and_release(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    result = model.predict(batch)[0]
    assert (sorted(result), sorted(result["groups"]), result["release"]) == (
        ["groups", "labels", "release"], ["decade", "genres", "language", "mpaa"], "r0001")


def test_a_multiclass_group_result_has_label_confidence_scores_and_version(model: compose.ComposedModel,
                                                                           batch: pd.DataFrame) -> None:
    language = model.predict(batch)[0]["groups"]["language"]
    assert (language["label"] in language["scores"], language["confidence"] == max(language["scores"].values()),
            len(language["scores"]), language["version"]) == (True, True, 9, 1)


def test_a_multilabel_group_result_lists_the_labels_above_threshold(model: compose.ComposedModel,
                                                                    batch: pd.DataFrame) -> None:
    for result in model.predict(batch):
        genres = result["groups"]["genres"]
        assert genres["labels"] == [g for g, s in genres["scores"].items() if s >= 0.3]


def test_the_flat_labels_are_the_group_labels_in_order(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    for result in model.predict(batch):
        g = result["groups"]
        expected = [g["language"]["label"], g["decade"]["label"], *g["genres"]["labels"], g["mpaa"]["label"]]
        assert result["labels"] == [label for label in expected if label is not None]


def test_a_group_below_min_confidence_abstains_with_a_reason(model: compose.ComposedModel,
                                                             batch: pd.DataFrame) -> None:
    mpaa = [r["groups"]["mpaa"] for r in model.predict(batch)]
    abstained = [m for m in mpaa if m["label"] is None]
    assert abstained, "min_confidence 0.9 should make some rows abstain"
    assert "abstained" in abstained[0] or "reason" in abstained[0]


def test_each_feature_is_computed_once_per_batch_whatever_the_number_of_heads(
    model: compose.ComposedModel, batch: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, int] = {}
    for name, transformer in model.features_.items():
        original = transformer.transform

        def counted(x: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] = calls.get(_name, 0) + 1
            return _original(x)

        monkeypatch.setattr(transformer, "transform", counted)
    model.predict(batch)
    assert calls == {"people": 1, "length": 1}


def test_predict_frame_has_a_column_per_group_and_its_confidence(model: compose.ComposedModel,
                                                                 batch: pd.DataFrame) -> None:
    frame = model.predict_frame(batch)
    assert {"language", "language_confidence", "decade", "decade_confidence", "genres", "mpaa",
            "mpaa_confidence", "release"} <= set(frame.columns)


def test_predict_frame_agrees_with_predict(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    frame = model.predict_frame(batch)
    results = model.predict(batch)
    assert frame["language"].tolist() == [r["groups"]["language"]["label"] for r in results]
    assert frame["genres"].tolist() == ["|".join(r["groups"]["genres"]["labels"]) for r in results]


def test_predict_frame_has_one_row_per_input_row(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    assert len(model.predict_frame(batch)) == 40


def test_predict_one_takes_a_mapping(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    row = batch.iloc[3].to_dict()
    assert model.predict_one(row) == model.predict(batch.iloc[[3]])[0]


def test_predict_one_needs_only_the_required_inputs(model: compose.ComposedModel) -> None:
    result = model.predict_one({"title": "Le Samouraï"})
    assert result["groups"]["language"]["label"] is not None


def test_a_row_gets_the_same_result_alone_and_in_a_batch(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    alone = model.predict_scores(batch.iloc[[7]])
    together = model.predict_scores(batch)
    assert all(np.allclose(alone[g][0], together[g][7], rtol=0, atol=1e-12) for g in alone)


def test_predict_scores_gives_one_row_per_input_and_one_column_per_label(model: compose.ComposedModel,
                                                                          batch: pd.DataFrame) -> None:
    shapes = {g: s.shape for g, s in model.predict_scores(batch).items()}
    assert shapes == {"language": (40, 9), "decade": (40, 8), "genres": (40, 21), "mpaa": (40, 5)}


def test_predict_reads_a_file_path(model: compose.ComposedModel, movies_csv: Path) -> None:
    assert len(model.predict(movies_csv)) == 1200


def test_predict_reads_a_list_of_rows(model: compose.ComposedModel) -> None:
    assert len(model.predict([{"title": "Alien"}, {"title": "Amélie"}])) == 2


def test_a_batch_missing_a_required_input_is_a_data_error(model: compose.ComposedModel) -> None:
    with pytest.raises(compose.DataError, match=r"missing input column \['title'\]"):
        model.predict([{"name": "Alien"}])


def test_an_empty_batch_gives_no_results(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    assert model.predict(batch.head(0)) == []


def test_the_model_lists_its_groups_in_plan_order(model: compose.ComposedModel) -> None:
    assert model.groups == ["language", "decade", "genres", "mpaa"]


def test_load_gives_the_same_scores_as_the_trained_model(model: compose.ComposedModel, batch: pd.DataFrame) -> None:
    assert model.store is not None
    loaded = compose.load(model.store.path)
    a, b = model.predict_scores(batch), loaded.predict_scores(batch)
    assert all(np.array_equal(a[g], b[g]) for g in a)


def test_a_loaded_model_pickles_and_predicts_the_same_in_a_fresh_process(
    model: compose.ComposedModel, batch: pd.DataFrame, tmp_path: Path
) -> None:
    assert model.store is not None
    loaded = compose.load(model.store.path)
    rows = batch.head(5)[["title", "director", "writer", "cast", "runtime"]].to_dict("records")
    again = pickle.loads(pickle.dumps(loaded))
    assert again.predict(batch) == loaded.predict(batch)
    assert again.predict(rows) == loaded.predict(rows)  # the row path (TF-IDF and numbers) survives too
    assert {kind for _, kind in again.row_featurizers_.values()} == {"tfidf", "numbers"}
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(loaded))
    pd.to_pickle(batch, tmp_path / "batch.pkl")
    code = ("import pickle, sys, json, pandas as pd; m = pickle.load(open(sys.argv[1], 'rb')); "
            "print(json.dumps(m.predict(pd.read_pickle(sys.argv[2])).to_list(), sort_keys=True))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model.pkl"), str(tmp_path / "batch.pkl")],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert json.loads(out) == json.loads(json.dumps(loaded.predict(batch).to_list()))


def test_a_penguins_model_pickles_with_its_fused_heads(tmp_path: Path, penguins_frame: pd.DataFrame,
                                                       penguins_schema_path: Path) -> None:
    compose.train(penguins_schema_path, penguins_frame, store=tmp_path, n_jobs=1)
    loaded = compose.load(tmp_path / "penguins")
    again = pickle.loads(pickle.dumps(loaded))
    assert again.fused_groups == loaded.fused_groups != ()
    assert np.array_equal(again.predict_scores(penguins_frame)["species"],
                          loaded.predict_scores(penguins_frame)["species"])
    row = penguins_frame.iloc[0].to_dict()
    assert again.predict_one(row) == loaded.predict_one(row)
