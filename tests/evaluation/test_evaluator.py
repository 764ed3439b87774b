"""Evaluation of a trained release: labelled cells only, honest splits, the baseline, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.evaluation.evaluator import evaluate, summary_lines

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def penguins_store(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame,
                   penguins_schema_path: Path) -> Path:
    store = tmp_path_factory.mktemp("eval-store")
    compose.train(penguins_schema_path, penguins_frame, store=store)
    return store


@pytest.fixture(scope="module")
def compared(penguins_store: Path, penguins_frame: pd.DataFrame) -> dict[str, Any]:
    return evaluate(compose.load(penguins_store), penguins_frame, baseline="monolithic")


def test_each_group_is_scored_on_its_labelled_rows_only(penguins_store: Path, penguins_frame: pd.DataFrame) -> None:
    report = evaluate(compose.load(penguins_store), penguins_frame)
    assert report["split"] == "all"
    assert report["groups"]["species"]["n"] == 344
    assert report["groups"]["sex"]["n"] == 333  # 11 birds have no sex: left out, not counted wrong
    assert report["groups"]["sex"]["kind"] == "binary"
    assert report["merged"]["rows"] == 344


def test_group_keys_by_kind(compared: dict[str, Any]) -> None:
    species, sex = compared["groups"]["species"], compared["groups"]["sex"]
    assert {"accuracy", "balanced_accuracy", "confusion_matrix", "per_label", "macro_f1"} <= set(species)
    assert {"precision", "recall", "f1", "roc_auc", "average_precision", "positive_label"} <= set(sex)
    assert set(species["per_label"]["Adelie"]) == {"precision", "recall", "f1", "support"}
    assert {"subset_accuracy", "hamming_loss", "abstain_rate", "invalid_combination_rate"} <= set(compared["merged"])


def test_a_baseline_defaults_to_the_holdout_split(compared: dict[str, Any]) -> None:
    assert compared["split"] == "holdout"
    assert compared["rows_in_training_split"] == 0
    assert compared["baseline"]["train_rows"] + compared["rows"] == 344


def test_comparison_has_one_row_per_group_and_one_merged(compared: dict[str, Any]) -> None:
    rows = {r["group"]: r for r in compared["comparison"]}
    assert set(rows) == {"species", "island", "sex", "(merged)"}
    assert rows["(merged)"]["metric"] == "subset_accuracy"
    assert rows["sex"]["metric"] == "accuracy"
    assert rows["species"]["monolithic"] == compared["baseline"]["groups"]["species"]["accuracy"]
    assert rows["species"]["composed_invalid_rate"] == 0.0


def test_report_says_how_the_baseline_treats_missing_labels(compared: dict[str, Any]) -> None:
    assert compared["baseline"]["missing_labels"] == "masked"
    lines = summary_lines(compared)
    assert any(line.startswith("missing labels: masked one-vs-rest") for line in lines)
    assert any(line.startswith("(merged)") for line in lines)


def test_the_report_is_json_serialisable(compared: dict[str, Any]) -> None:
    assert json.loads(json.dumps(compared))["baseline"]["kind"] == "monolithic"


def test_labels_with_few_holdout_examples_are_reported(penguins_store: Path, penguins_frame: pd.DataFrame) -> None:
    few = penguins_frame[(penguins_frame["species"] != "Chinstrap") | (penguins_frame.index % 10 == 0)]
    report = evaluate(compose.load(penguins_store), few, split="all")
    warning = next(w for w in report["warnings"] if w.startswith("group 'species'"))
    assert "Chinstrap (7)" in warning
    assert any(line == f"warning: {warning}" for line in summary_lines(report))


def test_rows_from_the_training_split_are_flagged(penguins_store: Path, penguins_frame: pd.DataFrame) -> None:
    report = evaluate(compose.load(penguins_store), penguins_frame, split="train")
    assert report["rows"] == report["rows_in_training_split"] > 0
    assert any("optimistic" in w for w in report["warnings"])


def test_unknown_baseline_is_a_clear_error(penguins_store: Path, penguins_frame: pd.DataFrame) -> None:
    model = compose.load(penguins_store)
    with pytest.raises(compose.DataError, match="unknown baseline 'giant'"):
        evaluate(model, penguins_frame, baseline="giant")  # type: ignore[arg-type]


def _documented_keys() -> set[str]:
    text = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    section = text.split("## Evaluation report keys", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([a-z_0-9]+)`", section))


def _keys(obj: Any, skip: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.add(key)
            if key not in skip:
                found |= _keys(value, skip)
    elif isinstance(obj, list):
        for value in obj:
            found |= _keys(value, skip)
    return found


def test_every_report_key_is_documented(compared: dict[str, Any]) -> None:
    keys = _keys(compared, skip={"per_label", "estimators", "train_rows_per_group"}) - set(compared["groups"])
    assert keys - _documented_keys() == set()


def test_cli_evaluate_with_baseline_json_and_html(penguins_store: Path, penguins_csv: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_html = tmp_path / "e.json", tmp_path / "r.html"
    code = main(["evaluate", "--store", str(penguins_store), "--data", str(penguins_csv), "--baseline", "monolithic",
                 "--json", str(out_json), "--html", str(out_html)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "composed" in printed and "monolith" in printed
    report = json.loads(out_json.read_text(encoding="utf-8"))
    assert report["split"] == "holdout" and report["baseline"]["kind"] == "monolithic"
    assert out_html.read_text(encoding="utf-8").count("data:image/png;base64,") >= len(report["groups"])
