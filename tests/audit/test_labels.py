"""The annotation audit, the labelling queue and threshold curves, on real data (penguins, movies)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.audit.labels import audit_model, sample_ids, write_audit
from compose.audit.queue import queue_model, uncertainty
from compose.cli.main import main
from compose.curves import confidence_curve, threshold_curve

ROOT = Path(__file__).resolve().parents[2]
PENGUINS = ROOT / "schemas/penguins.yaml"
MOVIES = ROOT / "schemas/movies.yaml"
MOVIES_SAMPLE = ROOT / "tests/fixtures/movies_sample.csv"


def _flip(df: pd.DataFrame, col: str, frac: float, seed: int) -> tuple[pd.DataFrame, set[int]]:
    rng = np.random.default_rng(seed)
    out = df.copy()
    idx = rng.choice(len(out), int(frac * len(out)), replace=False)
    labels = sorted(out[col].unique())
    values = out[col].to_numpy(dtype=object)
    for i in idx:
        values[i] = rng.choice([lab for lab in labels if lab != values[i]])
    out[col] = values
    return out, {int(i) + 1 for i in idx}


@pytest.fixture(scope="module")
def noisy_species(penguins_frame_module: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[compose.ComposedModel, pd.DataFrame, set[int]]:
    noisy, flipped = _flip(penguins_frame_module, "species", 0.08, 0)
    model = compose.train(PENGUINS, noisy, store=tmp_path_factory.mktemp("audit") / "models")
    return model, noisy, flipped


@pytest.fixture(scope="module")
def penguins_frame_module() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def test_audit_finds_flipped_species_labels_with_high_precision_and_recall(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]]) -> None:
    model, noisy, flipped = noisy_species
    report = audit_model(model, noisy, groups=["species"])
    found = {i.row for i in report.issues}
    precision, recall = len(found & flipped) / len(found), len(found & flipped) / len(flipped)
    assert (precision >= 0.8, recall >= 0.85) == (True, True), (precision, recall)  # measured 0.87 / 0.96


def test_each_flagged_row_names_its_given_and_suggested_label_ranked_most_suspect_first(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]]) -> None:
    model, noisy, _ = noisy_species
    issues = audit_model(model, noisy, groups=["species"]).issues
    first = issues[0]
    assert first.given == noisy["species"].iloc[first.row - 1]
    assert first.suggested != first.given and first.confidence > 0.5
    assert [i.given_score for i in issues] == sorted(i.given_score for i in issues)


def test_rows_are_named_by_the_data_id_column_when_it_has_one(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]]) -> None:
    model, noisy, _ = noisy_species
    with_ids = noisy.assign(id=[f"bird-{i}" for i in range(len(noisy))])
    issue = audit_model(model, with_ids, groups=["species"]).issues[0]
    assert issue.id == f"bird-{issue.row - 1}"


def test_audit_finds_dropped_genre_tags_as_missing_tags(tmp_path: Path) -> None:
    df = compose.read_table(MOVIES_SAMPLE)
    rng = np.random.default_rng(0)
    cells = df["genres"].to_numpy(dtype=object)
    tags = [(r, t) for r, c in enumerate(cells) if isinstance(c, str) and c for t in c.split("|")]
    dropped = {tags[i] for i in rng.choice(len(tags), len(tags) // 10, replace=False)}
    for r in {r for r, _ in dropped}:
        cells[r] = "|".join(t for t in cells[r].split("|") if (r, t) not in dropped) or "[]"
    noisy = df.assign(genres=cells)
    model = compose.train(MOVIES, noisy, store=tmp_path / "models")
    report = audit_model(model, noisy, groups=["genres"])
    missing = {(i.row - 1, i.suggested) for i in report.issues if i.kind == "missing_tag"}
    hits = len(missing & dropped)
    absent = sum(len(model.heads_["genres"].labels) - len(c.split("|")) for c in cells if isinstance(c, str) and c
                 and c != "[]") + 21 * sum(c == "[]" for c in cells)
    chance = len(dropped) / absent  # the precision of flagging absent tags at random: about 1%
    # 1,200 films and 21 genres is little to learn from (measured: precision 0.09, recall 0.26);
    # the audit must still beat chance by far
    assert (hits / len(missing) > 5 * chance, hits / len(dropped) > 0.2) == (True, True), (hits, len(missing))
    assert {i.kind for i in report.issues} <= {"missing_tag", "wrong_tag"}


def test_the_audit_cli_writes_csv_and_json(noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]],
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, noisy, _ = noisy_species
    data = tmp_path / "noisy.csv"
    noisy.to_csv(data, index=False)
    store = str(model.store.path) if model.store is not None else ""
    assert main(["-q", "audit", "--store", store, "--data", str(data), "--group", "species",
                 "--out", str(tmp_path / "issues.csv")]) == 0
    table = pd.read_csv(tmp_path / "issues.csv")
    assert list(table.columns) == ["group", "id", "row", "kind", "given", "suggested", "confidence", "given_score"]
    assert set(table["group"]) == {"species"} and len(table) > 10
    write_audit(audit_model(model, noisy, groups=["species"]), tmp_path / "issues.json")
    body = json.loads((tmp_path / "issues.json").read_text(encoding="utf-8"))
    assert body["groups"]["species"]["issues"][0]["kind"] == "wrong_label"
    assert "wrong label" in capsys.readouterr().out


def test_the_audit_without_cleanlab_says_how_to_install_it(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    model, noisy, _ = noisy_species
    monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    with pytest.raises(compose.ComposeError, match=r"pip install 'compose-groups\[audit\]'"):
        audit_model(model, noisy, groups=["species"])


def test_the_queue_picks_unannotated_rows_most_uncertain_first(penguins_frame_module: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    model = compose.train(PENGUINS, penguins_frame_module, store=tmp_path / "models")
    unlabelled = penguins_frame_module.assign(sex=None)
    q = queue_model(model, "sex", unlabelled, n=20, strategy="margin")
    scores = model.predict_scores(unlabelled)["sex"]
    margins = np.abs(scores[:, 1] - scores[:, 0])
    assert list(q.scores) == sorted(q.scores, reverse=True)
    assert -q.scores[0] <= np.nanmin(margins) + 1e-9  # the most uncertain row of all comes first
    assert q.frame["sex"].eq("").all() and len(q.frame) == 20 and q.frame["id"].is_unique


def test_the_queue_leaves_out_annotated_rows(penguins_frame_module: pd.DataFrame, tmp_path: Path) -> None:
    model = compose.train(PENGUINS, penguins_frame_module, store=tmp_path / "models")
    q = queue_model(model, "sex", penguins_frame_module, n=100)
    ids = sample_ids(penguins_frame_module, compose.prepare_inputs(penguins_frame_module, model.schema))
    annotated = {i for i, sex in zip(ids, penguins_frame_module["sex"], strict=True) if isinstance(sex, str)}
    assert q.candidates == int(penguins_frame_module["sex"].isna().sum())
    assert 0 < len(q.frame) <= q.candidates and not set(q.frame["id"]) & annotated


@pytest.mark.parametrize("strategy", ["margin", "entropy", "least"])
def test_every_strategy_ranks_an_even_split_above_a_sure_answer(strategy: str) -> None:
    scores = np.array([[0.98, 0.01, 0.01], [0.34, 0.33, 0.33], [0.6, 0.3, 0.1]])
    u = uncertainty(scores, "multiclass", strategy)
    assert int(np.argmax(u)) == 1 and int(np.argmin(u)) == 0


def test_the_queue_file_is_accepted_by_training_once_filled_in(penguins_frame_module: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    half = penguins_frame_module.sample(frac=0.5, random_state=0)
    rest = penguins_frame_module.drop(half.index)
    model = compose.train(PENGUINS, half, store=tmp_path / "models")
    q = queue_model(model, "sex", rest.assign(sex=None), n=30)
    out = tmp_path / "queue.csv"
    compose.write_table(q.frame, out)
    filled = compose.read_table(out)
    truth = dict(zip(sample_ids(rest, compose.prepare_inputs(rest, model.schema)), rest["sex"], strict=True))
    filled["sex"] = [truth[i] for i in filled["id"]]
    compose.write_table(filled, out)
    assert main(["-q", "retrain", str(PENGUINS), "--group", "sex", "--data", str(out), "--store",
                 str(tmp_path / "models"), "--force"]) == 0


def test_a_threshold_curve_gives_precision_and_recall_at_each_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2])
    truth = np.array([1, 1, 0, 1, 0])
    curve = threshold_curve("g", "yes", scores, truth, 0.5)
    at = curve.x.index(0.5)
    assert (curve.series["precision"][at], curve.series["recall"][at]) == (round(2 / 3, 4), round(2 / 3, 4))
    assert curve.series["precision"][curve.x.index(0.95)] is None  # nothing predicted: undefined, not 0


def test_a_confidence_curve_trades_coverage_for_accuracy() -> None:
    scores = np.array([[0.9, 0.1], [0.55, 0.45], [0.4, 0.6]])
    curve = confidence_curve("g", scores, np.array([0, 1, 1]), 0.0)
    at = curve.x.index(0.6)
    assert (curve.series["coverage"][at], curve.series["accuracy"][at]) == (round(2 / 3, 4), 1.0)


def test_evaluate_reports_curves_and_the_html_report_draws_them_with_the_live_decision(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]], tmp_path: Path) -> None:
    model, noisy, _ = noisy_species
    report = compose.evaluate(model, noisy)
    assert [c["label"] for c in report["curves"]["sex"]] == ["male"]
    assert report["curves"]["sex"][0]["live"] == 0.5
    assert report["curves"]["species"][0]["kind"] == "confidence"
    report["audit"] = audit_model(model, noisy, groups=["species"]).to_dict()
    page = compose.write_html(report, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Threshold curves" in page and 'alt="sex male curve"' in page and "Annotation audit" in page


def test_tune_curve_prints_the_table_and_marks_the_live_threshold(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]],
        capsys: pytest.CaptureFixture[str]) -> None:
    model, _, _ = noisy_species
    assert model.store is not None
    assert main(["-q", "tune", "--store", str(model.store.path), "--group", "sex", "--curve"]) == 0
    out = capsys.readouterr().out
    assert "threshold  precision     recall  predicted" in out
    assert next(line for line in out.splitlines() if "<- live" in line).split()[0] == "0.50"


def test_audit_reads_the_sample_store_and_a_fixed_annotation_retrains_only_that_group(
        penguins_frame_module: pd.DataFrame, tmp_path: Path) -> None:
    noisy, flipped = _flip(penguins_frame_module, "species", 0.08, 1)
    root = tmp_path / "models"
    compose.train(PENGUINS, noisy, store=root)
    before = json.loads((root / "penguins/releases/r0001.json").read_text(encoding="utf-8"))
    from compose.audit.labels import audit

    report = audit(root, group="species")  # no file: every stored sample
    assert report.source == "the sample store of penguins"
    issues = {i.id: i for i in report.issues}
    truth = dict(zip(sample_ids(penguins_frame_module, compose.prepare_inputs(penguins_frame_module,
                                                                             compose.load_schema(PENGUINS))),
                     penguins_frame_module["species"], strict=True))
    hits = [i for i in issues.values() if truth[i.id] != i.given]
    assert len(hits) >= 0.8 * len(flipped)  # the flips are found by their sample ids
    from compose.audit.labels import stored_rows

    stored = stored_rows(root, None).set_index("id")
    fixed = stored.loc[[i.id for i in hits], list(compose.load_schema(PENGUINS).inputs)].reset_index()
    fixed["species"] = [truth[i] for i in fixed["id"]]  # the annotator's fixes, fed back as rows
    learned = compose.learn(root, fixed, force=True)
    assert learned.changed == ["species"] and list(learned.groups) == ["species"]
    after = json.loads((root / f"penguins/releases/{learned.release}.json").read_text(encoding="utf-8"))
    assert {g: after["groups"][g]["version"] for g in ("island", "sex")} == {
        g: before["groups"][g]["version"] for g in ("island", "sex")}
    assert after["groups"]["species"]["version"] == before["groups"]["species"]["version"] + 1


def test_the_queue_reads_the_unannotated_samples_of_the_store(penguins_frame_module: pd.DataFrame,
                                                               tmp_path: Path) -> None:
    root = tmp_path / "models"
    compose.train(PENGUINS, penguins_frame_module, store=root)
    from compose.audit.queue import queue

    q = queue(root, "sex", n=50)
    assert 0 < len(q.frame) <= int(penguins_frame_module["sex"].isna().sum())
    assert q.frame["sex"].eq("").all() and q.source == "the sample store of penguins"


@pytest.mark.parametrize("species", ["", "Adelie"])
def test_a_group_with_too_few_labelled_rows_is_refused_in_one_sentence(
        noisy_species: tuple[compose.ComposedModel, pd.DataFrame, set[int]], species: str) -> None:
    model, frame, _ = noisy_species
    one = frame.head(1).assign(species=species or None)  # no labelled row at all, then a single one
    with pytest.raises(compose.DataError, match=r"group 'species': [01] labelled rows are too few to audit"):
        audit_model(model, one, groups=["species"])
