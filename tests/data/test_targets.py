"""Data: file formats, empty cells, multilabel cells, undeclared labels, row hashes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from compose.data.io import read_table
from compose.data.targets import fingerprint, holdout_mask, parse_targets, prepare_inputs, row_hashes
from compose.errors import DataError
from compose.schema.load import parse_schema
from compose.schema.models import Schema

SCHEMA = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  runtime: {type: number, required: false}
  studio: {type: category, required: false}
features:
  words: {type: tfidf, inputs: [title]}
groups:
  language: {type: multiclass, labels: [English, French, 'no']}
  genres: {type: multilabel, labels: [Drama, Comedy, Sci-Fi]}
  sequel: {type: binary}
"""

CSV = """\
title,runtime,language,genres,sequel
Alien,117,English,Sci-Fi,false
Amelie,122,French,"[""Comedy"", ""Drama""]",0
Heat,,,Drama|Comedy,
Nothing,90,no,[],true
Blank,95,English,,1
"""


@pytest.fixture(scope="module")
def schema() -> Schema:
    return parse_schema(SCHEMA)


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    path = tmp_path / "films.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


@pytest.fixture
def frame(csv_path: Path) -> pd.DataFrame:
    return read_table(csv_path)


def test_csv_is_read_with_only_empty_cells_missing(frame: pd.DataFrame) -> None:
    assert (frame.shape, frame.loc[3, "language"], pd.isna(frame.loc[2, "language"])) == ((5, 5), "no", True)


def test_csv_gz_is_read(tmp_path: Path) -> None:
    path = tmp_path / "films.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(CSV)
    assert read_table(path)["title"].tolist() == ["Alien", "Amelie", "Heat", "Nothing", "Blank"]


