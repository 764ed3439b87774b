"""ONNX export: real releases exported, run on onnxruntime, and compared with compose itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.export.onnx import ExportReport, export_onnx, load

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

#: Penguins with a category input (one-hot) and several exportable estimators.
BIRDS = """\
schema_version: 1
name: birds
inputs:
  bill_length_mm: {type: number}
  bill_depth_mm: {type: number}
  flipper_length_mm: {type: number}
  body_mass_g: {type: number}
  island: {type: category}
features:
  body: {type: tabular, inputs: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, island]}
groups:
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
    model: {estimator: linear_svc}
  sex:
    type: binary
    labels: [female, male]
    model: {estimator: extra_trees, params: {n_estimators: 50}}
"""


def _inputs(frame: pd.DataFrame, schema: compose.Schema) -> pd.DataFrame:
    return frame[[c for c in schema.inputs if c in frame.columns]]


def assert_same_results(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    """Equal merged results; printed scores (4 places) may differ in the last place by rounding."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a["labels"] == b["labels"]
        assert a["release"] == b["release"]
        assert a["groups"].keys() == b["groups"].keys()
        for g, ra in a["groups"].items():
            rb = b["groups"][g]
            assert {k: v for k, v in ra.items() if k not in ("scores", "confidence")} == \
                {k: v for k, v in rb.items() if k not in ("scores", "confidence")}
            for label, score in ra.get("scores", {}).items():
                assert abs(score - rb["scores"][label]) <= 1.5e-4
            if ra.get("confidence") is not None:
                assert abs(ra["confidence"] - rb["confidence"]) <= 1.5e-4


def assert_same_scores(runner: Any, model: compose.ComposedModel, rows: Any) -> None:
    ours, theirs = runner.predict_scores(rows), model.predict_scores(rows)
    for g, want in theirs.items():
        assert np.array_equal(np.isnan(ours[g]), np.isnan(want)), g
        assert float(np.nanmax(np.abs(ours[g] - want), initial=0.0)) <= 1e-5, g


@pytest.fixture(scope="module")
def penguins_model(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path,
                   penguins_csv: Path) -> compose.ComposedModel:
    return compose.train(penguins_schema_path, penguins_csv, store=tmp_path_factory.mktemp("onnx") / "models")


@pytest.fixture(scope="module")
def movies_model(tmp_path_factory: pytest.TempPathFactory, movies_schema_path: Path,
                 movies_csv: Path) -> compose.ComposedModel:
    return compose.train(movies_schema_path, movies_csv, store=tmp_path_factory.mktemp("onnx") / "models")


@pytest.fixture(scope="module")
def penguins_export(tmp_path_factory: pytest.TempPathFactory, penguins_model: compose.ComposedModel) -> Path:
    assert penguins_model.store is not None
    out = tmp_path_factory.mktemp("onnx") / "penguins"
    report = export_onnx(penguins_model.store.path, out)
    assert report.parity and max(report.parity.values()) <= 1e-5
    assert set(report.rows) == {"species", "island", "sex"} and min(report.rows.values()) > 20
    return out


def test_the_penguins_release_exports_and_runs_like_compose(
        penguins_model: compose.ComposedModel, penguins_frame: pd.DataFrame, penguins_export: Path) -> None:
    runner = load(penguins_export)
    rows = _inputs(penguins_frame, penguins_model.schema)
    assert_same_scores(runner, penguins_model, rows)
    assert_same_results(runner.predict(rows), penguins_model.predict(rows))
    one = rows.iloc[3].to_dict()
    assert_same_results([runner.predict_one(one)], [penguins_model.predict_one(one)])


def test_the_movies_release_exports_with_its_when_gate_and_non_ascii_text(
        movies_model: compose.ComposedModel, movies_csv: Path, tmp_path: Path) -> None:
    assert movies_model.store is not None
    export_onnx(movies_model.store.path, tmp_path / "onnx")
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["groups"]["mpaa"]["when"] == {"language": ["English"]}
    assert manifest["groups"]["mpaa"]["decision"] == {"min_confidence": 0.4}
    assert manifest["groups"]["genres"]["labels"][:2] == ["Drama", "Comedy"]
    runner = load(tmp_path / "onnx")
    frame = pd.read_csv(movies_csv)
    rows = _inputs(frame, movies_model.schema)
    assert rows["title"].map(lambda t: not str(t).isascii()).sum() > 0  # accented titles are in the sample
    assert_same_scores(runner, movies_model, rows)
    results = runner.predict(rows)
    assert_same_results(results, movies_model.predict(rows))
    assert any(r["groups"]["mpaa"]["outcome"] == "skipped" for r in results)
    extra = [{"title": "Amélie", "director": "Jean-Pierre Jeunet", "runtime": 122},
             {"title": "Ångström Über Ça", "runtime": None}, {"title": ""}]
    assert_same_scores(runner, movies_model, extra)
    assert_same_results(runner.predict(extra), movies_model.predict(extra))


