"""Per-group lifecycle: retrain one group alone, gate it, promote, roll back, evolve the schema."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.errors import GateRefusedError, SchemaError, StoreError

INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _files(model_dir: Path, skip_group: str | None = None) -> dict[str, str]:
    """sha256 of every artifact file, except releases, CURRENT, the lock, the sample store (it
    records each fit) and one group's folder."""
    out = {}
    for f in sorted(model_dir.rglob("*")):
        rel = f.relative_to(model_dir)
        if not f.is_file() or rel.parts[0] in ("releases", ".tmp") or f.name in ("CURRENT", ".lock") \
                or f.name.startswith("samples.sqlite"):
            continue
        if skip_group and rel.parts[:2] == ("groups", skip_group):
            continue
        out[str(rel)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def trained(tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    compose.train(penguins_schema_path, penguins_csv, store=tmp_path / "store", n_jobs=1)
    return tmp_path / "store"


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def test_retraining_one_group_leaves_every_other_artifact_byte_identical(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    before = _files(trained / "penguins", skip_group="island")
    live = compose.ModelStore(trained / "penguins").release()
    only_island = _write(penguins_frame[[*INPUTS, "island"]], tmp_path / "island.csv")
    compose.retrain(penguins_schema_path, only_island, trained, group="island", force=True, n_jobs=1)
    assert _files(trained / "penguins", skip_group="island") == before
    new = compose.ModelStore(trained / "penguins").release()
    assert new.groups["species"] == live.groups["species"]
    assert new.groups["sex"] == live.groups["sex"]
    assert new.features == live.features
    assert new.groups["island"].version == 2


def test_gate_refuses_a_candidate_trained_on_shuffled_labels(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    df = penguins_frame[[*INPUTS, "island"]].copy()
    df["island"] = np.random.default_rng(0).permutation(df["island"].to_numpy())
    bad = _write(df, tmp_path / "shuffled.csv")
    with pytest.raises(GateRefusedError, match=r"island v0002: accuracy .* < live v0001"):
        compose.retrain(penguins_schema_path, bad, trained, group="island", n_jobs=1)
    store = compose.ModelStore(trained / "penguins")
    assert store.release().groups["island"].version == 1
    assert store.versions("groups", "island") == [1, 2]


def test_gate_releases_a_candidate_trained_on_more_labelled_rows(
    tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame
) -> None:
    few = penguins_frame.copy()
    few.loc[few.index[40:], "island"] = None  # the first version sees 40 labelled islands only
    compose.train(penguins_schema_path, _write(few, tmp_path / "few.csv"), store=tmp_path / "s", n_jobs=1)
    more = _write(penguins_frame[[*INPUTS, "island"]], tmp_path / "more.csv")
    report = compose.retrain(penguins_schema_path, more, tmp_path / "s", group="island", n_jobs=1)
    verdict = report.groups["island"].gate
    assert verdict is not None and verdict.passed and verdict.candidate is not None and verdict.live is not None
    assert verdict.candidate > verdict.live
    assert compose.ModelStore(tmp_path / "s" / "penguins").release().groups["island"].version == 2


def test_forced_release_and_promote_of_a_kept_version(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    df = penguins_frame[[*INPUTS, "island"]].copy()
    df["island"] = np.random.default_rng(1).permutation(df["island"].to_numpy())
    bad = _write(df, tmp_path / "shuffled.csv")
    with pytest.raises(GateRefusedError):
        compose.retrain(penguins_schema_path, bad, trained, group="island", n_jobs=1)
    name = compose.promote(trained, "island", "v0002")
    assert compose.ModelStore(trained / "penguins").release(name).groups["island"].version == 2
    assert compose.load(trained).version_of("island") == 2


def test_rollback_makes_a_new_release_with_the_old_version(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    only_island = _write(penguins_frame[[*INPUTS, "island"]], tmp_path / "island.csv")
    compose.retrain(penguins_schema_path, only_island, trained, group="island", force=True, n_jobs=1)
    name = compose.rollback(trained, "island", "v0001")
    assert name == "r0003"
    assert compose.load(trained).version_of("island") == 1
    lines = compose.diff_releases(trained, "r0002", "r0003")
    assert lines == [line for line in lines if line.startswith("group island: v0002 -> v0001")]


def test_rollback_to_a_version_that_does_not_exist_names_the_versions(trained: Path) -> None:
    with pytest.raises(compose.ArtifactNotFoundError, match=r"no version v0009; versions: \['v0001'\]"):
        compose.rollback(trained, "island", "v0009")


def test_retraining_a_feature_refits_it_and_every_head_that_reads_it(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path
) -> None:
    report = compose.retrain(penguins_schema_path, penguins_csv, trained, feature="body", force=True, n_jobs=1)
    assert report.features == {"body": 2}
    assert set(report.groups) == {"species", "island", "sex"}
    release = compose.ModelStore(trained / "penguins").release()
    assert all(p.parents == {"body": 2} for p in release.groups.values())


def _schema_with(text_path: Path, extra: str, tmp_path: Path) -> Path:
    out = tmp_path / "evolved.yaml"
    out.write_text(text_path.read_text() + extra)
    return out


def test_adding_a_group_and_training_only_it_leaves_the_others_untouched(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    evolved = _schema_with(penguins_schema_path, "  year:\n    type: multiclass\n    labels: ['2007', '2008', '2009']\n"
                                                 "    features: [body]\n", tmp_path)
    before = _files(trained / "penguins")
    data = _write(penguins_frame[[*INPUTS, "year"]], tmp_path / "year.csv")
    model = compose.train(evolved, data, store=trained, only=["year"], n_jobs=1)
    after = _files(trained / "penguins", skip_group="year")
    assert after == before
    assert model.groups == ["species", "island", "sex", "year"]


def test_training_another_group_refuses_to_release_a_head_whose_definition_changed(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    changed = tmp_path / "changed.yaml"
    text = penguins_schema_path.read_text().replace("labels: [female, male]", "labels: [f, m]")
    changed.write_text(text + "  year:\n    type: multiclass\n    labels: ['2007', '2008', '2009']\n")
    data = _write(penguins_frame[[*INPUTS, "year"]], tmp_path / "year.csv")
    with pytest.raises(SchemaError, match=r"live group \['sex'\].*--only year,sex"):
        compose.train(changed, data, store=trained, only=["year"], n_jobs=1)
    assert compose.ModelStore(trained / "penguins").release_numbers() == [1]


def test_a_head_whose_schema_fragment_changed_is_refused_at_load(trained: Path) -> None:
    store = compose.ModelStore(trained / "penguins")
    live = store.release()
    document = copy.deepcopy(live.schema_document)
    document["groups"]["sex"]["labels"] = ["f", "m"]
    with store.lock():
        store.write_release(live.body.model_copy(update={"schema_document": document}))
    with pytest.raises(StoreError, match=r"group 'sex' v0001 was trained for another definition.*--only sex"):
        compose.load(trained)


def test_removing_a_group_from_the_schema_drops_it_from_the_next_release(
    trained: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    text = penguins_schema_path.read_text()
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(text[: text.index("  sex:")])
    data = _write(penguins_frame[[*INPUTS, "island"]], tmp_path / "island.csv")
    compose.retrain(smaller, data, trained, group="island", force=True, n_jobs=1)
    model = compose.load(trained)
    assert model.groups == ["species", "island"]
    assert "sex" not in json.loads((trained / "penguins" / "releases" / "r0002.json").read_text())["groups"]


def test_versions_and_releases_list_metrics_rows_and_liveness(trained: Path) -> None:
    rows = compose.list_versions(trained, group="species")
    assert len(rows) == 1 and rows[0]["live"] and rows[0]["rows"] > 200
    assert rows[0]["metrics"]["accuracy"] > 0.9 and rows[0]["parents"] == {"body": 1}
    releases = compose.list_releases(trained)
    assert [r["release"] for r in releases] == ["r0001"] and releases[0]["live"]