def test_jsonl_is_read(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "films.jsonl"
    frame.to_json(path, orient="records", lines=True)
    assert read_table(path)["title"].tolist() == frame["title"].tolist()


def test_parquet_is_read(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "films.parquet"
    frame.to_parquet(path, index=False)
    assert read_table(path)["language"].tolist()[:2] == ["English", "French"]


def test_the_same_targets_come_from_csv_jsonl_and_parquet(tmp_path: Path, frame: pd.DataFrame,
                                                          schema: Schema) -> None:
    frame.to_json(tmp_path / "f.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    results = [parse_targets(read_table(tmp_path / name), schema) if name != "frame" else parse_targets(frame, schema)
               for name in ("frame", "f.jsonl", "f.parquet")]
    for other in results[1:]:
        for g in ("language", "genres", "sequel"):
            assert np.array_equal(other[g].y, results[0][g].y) and np.array_equal(other[g].labelled,
                                                                                  results[0][g].labelled)


def test_an_unknown_file_type_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'"):
        read_table(tmp_path / "films.xlsx")


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file .*nowhere\.csv' does not exist"):
        read_table(tmp_path / "nowhere.csv")


def test_an_empty_cell_means_not_labelled(frame: pd.DataFrame, schema: Schema) -> None:
    t = parse_targets(frame, schema)["language"]
    assert (t.labelled.tolist(), t.y[2]) == ([True, True, False, True, True], -1)


def test_an_empty_multilabel_cell_means_not_labelled(frame: pd.DataFrame, schema: Schema) -> None:
    assert parse_targets(frame, schema)["genres"].labelled.tolist() == [True, True, True, True, False]


def test_an_empty_list_in_a_multilabel_cell_means_none_of_the_labels(frame: pd.DataFrame, schema: Schema) -> None:
    t = parse_targets(frame, schema)["genres"]
    assert (bool(t.labelled[3]), t.y[3].tolist()) == (True, [0, 0, 0])


def test_a_json_list_cell_is_read(frame: pd.DataFrame, schema: Schema) -> None:
    assert parse_targets(frame, schema)["genres"].y[1].tolist() == [1, 1, 0]


def test_a_pipe_separated_cell_is_read(frame: pd.DataFrame, schema: Schema) -> None:
    assert parse_targets(frame, schema)["genres"].y[2].tolist() == [1, 1, 0]


def test_a_label_named_no_is_read_as_the_string(frame: pd.DataFrame, schema: Schema) -> None:
    assert parse_targets(frame, schema)["language"].y[3] == 2


def test_binary_default_labels_accept_true_false_one_zero(frame: pd.DataFrame, schema: Schema) -> None:
    t = parse_targets(frame, schema)["sequel"]
    assert (t.labels, t.y.tolist()) == (["not_sequel", "sequel"], [0, 0, -1, 1, 1])


def test_binary_default_labels_accept_the_label_names(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a", "b"], "sequel": ["sequel", "not_sequel"]})
    assert parse_targets(df, schema)["sequel"].y.tolist() == [1, 0]


def test_binary_default_labels_accept_python_booleans_from_jsonl(tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"title": "a", "sequel": true}\n{"title": "b", "sequel": false}\n', encoding="utf-8")
    assert parse_targets(read_table(path), schema)["sequel"].y.tolist() == [1, 0]


def test_an_undeclared_label_names_row_column_and_value(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a", "b", "c"], "language": ["English", "Frech", "French"]})
    with pytest.raises(DataError, match=r"column 'language': 1 cell with a label the schema does not declare: "
                                        r"row 2: 'Frech' \(did you mean 'French'\?\)"):
        parse_targets(df, schema)


def test_an_undeclared_label_in_a_multilabel_cell_names_row_column_and_value(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a", "b"], "genres": ["Drama", "Drama|Western"]})
    with pytest.raises(DataError, match=r"column 'genres': 1 cell with a label the schema does not declare: "
                                        r"row 2: 'Western'"):
        parse_targets(df, schema)


def test_an_undeclared_label_error_names_the_file(csv_path: Path, schema: Schema) -> None:
    csv_path.write_text(CSV.replace("Alien,117,English", "Alien,117,Klingon"), encoding="utf-8")
    df = read_table(csv_path)
    with pytest.raises(DataError, match=rf"^{csv_path}, column 'language': .*row 1: 'Klingon'"):
        parse_targets(df, schema)


def test_a_broken_json_list_in_a_multilabel_cell_is_a_data_error(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a"], "genres": ['["Drama"']})
    with pytest.raises(DataError, match=r"column 'genres': .*row 1: .*looks like a JSON list but is not valid JSON"):
        parse_targets(df, schema)


def test_many_bad_cells_are_counted_and_a_few_shown(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a"] * 8, "language": [f"x{i}" for i in range(8)]})
    with pytest.raises(DataError, match=r"8 cells with a label .*row 5: 'x4' \(and 3 more\)"):
        parse_targets(df, schema)


def test_a_group_column_absent_from_the_file_gives_no_targets(frame: pd.DataFrame, schema: Schema) -> None:
    assert sorted(parse_targets(frame.drop(columns=["genres"]), schema)) == ["language", "sequel"]


def test_a_missing_input_column_is_a_data_error_naming_it(schema: Schema) -> None:
    df = pd.DataFrame({"titel": ["a"], "language": ["English"]})
    with pytest.raises(DataError, match=r"missing input column \['title'\]; the file has \['titel', 'language'\]\. "
                                        r"Is 'titel' meant to be 'title'\?"):
        prepare_inputs(df, schema)


def test_a_missing_optional_input_column_is_filled_empty(frame: pd.DataFrame, schema: Schema) -> None:
    inputs = prepare_inputs(frame, schema)
    assert pd.isna(inputs["studio"]).all()


def test_number_inputs_are_floats_and_empty_cells_nan(frame: pd.DataFrame, schema: Schema) -> None:
    runtime = prepare_inputs(frame, schema)["runtime"]
    assert (runtime.dtype, runtime[0], bool(np.isnan(runtime[2]))) == (np.float64, 117.0, True)


def test_a_non_number_in_a_number_column_names_row_and_value(schema: Schema) -> None:
    df = pd.DataFrame({"title": ["a", "b"], "runtime": ["90", "ninety"]})
    with pytest.raises(DataError, match=r"column 'runtime': not a finite number in row 2: 'ninety'; the schema "
                                        r"declares it type: number"):
        prepare_inputs(df, schema)


def test_row_hashes_are_stable_across_calls(frame: pd.DataFrame, schema: Schema) -> None:
    inputs = prepare_inputs(frame, schema)
    assert np.array_equal(row_hashes(inputs, 0), row_hashes(inputs.copy(), 0))


def test_row_hashes_do_not_depend_on_row_order(frame: pd.DataFrame, schema: Schema) -> None:
    inputs = prepare_inputs(frame, schema)
    shuffled = prepare_inputs(frame.iloc[[4, 2, 0, 3, 1]].reset_index(drop=True), schema)
    assert np.array_equal(row_hashes(shuffled, 0), row_hashes(inputs, 0)[[4, 2, 0, 3, 1]])


def test_row_hashes_do_not_depend_on_labels(frame: pd.DataFrame, schema: Schema) -> None:
    relabelled = frame.assign(language="French")
    before, after = prepare_inputs(frame, schema), prepare_inputs(relabelled, schema)
    assert np.array_equal(row_hashes(after, 0), row_hashes(before, 0))


def test_row_hashes_change_with_the_seed(frame: pd.DataFrame, schema: Schema) -> None:
    inputs = prepare_inputs(frame, schema)
    assert not np.array_equal(row_hashes(inputs, 0), row_hashes(inputs, 1))


def test_row_hashes_are_the_same_in_a_fresh_process(frame: pd.DataFrame, schema: Schema, tmp_path: Path,
                                                     csv_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from compose.data.io import read_table; "
            "from compose.data.targets import prepare_inputs, row_hashes; "
            "from compose.schema.load import parse_schema; "
            "s = parse_schema(open(sys.argv[1]).read()); "
            "print(list(row_hashes(prepare_inputs(read_table(sys.argv[2]), s), 0)))")
    (tmp_path / "s.yaml").write_text(SCHEMA, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.yaml"), str(csv_path)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(list(row_hashes(prepare_inputs(frame, schema), 0)))


def test_fingerprint_is_independent_of_row_order() -> None:
    hashes = np.array([5, 1, 9], dtype=np.uint64)
    y = np.array([0, 1, 1])
    assert fingerprint(hashes, y) == fingerprint(hashes[[2, 0, 1]], y[[2, 0, 1]])


def test_fingerprint_changes_with_a_label() -> None:
    hashes = np.array([5, 1, 9], dtype=np.uint64)
    assert fingerprint(hashes, np.array([0, 1, 1])) != fingerprint(hashes, np.array([0, 1, 0]))


def test_holdout_mask_takes_about_the_asked_fraction() -> None:
    hashes = np.random.default_rng(0).integers(0, 2**63, size=10_000, dtype=np.uint64) * np.uint64(2)
    assert 0.18 < holdout_mask(hashes, 0.2).mean() < 0.22


def test_an_infinite_number_is_refused_naming_the_row() -> None:
    schema = parse_schema(
        "schema_version: 1\nname: x\ninputs: {size: {type: number}}\n"
        "features: {f: {type: tabular, inputs: [size]}}\ngroups: {g: {type: multiclass, labels: [a, b]}}\n"
    )
    with pytest.raises(DataError, match=r"column 'size': not a finite number in row 2: 'inf'"):
        prepare_inputs(pd.DataFrame({"size": ["1.5", "inf"]}), schema)