def test_one_hot_categories_calibration_and_trees_export(penguins_frame: pd.DataFrame, tmp_path: Path) -> None:
    schema = compose.parse_schema(BIRDS, source="birds.yaml")
    model = compose.train(schema, penguins_frame, store=tmp_path / "models")
    export_onnx(tmp_path / "models", tmp_path / "onnx")
    runner = load(tmp_path / "onnx")
    rows = _inputs(penguins_frame, schema).copy()
    rows.loc[0, "island"] = "Atlantis"  # a category never seen in training
    rows.loc[1, "island"] = None
    assert_same_scores(runner, model, rows)
    assert_same_results(runner.predict(rows), model.predict(rows))


def test_a_component_off_by_more_than_the_tolerance_is_refused_by_name(penguins_model: compose.ComposedModel,
                                                                       tmp_path: Path) -> None:
    # The random forest of `island` reads float32, as scikit-learn's trees do: about 1e-7 from compose.
    assert penguins_model.store is not None
    with pytest.raises(compose.ExportError, match=r"group 'island' \(RandomForestClassifier\).*more than 1e-12"):
        export_onnx(penguins_model.store.path, tmp_path / "onnx", tolerance=1e-12)
    assert not (tmp_path / "onnx").exists()


@pytest.mark.parametrize(("model", "needle"), [
    ("{estimator: hist_gradient_boosting}", r"group 'species': HistGradientBoostingClassifier has no exact ONNX"),
    ("{estimator: logistic_regression}\n    calibration: isotonic", r"group 'species': calibration 'isotonic'"),
])
def test_an_unsupported_estimator_is_refused_with_its_name(penguins_frame: pd.DataFrame, tmp_path: Path,
                                                           model: str, needle: str) -> None:
    text = BIRDS.split("groups:", maxsplit=1)[0] + f"groups:\n  species:\n    type: multiclass\n    model: {model}\n" \
        "    labels: [Adelie, Chinstrap, Gentoo]\n"
    compose.train(compose.parse_schema(text, source="birds.yaml"), penguins_frame, store=tmp_path / "models")
    with pytest.raises(compose.ExportError, match=needle):
        export_onnx(tmp_path / "models", tmp_path / "onnx")


def test_a_featurizer_option_without_an_onnx_equivalent_is_refused(movies_csv: Path, tmp_path: Path) -> None:
    text = """\
schema_version: 1
name: films
inputs: {title: {type: text}}
features: {words: {type: tfidf, inputs: [title], params: {strip_accents: unicode}}}
groups: {language: {type: multiclass, labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic,
         other]}}
"""
    compose.train(compose.parse_schema(text, source="films.yaml"), movies_csv, store=tmp_path / "models")
    with pytest.raises(compose.ExportError, match=r"feature 'words' \(tfidf\): strip_accents='unicode'"):
        export_onnx(tmp_path / "models", tmp_path / "onnx")


def test_the_runner_refuses_a_changed_graph(penguins_export: Path, tmp_path: Path) -> None:
    shutil.copytree(penguins_export, tmp_path / "onnx")
    graph = tmp_path / "onnx" / "heads" / "species.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(compose.IntegrityError, match=r"species\.onnx is missing or does not match the sha256"):
        load(tmp_path / "onnx")


def test_the_cli_exports_and_says_what_it_checked(penguins_model: compose.ComposedModel, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert penguins_model.store is not None
    store = str(penguins_model.store.path.parent)
    code = main(["export", "--store", store, "--format", "onnx", "--out", str(tmp_path / "onnx")])
    out = capsys.readouterr().out
    assert code == 0
    assert "exported release r0001" in out and "head island" in out
    code = main(["export", "--store", store, "--out", str(tmp_path / "onnx2"), "--tolerance", "1e-12"])
    err = capsys.readouterr().err
    assert code == 3
    assert "export refused: group 'island' (RandomForestClassifier)" in err and "Traceback" not in err


def test_an_export_folder_that_holds_something_else_is_not_overwritten(penguins_model: compose.ComposedModel,
                                                                       tmp_path: Path) -> None:
    assert penguins_model.store is not None
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(compose.ExportError, match="is not an earlier ONNX export"):
        export_onnx(penguins_model.store.path, tmp_path / "mine")
    assert isinstance(ExportReport(tmp_path, "r0001").lines(), list)
