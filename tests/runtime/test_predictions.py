"""`Predictions`: a sequence of merged results backed by per-group arrays, and its columnar exports."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import compose
from compose.schema.load import parse_schema

SCHEMA = """\
schema_version: 1
name: penguins-policies
inputs:
  bill_length_mm: {type: number}
  bill_depth_mm: {type: number}
  flipper_length_mm: {type: number}
  body_mass_g: {type: number}
features:
  body: {type: tabular, inputs: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g]}
groups:
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
    decision: {policy: top_k, k: 2}
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    decision: {policy: zones, accept: 0.7, review: 0.5}
  sex:
    type: binary
    labels: [female, male]
    when: {species: [Adelie, Gentoo]}
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> compose.ComposedModel:
    return compose.train(parse_schema(SCHEMA), penguins_frame, store=tmp_path_factory.mktemp("preds"), n_jobs=1)


@pytest.fixture(scope="module")
def preds(model: compose.ComposedModel, penguins_frame: pd.DataFrame) -> compose.Predictions:
    return model.predict(penguins_frame)


def test_predict_returns_a_sequence_of_merged_results(preds: compose.Predictions,
                                                       penguins_frame: pd.DataFrame) -> None:
    assert isinstance(preds, compose.Predictions)
    assert len(preds) == len(penguins_frame) == len(list(preds))
    first = preds[0]
    assert set(first) >= {"labels", "groups", "release"}
    assert preds[-1] == list(preds)[-1]
    assert preds == list(preds) and list(preds) == preds.to_list()


def test_a_slice_is_predictions_of_those_rows(preds: compose.Predictions) -> None:
    part = preds[10:20]
    assert isinstance(part, compose.Predictions)
    assert part == list(preds)[10:20]


def test_an_index_out_of_range_is_an_index_error(preds: compose.Predictions) -> None:
    with pytest.raises(IndexError, match="out of range"):
        preds[len(preds)]


def test_the_outcomes_of_every_policy_appear(preds: compose.Predictions) -> None:
    outcomes = {g: {r["groups"][g]["outcome"] for r in preds} for g in ("species", "island", "sex")}
    assert "skipped" in outcomes["sex"]  # Chinstrap rows are gated off
    assert {"review", "rejected"} & outcomes["island"]
    assert any(r.get("review") == ["island"] for r in preds)


def test_to_jsonl_writes_the_merged_results(preds: compose.Predictions) -> None:
    buf = io.BytesIO()
    preds.to_jsonl(buf)
    lines = buf.getvalue().decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == list(preds)
    assert lines[0] == json.dumps(preds[0], ensure_ascii=False, separators=(",", ":"))


def test_to_frame_has_categorical_labels_that_agree_with_the_results(preds: compose.Predictions) -> None:
    frame = preds.to_frame()
    assert isinstance(frame["species"].dtype, pd.CategoricalDtype)
    assert list(frame["species"].cat.categories) == ["Adelie", "Chinstrap", "Gentoo"]
    labels = [r["groups"]["sex"]["label"] for r in preds]
    assert frame["sex"].astype(object).where(frame["sex"].notna(), None).tolist() == labels
    assert frame["species_labels"].tolist() == ["|".join(r["groups"]["species"]["labels"]) for r in preds]
    assert frame["island_review"].tolist() == [bool(r["groups"]["island"].get("review")) for r in preds]
    assert frame["sex_outcome"].tolist() == [r["groups"]["sex"]["outcome"] for r in preds]


def test_to_arrow_and_to_parquet_hold_the_same_table(preds: compose.Predictions, tmp_path: Path) -> None:
    table = preds.to_arrow()
    assert pa.types.is_dictionary(table.schema.field("species").type)
    assert table.column("sex").null_count == sum(r["groups"]["sex"]["label"] is None for r in preds)
    path = preds.to_parquet(tmp_path / "p.parquet")
    back = pq.read_table(path)
    assert back.num_rows == len(preds)
    pd.testing.assert_frame_equal(back.to_pandas(), table.to_pandas())
    assert back.column("species").to_pylist() == [r["groups"]["species"]["label"] for r in preds]


def test_predict_one_is_the_row_of_a_batch(model: compose.ComposedModel, penguins_frame: pd.DataFrame) -> None:
    row = penguins_frame.iloc[5].to_dict()
    assert model.predict_one(row) == model.predict(penguins_frame.iloc[[5]])[0]


def test_an_empty_batch_has_no_rows(model: compose.ComposedModel, penguins_frame: pd.DataFrame) -> None:
    empty = model.predict(penguins_frame.head(0))
    assert len(empty) == 0 and list(empty) == [] and len(empty.to_frame()) == 0 and empty.to_arrow().num_rows == 0


def test_the_row_path_and_the_columnar_path_agree(model: compose.ComposedModel, preds: compose.Predictions,
                                                 penguins_frame: pd.DataFrame) -> None:
    from compose.runtime.predictions import ROW_PATH_ROWS

    assert len(preds) > ROW_PATH_ROWS  # columnar
    for start in range(0, len(penguins_frame), 40):
        few = model.predict(penguins_frame.iloc[start:start + 40].reset_index(drop=True))  # row by row
        assert few == list(preds)[start:start + 40]
