"""Training: per-group rows, absent columns, conditional heads, holdout metrics and meta.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.errors import DataError
from compose.schema.load import parse_schema
from compose.schema.models import Schema
from compose.training.run import TrainReport, fit_and_release

CONDITIONAL = BIRDS_HEADER + """\
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
  sex:
    type: binary
    labels: [female, male]
    when: {species: [Adelie, Gentoo]}
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
"""

GATED = {"Adelie", "Gentoo"}


@pytest.fixture(scope="module")
def schema() -> Schema:
    return parse_schema(CONDITIONAL)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, schema: Schema,
            penguins_frame: pd.DataFrame) -> tuple[TrainReport, Path]:
    """The conditional schema trained on penguins without the island column."""
    root = tmp_path_factory.mktemp("training")
    report = fit_and_release(schema, penguins_frame.drop(columns=["island"]), root)
    return report, root / "birds"


def _meta(store: Path, group: str, version: int = 1) -> dict[str, Any]:
    return json.loads((store / "groups" / group / f"v{version:04d}" / "meta.json").read_text(encoding="utf-8"))


def test_rows_with_an_empty_cell_for_a_group_are_left_out_of_it(tmp_path: Path, penguins_csv: Path,
                                                                 penguins_frame: pd.DataFrame,
                                                                 penguins_schema_path: Path) -> None:
    report = fit_and_release(compose.load_schema(penguins_schema_path), penguins_csv, tmp_path)
    meta = _meta(tmp_path / "penguins", "sex")
    labelled = int(penguins_frame["sex"].notna().sum())
    assert (meta["n_train"] + meta["n_holdout"], report.groups["sex"].n_train, labelled < len(penguins_frame)) == (
        labelled, meta["n_train"], True)


def test_a_group_column_absent_from_the_file_is_not_trained(trained: tuple[TrainReport, Path]) -> None:
    report, store = trained
    assert ("island" not in report.groups, (store / "groups" / "island").exists()) == (True, False)


def test_a_warning_says_an_absent_group_is_not_trained(trained: tuple[TrainReport, Path]) -> None:
    report, _ = trained
    assert report.warnings[-1] == "group 'island': the data has no column 'island', so it is not trained from this file"


def test_the_warning_for_an_absent_group_is_logged(tmp_path: Path, schema: Schema, penguins_frame: pd.DataFrame,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="compose"):
        fit_and_release(schema, penguins_frame.drop(columns=["island"]), tmp_path)
    assert "group 'island': the data has no column 'island'" in caplog.text


def test_a_live_group_the_data_does_not_label_is_a_note_not_a_warning(tmp_path: Path, schema: Schema,
                                                                     penguins_frame: pd.DataFrame) -> None:
    fit_and_release(schema, penguins_frame, tmp_path)
    report = fit_and_release(schema, penguins_frame.drop(columns=["island"]), tmp_path, refit=set())
    assert ([n for n in report.notes if "'island'" in n], [w for w in report.warnings if "'island'" in w]) == (
        ["group 'island': no labels in this data; its live version v0001 stays"], [])


def test_a_conditional_head_is_trained_only_on_rows_whose_gate_label_is_in_its_set(
    trained: tuple[TrainReport, Path], penguins_frame: pd.DataFrame
) -> None:
    _, store = trained
    meta = _meta(store, "sex")
    expected = int((penguins_frame["sex"].notna() & penguins_frame["species"].isin(GATED)).sum())
    assert meta["n_train"] + meta["n_holdout"] == expected


def test_rows_left_out_by_when_are_counted(trained: tuple[TrainReport, Path], penguins_frame: pd.DataFrame) -> None:
    _, store = trained
    chinstrap_with_sex = int((penguins_frame["sex"].notna() & (penguins_frame["species"] == "Chinstrap")).sum())
    assert _meta(store, "sex")["excluded_by_when"] == chinstrap_with_sex > 0


def test_a_conditional_head_is_applied_only_where_the_gate_predicted_its_set(
    trained: tuple[TrainReport, Path], penguins_frame: pd.DataFrame
) -> None:
    _, store = trained
    results = compose.load(store).predict(penguins_frame)
    applied = ["skipped" not in r["groups"]["sex"] for r in results]
    gated = [r["groups"]["species"]["label"] in GATED for r in results]
    assert (applied, any(applied), all(applied)) == (gated, True, False)


def test_the_merged_result_says_why_a_conditional_head_was_skipped(
    trained: tuple[TrainReport, Path], penguins_frame: pd.DataFrame
) -> None:
    _, store = trained
    results = compose.load(store).predict(penguins_frame)
    skipped = next(r for r in results if r["groups"]["species"]["label"] == "Chinstrap")
    assert (skipped["groups"]["sex"]["label"], skipped["groups"]["sex"]["skipped"]) == (None, "species is Chinstrap")


def test_a_skipped_group_adds_no_flat_label(trained: tuple[TrainReport, Path], penguins_frame: pd.DataFrame) -> None:
    _, store = trained
    results = compose.load(store).predict(penguins_frame)
    skipped = next(r for r in results if r["groups"]["species"]["label"] == "Chinstrap")
    assert skipped["labels"] == ["Chinstrap"]


def test_conditional_scores_are_nan_where_the_head_did_not_run(trained: tuple[TrainReport, Path],
                                                               penguins_frame: pd.DataFrame) -> None:
    _, store = trained
    model = compose.load(store)
    scores = model.predict_scores(penguins_frame)["sex"]
    species = [r["groups"]["species"]["label"] for r in model.predict(penguins_frame)]
    skipped_rows = [i for i, s in enumerate(species) if s not in GATED]
    assert pd.isna(scores[skipped_rows]).all()


def test_holdout_metrics_land_in_meta_json(trained: tuple[TrainReport, Path]) -> None:
    _, store = trained
    meta = _meta(store, "species")
    assert (meta["metrics"]["n"], 0.8 < meta["metrics"]["accuracy"] <= 1.0, meta["gate_metric"]) == (
        meta["n_holdout"], True, "accuracy")


def test_holdout_metrics_in_the_report_match_meta_json(trained: tuple[TrainReport, Path]) -> None:
    report, store = trained
    assert report.groups["species"].metrics == _meta(store, "species")["metrics"]


def test_meta_json_has_the_sha256_of_the_artifact(trained: tuple[TrainReport, Path]) -> None:
    from compose.store.files import sha256_file

    _, store = trained
    assert _meta(store, "species")["sha256"] == sha256_file(store / "groups/species/v0001/model.joblib")


def test_meta_json_has_data_fingerprint_class_counts_parents_and_libraries(trained: tuple[TrainReport, Path]) -> None:
    _, store = trained
    meta = _meta(store, "species")
    assert (len(meta["data_fingerprint"]), sum(meta["class_counts"].values()), meta["parents"],
            sorted(meta["libraries"])) == (16, meta["n_train"], {"body": 1},
                                           ["compose", "joblib", "numpy", "python", "scikit-learn", "scipy"])


def test_class_counts_list_every_declared_label(trained: tuple[TrainReport, Path]) -> None:
    _, store = trained
    assert list(_meta(store, "sex")["class_counts"]) == ["female", "male"]


def test_a_feature_meta_json_has_its_fingerprint_and_row_count(trained: tuple[TrainReport, Path],
                                                               penguins_frame: pd.DataFrame) -> None:
    _, store = trained
    meta = json.loads((store / "features/body/v0001/meta.json").read_text(encoding="utf-8"))
    assert (0 < meta["n_rows"] < len(penguins_frame), len(meta["data_fingerprint"]), meta["width"]) == (True, 16, 4)


def test_the_data_fingerprint_does_not_depend_on_row_order(tmp_path: Path, schema: Schema,
                                                          penguins_frame: pd.DataFrame) -> None:
    fit_and_release(schema, penguins_frame, tmp_path / "a")
    fit_and_release(schema, penguins_frame.sample(frac=1.0, random_state=1), tmp_path / "b")
    assert _meta(tmp_path / "a/birds", "species")["data_fingerprint"] == _meta(
        tmp_path / "b/birds", "species")["data_fingerprint"]


def test_the_holdout_is_the_same_whatever_the_row_order(tmp_path: Path, schema: Schema,
                                                        penguins_frame: pd.DataFrame) -> None:
    fit_and_release(schema, penguins_frame, tmp_path / "a")
    fit_and_release(schema, penguins_frame.iloc[::-1], tmp_path / "b")
    assert _meta(tmp_path / "a/birds", "sex")["holdout_fingerprint"] == _meta(
        tmp_path / "b/birds", "sex")["holdout_fingerprint"]


def test_training_again_makes_new_versions_and_a_new_release(tmp_path: Path, schema: Schema,
                                                            penguins_frame: pd.DataFrame) -> None:
    fit_and_release(schema, penguins_frame, tmp_path)
    report = fit_and_release(schema, penguins_frame, tmp_path)
    assert (report.release, report.features, {g: r.version for g, r in report.groups.items()}) == (
        "r0002", {"body": 2}, {"species": 2, "sex": 2, "island": 2})


def test_a_file_without_any_group_column_is_a_data_error(tmp_path: Path, schema: Schema,
                                                         penguins_frame: pd.DataFrame) -> None:
    data = penguins_frame.drop(columns=["species", "sex", "island"])
    with pytest.raises(DataError, match=r"no group column found; expected one of \['species', 'sex', 'island'\]"):
        fit_and_release(schema, data, tmp_path)


def test_training_only_a_group_absent_from_the_file_is_a_data_error(tmp_path: Path, schema: Schema,
                                                                    penguins_frame: pd.DataFrame) -> None:
    data = penguins_frame.drop(columns=["island"])
    with pytest.raises(DataError, match=r"no column for group \['island'\]; add the column with its labels"):
        fit_and_release(schema, data, tmp_path, groups=["island"])


def test_training_an_undeclared_group_is_a_data_error(tmp_path: Path, schema: Schema,
                                                      penguins_frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"unknown group \['colour'\]; the schema declares"):
        fit_and_release(schema, penguins_frame, tmp_path, groups=["colour"])


def test_a_group_whose_column_is_all_empty_is_not_trained_and_a_warning_says_so(
    tmp_path: Path, schema: Schema, penguins_frame: pd.DataFrame
) -> None:
    report = fit_and_release(schema, penguins_frame.assign(island=None), tmp_path)
    assert ("island" in report.groups, report.warnings[-1]) == (
        False, "group 'island': no labelled training rows in this file; not trained")


def test_nothing_is_written_when_the_data_has_an_undeclared_label(tmp_path: Path, schema: Schema,
                                                                  penguins_frame: pd.DataFrame) -> None:
    data = penguins_frame.replace({"species": {"Gentoo": "Emperor"}})
    with pytest.raises(DataError, match=r"column 'species': 124 cells with a label the schema does not declare"):
        fit_and_release(schema, data, tmp_path)
    assert not (tmp_path / "birds").exists()


def test_progress_is_logged_per_feature_and_group(tmp_path: Path, schema: Schema, penguins_frame: pd.DataFrame,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="compose"):
        fit_and_release(schema, penguins_frame, tmp_path)
    messages = caplog.text
    assert all(part in messages for part in ("feature body", "group species", "group sex", "release r0001 is live"))


def test_train_returns_the_live_model(tmp_path: Path, schema: Schema, penguins_frame: pd.DataFrame) -> None:
    model = compose.train(schema, penguins_frame, store=tmp_path)
    assert (model.release_name, model.groups) == ("r0001", ["species", "sex", "island"])


def test_a_feature_that_cannot_be_fitted_is_a_clear_training_error(tmp_path: Path) -> None:
    from compose.errors import TrainingError

    schema = parse_schema(
        "schema_version: 1\nname: p\ninputs: {t: {type: text}}\n"
        "features: {w: {type: tfidf, inputs: [t], params: {min_df: 5}}}\n"
        "groups: {g: {type: multiclass, labels: [a, b]}}\n"
    )
    data = pd.DataFrame({"t": ["red shirt", "blue shirt", "red pants", "blue pants"], "g": ["a", "b", "a", "b"]})
    with pytest.raises(TrainingError, match=r"feature 'w' \(tfidf over \['t'\]\) cannot be fitted"):
        fit_and_release(schema, data, tmp_path)
