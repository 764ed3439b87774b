"""The command line end to end on the small real samples: results, and one clear sentence per mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _schemas import MOVIES_SMALL

from compose.cli.main import main

MOVIES = MOVIES_SMALL

Run = tuple[int, str, str]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _assert_one_clear_error(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert (code, "Traceback" in err, len(lines)) == (2, False, 1), err
    assert lines[0].startswith("compose: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    (path / "films.yaml").write_text(MOVIES, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(work: Path, movies_csv: Path) -> Path:
    code = main(["-q", "train", str(work / "films.yaml"), "--data", str(movies_csv), "--store", str(work / "models"),
                 "--jobs", "1"])
    assert code == 0
    return work / "models"


@pytest.fixture(scope="module")
def few(work: Path, movies_csv: Path) -> Path:
    path = work / "few.csv"
    pd.read_csv(movies_csv).head(25).to_csv(path, index=False)
    return path


# --- validate and plan -----------------------------------------------------------------------------


def test_validate_accepts_a_valid_schema(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = _run(capsys, "validate", str(work / "films.yaml"))
    assert (code, "valid schema 'films': 5 inputs, 2 features, 4 groups, 43 labels" in out) == (0, True)


def test_validate_accepts_the_example_schemas(capsys: pytest.CaptureFixture[str], movies_schema_path: Path,
                                              penguins_schema_path: Path) -> None:
    assert [_run(capsys, "validate", str(p))[0] for p in (movies_schema_path, penguins_schema_path)] == [0, 0]


def test_validate_reports_every_problem_of_a_broken_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(MOVIES.replace("features: [people]", "features: [peeple]").replace("when: {language",
                                                                                      "when: {langage"),
                    encoding="utf-8")
    code, _, err = _run(capsys, "validate", str(path))
    assert (code, "Traceback" in err) == (2, False)
    assert f"groups.language.features.0 at {path}:16: unknown feature 'peeple'. Did you mean 'people'?" in err
    assert f"groups.mpaa.when.langage at {path}:27: unknown group 'langage'. Did you mean 'language'?" in err


def test_validate_of_a_missing_file_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "validate", str(tmp_path / "nowhere.yaml"))
    _assert_one_clear_error(code, err, "nowhere.yaml", "does not exist")


def test_plan_prints_text_by_default(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = _run(capsys, "plan", str(work / "films.yaml"))
    assert (code, out.splitlines()[0]) == (0, "plan for 'films': 5 inputs, 2 features, 4 heads")


def test_plan_prints_json(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = _run(capsys, "plan", str(work / "films.yaml"), "--format", "json")
    plan = json.loads(out)
    assert (code, plan["training_order"]) == (0, ["feature:people", "feature:length", "head:language", "head:decade",
                                                  "head:genres", "head:mpaa"])


def test_plan_prints_dot(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    code, out, _ = _run(capsys, "plan", str(work / "films.yaml"), "--format", "dot")
    assert (code, out.startswith('digraph "films" {'), '"head:language" -> "head:mpaa"' in out) == (0, True, True)


# --- train, predict, evaluate, versions ------------------------------------------------------------


def test_train_prints_each_group_and_the_release(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 penguins_schema_path: Path, penguins_csv: Path) -> None:
    code, out, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(penguins_csv), "--store",
                          str(tmp_path))
    assert (code, [line.split()[0] for line in out.splitlines()[:3]], "release r0001 is live" in out) == (
        0, ["species", "island", "sex"], True)
    assert "group species" in err  # progress goes to stderr


def test_train_wrote_a_release(store: Path) -> None:
    assert (store / "films" / "CURRENT").read_text(encoding="utf-8").strip() == "r0001"


def test_predict_writes_json_lines(capsys: pytest.CaptureFixture[str], store: Path, few: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    code, _, _ = _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (code, len(rows), sorted(rows[0]), sorted(rows[0]["groups"])) == (
        0, 25, ["groups", "labels", "release"], ["decade", "genres", "language", "mpaa"])


def test_predict_writes_a_flat_csv(capsys: pytest.CaptureFixture[str], store: Path, few: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    code, _, _ = _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(out))
    frame = pd.read_csv(out)
    assert (code, len(frame), {"language", "language_confidence", "genres", "release"} <= set(frame.columns)) == (
        0, 25, True)


def test_predict_writes_parquet(capsys: pytest.CaptureFixture[str], store: Path, few: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    code, _, _ = _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(out))
    frame = pd.read_parquet(out)
    assert (code, len(frame), frame["release"].unique().tolist()) == (0, 25, ["r0001"])


def test_predict_csv_and_jsonl_agree(capsys: pytest.CaptureFixture[str], store: Path, few: Path,
                                     tmp_path: Path) -> None:
    _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(tmp_path / "a.jsonl"))
    _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(tmp_path / "a.csv"))
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    frame = pd.read_csv(tmp_path / "a.csv", keep_default_na=False)
    assert frame["language"].tolist() == [r["groups"]["language"]["label"] or "" for r in rows]


def test_predict_to_an_unknown_output_type_is_one_clear_error(capsys: pytest.CaptureFixture[str], store: Path,
                                                              few: Path, tmp_path: Path) -> None:
    code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(few), "--out", str(tmp_path / "o.xls"))
    _assert_one_clear_error(code, err, "unknown output type '.xls'")


def test_evaluate_prints_a_table_and_writes_json(capsys: pytest.CaptureFixture[str], store: Path, movies_csv: Path,
                                                 tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    code, out, _ = _run(capsys, "evaluate", "--store", str(store), "--data", str(movies_csv), "--json",
                        str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert (code, sorted(report["groups"]), "merged" in report, "language" in out) == (
        0, ["decade", "genres", "language", "mpaa"], True, True)


def test_evaluate_counts_only_labelled_cells(capsys: pytest.CaptureFixture[str], store: Path, movies_csv: Path,
                                             tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    _run(capsys, "evaluate", "--store", str(store), "--data", str(movies_csv), "--json", str(report_path))
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["groups"]["mpaa"]["n"] == int(pd.read_csv(movies_csv)["mpaa"].notna().sum())


def test_evaluate_reports_multilabel_micro_f1(capsys: pytest.CaptureFixture[str], store: Path, movies_csv: Path,
                                              tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    _run(capsys, "evaluate", "--store", str(store), "--data", str(movies_csv), "--json", str(report_path))
    genres = json.loads(report_path.read_text(encoding="utf-8"))["groups"]["genres"]
    assert (0.0 <= genres["micro_f1"] <= 1.0, "Drama" in genres["per_label"]) == (True, True)


def test_versions_lists_every_feature_and_group(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    code, out, _ = _run(capsys, "versions", "--store", str(store), "--json")
    rows = json.loads(out)
    assert (code, sorted((r["kind"], r["name"], r["version"], r["live"]) for r in rows)) == (0, [
        ("feature", "length", 1, True), ("feature", "people", 1, True), ("group", "decade", 1, True),
        ("group", "genres", 1, True), ("group", "language", 1, True), ("group", "mpaa", 1, True)])


def test_versions_prints_a_table(capsys: pytest.CaptureFixture[str], store: Path) -> None:
    code, out, _ = _run(capsys, "versions", "--store", str(store))
    assert (code, sum("v0001" in line for line in out.splitlines())) == (0, 6)


# --- a user's mistakes: one clear sentence, a non-zero exit, no traceback --------------------------


def test_a_data_file_with_an_unknown_label_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                              penguins_frame: pd.DataFrame,
                                                              penguins_schema_path: Path) -> None:
    data = tmp_path / "bad.csv"
    penguins_frame.replace({"species": {"Gentoo": "Emperor"}}).to_csv(data, index=False)
    code, _, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(data), "--store", str(tmp_path / "s"))
    _assert_one_clear_error(code, err, f"{data}, column 'species'", "'Emperor'", "row ")


def test_a_data_file_missing_an_input_column_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                penguins_frame: pd.DataFrame,
                                                                penguins_schema_path: Path) -> None:
    data = tmp_path / "bad.csv"
    penguins_frame.drop(columns=["body_mass_g"]).to_csv(data, index=False)
    code, _, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(data), "--store", str(tmp_path / "s"))
    _assert_one_clear_error(code, err, "missing input column ['body_mass_g']")


def test_predicting_from_a_missing_store_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                            few: Path) -> None:
    code, _, err = _run(capsys, "predict", "--store", str(tmp_path / "nowhere"), "--data", str(few), "--out",
                        str(tmp_path / "o.jsonl"))
    _assert_one_clear_error(code, err, "nowhere", "does not exist")


def test_predicting_a_file_missing_an_input_column_is_one_clear_error(capsys: pytest.CaptureFixture[str],
                                                                      store: Path, tmp_path: Path) -> None:
    data = tmp_path / "no_title.csv"
    data.write_text("name,runtime\nAlien,117\n", encoding="utf-8")
    code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(data), "--out",
                        str(tmp_path / "o.jsonl"))
    _assert_one_clear_error(code, err, "missing input column ['title']")


def test_a_missing_data_file_is_one_clear_error(capsys: pytest.CaptureFixture[str], store: Path,
                                                tmp_path: Path) -> None:
    code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(tmp_path / "none.csv"), "--out",
                        str(tmp_path / "o.jsonl"))
    _assert_one_clear_error(code, err, "none.csv", "does not exist")


def test_a_non_number_in_a_number_column_is_one_clear_error(capsys: pytest.CaptureFixture[str], store: Path,
                                                            tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("title,runtime\nAlien,long\n", encoding="utf-8")
    code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(data), "--out",
                        str(tmp_path / "o.jsonl"))
    _assert_one_clear_error(code, err, "column 'runtime'", "row 1: 'long'")


def test_a_tampered_store_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             penguins_schema_path: Path, penguins_csv: Path) -> None:
    _run(capsys, "-q", "train", str(penguins_schema_path), "--data", str(penguins_csv), "--store", str(tmp_path))
    artifact = tmp_path / "penguins/groups/sex/v0001/model.joblib"
    artifact.write_bytes(artifact.read_bytes()[:-1] + b"\0")
    code, _, err = _run(capsys, "predict", "--store", str(tmp_path), "--data", str(penguins_csv), "--out",
                        str(tmp_path / "o.jsonl"))
    _assert_one_clear_error(code, err, str(artifact), "sha256")


def test_predicting_an_empty_file_writes_no_rows(capsys: pytest.CaptureFixture[str], store: Path,
                                                 tmp_path: Path) -> None:
    data = tmp_path / "empty.csv"
    data.write_text("title,runtime\n", encoding="utf-8")
    code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(data), "--out",
                        str(tmp_path / "o.jsonl"))
    assert (code, (tmp_path / "o.jsonl").read_text(encoding="utf-8"), "error" in err) == (0, "", False)


# --- the real process -------------------------------------------------------------------------------


def test_python_m_compose_reports_a_broken_schema_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("schema_version: 1\nname: x\ninputs: {a: {type: text}}\nfeatures: {f: {type: tfidf, inputs: [b]}}\n"
                    "groups: {g: {type: binary}}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "compose", "validate", str(path)], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, "Traceback" in done.stderr, done.stdout) == (2, False, "")
    assert f"features.f.inputs.0 at {path}:4: unknown input 'b'" in done.stderr


def test_python_m_compose_predicts_from_a_missing_store_without_a_traceback(tmp_path: Path, few: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "compose", "predict", "--store", str(tmp_path / "none"), "--data",
                           str(few), "--out", str(tmp_path / "o.jsonl")], capture_output=True, text=True, check=False)
    assert (done.returncode, "Traceback" in done.stderr, done.stderr.count("\n")) == (2, False, 1)
