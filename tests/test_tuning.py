"""`compose tune`: thresholds chosen on held-out rows, released as a decision version, models untouched."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import compose
from compose.cli.main import main
from compose.data.targets import holdout_mask, prepare_inputs, row_hashes
from compose.errors import DataError
from compose.schema.load import schema_from_dict
from compose.schema.models import Schema
from compose.store.store import ModelStore
from compose.tuning import Target, choose_threshold, wilson_lower


def _penguins_schema(path: Path, holdout: float = 0.2) -> Schema:
    raw: dict[str, Any] = yaml.safe_load(path.read_text())
    data = copy.deepcopy(raw)
    data["groups"] = {g: data["groups"][g] for g in ("species", "sex")}
    data["training"] = {"holdout": holdout}
    return schema_from_dict(data)


@pytest.fixture
def trained(tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame) -> Path:
    compose.fit_and_release(_penguins_schema(penguins_schema_path), penguins_frame, tmp_path)
    return tmp_path


def test_target_parse() -> None:
    assert Target.parse("precision=0.95") == Target("precision", 0.95)
    assert Target.parse("recall>=0.8") == Target("recall", 0.8)
    assert Target.parse("f1") == Target("f1", None)
    with pytest.raises(DataError, match="needs a value"):
        Target.parse("precision")


def test_choose_threshold_takes_the_highest_recall_whose_precision_bound_meets_the_target() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(400)
    truth = rng.random(400) < scores  # P(positive) rises with the score
    threshold, met, _ = choose_threshold(scores, truth, Target("precision", 0.8), 0.5)
    assert met
    best = None
    for cut in np.sort(np.unique(scores))[::-1]:  # brute force: every distinct score as a cut
        said = scores >= cut
        n, tp = int(said.sum()), int((said & truth).sum())
        if wilson_lower(np.array([tp]), np.array([n]))[0] >= 0.8:
            best = cut
    assert best is not None
    assert (scores >= threshold).sum() == (scores >= best).sum()
    assert ((scores >= threshold) & truth).sum() / (scores >= threshold).sum() > 0.8


def test_a_precision_target_needs_more_than_a_lucky_handful_of_rows() -> None:
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3])
    truth = np.array([1, 1, 1, 0, 1, 0, 0], dtype=bool)
    _, met, note = choose_threshold(scores, truth, Target("precision", 0.8), 0.5)
    assert not met and note is not None and "cannot reach precision 0.8" in note


def test_a_recall_target_takes_the_highest_threshold_that_reaches_it() -> None:
    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3])
    truth = np.array([1, 1, 1, 0, 1, 0, 0], dtype=bool)
    threshold, met, _ = choose_threshold(scores, truth, Target("recall", 0.75), 0.5)
    assert met
    assert threshold == pytest.approx(0.75)  # 3 of 4 found, all right


def test_an_unreachable_target_keeps_the_current_threshold_and_says_why() -> None:
    scores = np.array([0.9, 0.8, 0.7])
    truth = np.array([0, 1, 1], dtype=bool)
    threshold, met, note = choose_threshold(scores, truth, Target("precision", 0.99), 0.5)
    assert (threshold, met) == (0.5, False)
    assert note == "cannot reach precision 0.99: the best is 0.6667 at threshold 0.3500 (3 rows)"


def test_tuned_threshold_reaches_the_target_precision_on_a_separate_split(
    tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame
) -> None:
    """Penguins `sex` (binary). The head is fitted on the 40% of rows outside the holdout; the held-out
    labelled rows are split in two at random, six times: tune on one half, measure on the other.

    Tolerance: precision is a binomial proportion over the predicted-positive rows, so its standard
    error at the target t over n rows is sqrt(t(1-t)/n). Both halves are samples (the threshold is
    picked on one, which adds its own error, and is measured on the other), so the measured precision
    must be at least t - 2*sqrt(t(1-t)/n_tune + t(1-t)/n_test): two combined standard errors, about
    95% one-sided coverage for a threshold that truly reaches t. The data are fixed, so the test is
    deterministic; the tolerance says how far below t is still "reached" with ~60 predicted rows.
    """
    schema = _penguins_schema(penguins_schema_path, holdout=0.6)
    compose.fit_and_release(schema, penguins_frame, tmp_path)
    inputs = prepare_inputs(penguins_frame, schema)
    held = np.flatnonzero(holdout_mask(row_hashes(inputs, 0), 0.6) & penguins_frame["sex"].notna().to_numpy())
    target = 0.9
    measured = []
    for seed in range(6):
        order = np.random.default_rng(seed).permutation(held)
        half = len(order) // 2
        tune_rows, test_rows = penguins_frame.iloc[order[:half]], penguins_frame.iloc[order[half:]]
        report = compose.tune(tmp_path, "sex", f"precision={target}", data=tune_rows)
        row = report.labels[0]
        assert row.met and row.precision is not None and row.precision >= target
        _, outputs = compose.load(tmp_path).run(test_rows)
        said = outputs["sex"].decided.chosen == 1
        truth = (test_rows["sex"] == "male").to_numpy()
        precision = float((said & truth).sum() / said.sum())
        tolerance = 2 * np.sqrt(target * (1 - target) / said.sum() + target * (1 - target) / row.predicted)
        assert precision >= target - tolerance, (seed, precision, tolerance)
        measured.append(precision)
    assert np.mean(measured) >= target - 0.03


def test_retuning_leaves_every_model_artifact_byte_identical(trained: Path, penguins_frame: pd.DataFrame) -> None:
    before = {p: p.read_bytes() for p in trained.rglob("*.joblib")}
    first = compose.tune(trained, "sex", "precision=0.9", data=penguins_frame)
    second = compose.tune(trained, "sex", "recall=0.95")  # from the stored holdout
    species = compose.tune(trained, "species", "precision=0.95", data=penguins_frame)
    assert all(p.read_bytes() == b for p, b in before.items())
    assert (first.decision_version, second.decision_version, species.decision_version) == (1, 2, 1)
    store = ModelStore.open(trained)
    live = store.release()
    assert live.note == "tune --group species --target precision=0.95"
    assert live.decisions["sex"].version == 2
    assert live.decisions["sex"].for_group_version == live.groups["sex"].version == 1
    meta = store.decision_meta("sex", 2)
    assert meta.target == "recall=0.95" and meta.for_group_version == 1
    assert meta.report["labels"][0]["label"] == "male"
    model = compose.load(trained)
    assert model.schema.groups["sex"].decision.threshold == second.decision["threshold"]
    assert model.schema.groups["species"].decision.policy == "min_confidence"
    result = model.predict(penguins_frame.head(3))[0]
    assert result["groups"]["sex"]["decision_version"] == 2
    assert result["groups"]["species"]["decision_version"] == 1


def test_a_decision_tuned_for_another_head_version_is_not_applied(trained: Path, penguins_frame: pd.DataFrame) -> None:
    compose.tune(trained, "sex", "precision=0.9", data=penguins_frame)
    store = ModelStore.open(trained)
    with store.lock():
        live = store.release()
        moved = live.decisions["sex"].model_copy(update={"for_group_version": 7})
        store.write_release(live.body.model_copy(update={"decisions": {"sex": moved}}))
    model = compose.load(trained)
    assert model.schema.groups["sex"].decision.threshold is None
    assert model.predict(penguins_frame.head(1))[0]["groups"]["sex"]["decision_version"] is None


def test_cli_tune_prints_the_report(trained: Path, penguins_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = trained / "tune.json"
    code = main(["tune", "--store", str(trained), "--data", str(penguins_csv), "--group", "sex",
                 "--target", "precision=0.9", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "male" in text and "met" in text and "is pinned by release r0002" in text
    assert json.loads(out.read_text())["labels"][0]["met"] is True


def test_cli_tune_says_plainly_when_no_target_can_be_met(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Multiclass recall is the share of all rows given their right label: 1.0 needs every row right."""
    releases = ModelStore.open(trained).release_numbers()
    code = main(["tune", "--store", str(trained), "--group", "species", "--target", "recall=1.0"])
    text = capsys.readouterr().out
    assert code == 3
    assert "NOT MET" in text and "cannot reach recall 1" in text and "nothing was written" in text
    assert ModelStore.open(trained).release_numbers() == releases
