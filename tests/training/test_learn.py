"""Training through the sample store: learn, train never drops a live group, the gate never skipped silently,
tuning on never-trained rows, and a kill -9 at any point of learn."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.errors import ArtifactNotFoundError, DataError, GateRefusedError
from compose.store.sample_access import fitted_keys
from compose.store.samples import SampleStore

MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _digests(model_dir: Path, skip: str) -> dict[str, str]:
    """sha256 of every file of every version except those of group `skip` (and the sample store)."""
    out = {}
    for path in sorted(model_dir.rglob("*")):
        rel = path.relative_to(model_dir).as_posix()
        if path.is_file() and rel.startswith(("features/", "groups/", "decisions/")) \
                and not rel.startswith(f"groups/{skip}/"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def halves(penguins_frame: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    """The penguins in two files, in a shuffled order: all groups for 240 birds, then `sex` alone
    for the others."""
    shuffled = penguins_frame.sample(frac=1.0, random_state=0)
    first = shuffled.iloc[:240]
    rest = shuffled.iloc[240:][[*MEASURES, "sex"]].copy()
    a, b = tmp_path / "first.csv", tmp_path / "more_sex.csv"
    first.to_csv(a, index=False)
    rest.to_csv(b, index=False)
    return a, b


def test_penguins_without_the_sex_column_trains_and_sex_stays_live(
        tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, penguins_csv: Path) -> None:
    store = tmp_path / "store"
    compose.train(penguins_schema_path, penguins_csv, store=store, n_jobs=1)
    no_sex = tmp_path / "no_sex.csv"
    penguins_frame.drop(columns=["sex"]).to_csv(no_sex, index=False)
    report = compose.train_groups(penguins_schema_path, no_sex, store, n_jobs=1)
    model = compose.load(store)
    assert "sex" in model.groups and model.release_name == "r0002"
    assert any("group 'sex': reads refitted feature ['body']; retrained from its" in n for n in report.notes)
    meta = compose.ModelStore(store / "penguins").group_meta("sex", model.version_of("sex"))
    assert meta.n_train == report.groups["sex"].n_train > 200  # trained on the stored samples, not on nothing
    assert model.predict_frame(penguins_frame.head(5))["sex"].notna().all()


def test_a_feature_refit_is_refused_while_a_live_group_cannot_be_retrained_from_stored_samples(
        tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame, penguins_csv: Path) -> None:
    store = tmp_path / "store"
    schema = compose.load_schema(penguins_schema_path)
    compose.fit_and_release(schema, penguins_csv, store, n_jobs=1, samples=False)  # as compose 0.1.0 stored it
    no_sex = tmp_path / "no_sex.csv"
    penguins_frame.drop(columns=["sex"]).to_csv(no_sex, index=False)
    with pytest.raises(DataError, match=r"would be refitted, but the live group 'sex' reads it and has no stored "
                                        r"samples .* compose samples --store DIR --import FILE"):
        compose.train_groups(schema, no_sex, store, n_jobs=1)
    assert compose.load(store).release_name == "r0001"


@pytest.fixture()
def tolerant(tmp_path: Path, penguins_schema_path: Path) -> Path:
    """The penguins schema with a gate tolerance of 0.05 for `sex`: on these 63 held-out birds one
    bird either way is noise, and the gate is told so."""
    path = tmp_path / "penguins.yaml"
    path.write_text(penguins_schema_path.read_text().replace(
        "    labels: [female, male]\n", "    labels: [female, male]\n    gate: {tolerance: 0.05}\n"))
    return path


def test_learn_retrains_only_the_group_it_changes_on_old_plus_new_rows(
        tmp_path: Path, tolerant: Path, halves: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    first, more = halves
    compose.train(tolerant, first, store=store, n_jobs=1)
    model_dir = store / "penguins"
    before = _digests(model_dir, skip="sex")
    live = compose.load(store)
    rows_before = compose.ModelStore(model_dir).group_meta("sex", live.version_of("sex")).n_train
    code = main(["learn", "--store", str(store), "--data", str(more), "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    after = compose.load(store)
    assert after.release_name == "r0002"
    assert {g: after.version_of(g) for g in after.groups} == {"species": 1, "island": 1, "sex": 2}
    rows_after = compose.ModelStore(model_dir).group_meta("sex", 2).n_train
    assert rows_after > rows_before
    assert _digests(model_dir, skip="sex") == before  # every other artifact byte-identical
    assert f"group sex: training rows {rows_before} -> {rows_after}, accuracy " in out
    assert "unchanged (no new annotations since their live version): species, island" in out
    with SampleStore.open(model_dir) as samples:
        fit = fitted_keys(compose.ModelStore(model_dir), samples, "sex", 2)  # recorded with the version
        assert fit is not None and len(fit) == rows_after
    again = compose.learn(store)  # nothing changed since
    assert again.changed == [] and again.release is None


def test_learn_on_a_store_made_before_the_sample_store_says_how_to_seed_it(
        tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path, halves: tuple[Path, Path]) -> None:
    store = tmp_path / "store"
    schema = compose.load_schema(penguins_schema_path)
    compose.fit_and_release(schema, penguins_csv, store, n_jobs=1, samples=False)
    with pytest.raises(ArtifactNotFoundError, match=r"made before compose kept samples.*compose samples --store "
                                                    r".* --import ORIGINAL_TRAINING_FILE"):
        compose.learn(store, halves[1])
    assert compose.load(store).predict(penguins_csv)  # it keeps loading and predicting
    with SampleStore.open(store / "penguins", schema=schema) as samples:
        compose.import_samples(samples, schema, penguins_csv)
    report = compose.learn(store, penguins_csv)  # already seeded: re-reading the file changes nothing
    assert report.changed == []


def test_a_worse_candidate_with_a_changed_estimator_is_refused(
        tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    compose.train(penguins_schema_path, penguins_csv, store=store, n_jobs=1)
    text = penguins_schema_path.read_text().replace(
        "    features: [body]\n  island:",
        "    features: [body]\n    model: {estimator: sklearn.dummy.DummyClassifier, "
        "params: {strategy: most_frequent}}\n  island:", 1)
    worse = tmp_path / "worse.yaml"
    worse.write_text(text)
    assert compose.load_schema(worse).groups["species"].model.estimator == "sklearn.dummy.DummyClassifier"
    code = main(["train", str(worse), "--only", "species", "--data", str(penguins_csv), "--store", str(store),
                 "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert "the definition changed" in captured.out and "not released" in captured.err
    assert compose.load(store).version_of("species") == 1


def test_a_changed_label_set_needs_the_flag_and_says_so(
        tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path) -> None:
    store = tmp_path / "store"
    compose.train(penguins_schema_path, penguins_csv, store=store, n_jobs=1)
    text = penguins_schema_path.read_text().replace("labels: [Biscoe, Dream, Torgersen]",
                                                    "labels: [Biscoe, Dream, Torgersen, Elsewhere]")
    more = tmp_path / "more.yaml"
    more.write_text(text)
    with pytest.raises(GateRefusedError, match=r"the label set changed .* pass --accept-new-labels"):
        compose.train(more, penguins_csv, store=store, only=["island"], n_jobs=1)
    assert compose.load(store).version_of("island") == 1
    model = compose.train(more, penguins_csv, store=store, only=["island"], accept_new_labels=True, n_jobs=1)
    assert model.version_of("island") == 3 and "Elsewhere" in model.heads_["island"].labels


def test_tuning_on_a_file_of_never_seen_rows_uses_all_of_them(
        tmp_path: Path, penguins_schema_path: Path, penguins_frame: pd.DataFrame) -> None:
    store = tmp_path / "store"
    seen, unseen = penguins_frame.iloc[:240], penguins_frame.iloc[240:]
    seen_path, unseen_path = tmp_path / "seen.csv", tmp_path / "unseen.csv"
    seen.to_csv(seen_path, index=False)
    unseen.to_csv(unseen_path, index=False)
    compose.train(penguins_schema_path, seen_path, store=store, n_jobs=1)
    report = compose.tune(store, "sex", "f1", data=unseen_path, dry_run=True)
    labelled = int(unseen["sex"].notna().sum())
    assert report.n_rows == labelled
    assert "never fitted on" in report.source
    both = tmp_path / "both.csv"
    penguins_frame.to_csv(both, index=False)
    mixed = compose.tune(store, "sex", "f1", data=both, dry_run=True)
    assert labelled < mixed.n_rows < int(penguins_frame["sex"].notna().sum())  # the trained rows are left out


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import compose
    import compose.store.store as st
    import compose.store.sample_db as sdb

    point, nth, store, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    calls = {"n": 0}

    def die_on_nth(original):
        def wrapped(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)
        return wrapped

    if point == "commit":  # inside the sample store's upsert, before its transaction commits
        original = sdb.SampleDatabase._write
        import contextlib
        @contextlib.contextmanager
        def dying(self):
            with original(self) as db:
                yield db
                calls["n"] += 1
                if calls["n"] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
        sdb.SampleDatabase._write = dying
    elif point == "dump":
        import compose.store.artifacts as artifacts
        artifacts.dump_joblib = die_on_nth(artifacts.dump_joblib)
    elif point == "rename":
        st.os.rename = die_on_nth(st.os.rename)
    elif point == "replace":
        st.os.replace = die_on_nth(st.os.replace)
    compose.learn(store, data, n_jobs=1)
    print("finished without being killed")
    """
)

# inside the upsert's transaction; after it (during the fit's bookkeeping); in the head's artifact;
# before its version is renamed into place; before the release, and before CURRENT names it
LEARN_KILL_POINTS = [("commit", 1), ("dump", 1), ("rename", 1), ("replace", 1), ("replace", 2)]


@pytest.mark.parametrize(("point", "nth"), LEARN_KILL_POINTS)
def test_sigkill_during_learn_leaves_the_database_consistent_and_the_previous_release_live(
        tmp_path: Path, tolerant: Path, halves: tuple[Path, Path], point: str, nth: int) -> None:
    store = tmp_path / "store"
    first, more = halves
    compose.train(tolerant, first, store=store, n_jobs=1)
    before = compose.load(store).predict_scores(first)
    proc = subprocess.run([sys.executable, "-c", KILLER, point, str(nth), str(store), str(more)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    model = compose.load(store)
    assert model.release_name == "r0001"
    after = model.predict_scores(first)
    assert all(np.array_equal(before[g], after[g], equal_nan=True) for g in before)
    with SampleStore.open(store / "penguins") as samples:
        counts = samples.counts()
        n_first, n_more = (len(pd.read_csv(f)) for f in (first, more))  # a row is a sample
        assert counts.samples in (n_first, n_first + n_more)  # all of the upsert or none of it
        assert samples.revision in (1, 2)
    report = compose.learn(store, more, n_jobs=1)  # learning again finishes the job
    assert report.changed == ["sex"] and report.release is not None
    assert compose.load(store).release_name == report.release and compose.load(store).version_of("sex") > 1


def test_a_store_written_by_compose_0_1_0_is_seeded_then_learns(tmp_path: Path, penguins_frame: pd.DataFrame,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    fixture = Path(__file__).parents[1] / "fixtures" / "store-0.1.0"
    store = tmp_path / "store"
    shutil.copytree(fixture / "penguins", store / "penguins")
    full = tmp_path / "penguins.csv"
    penguins_frame.drop(columns=["year"]).to_csv(full, index=False)
    code = main(["learn", "--store", str(store), "--data", str(fixture / "rows.csv")])
    assert code == 2 and "compose samples --store" in capsys.readouterr().err
    assert main(["samples", "--store", str(store), "--import", str(full)]) == 0
    capsys.readouterr()
    relabelled = penguins_frame.drop(columns=["year"]).iloc[:40].copy()
    relabelled["sex"] = relabelled["sex"].map({"male": "female", "female": "male"})  # 40 changed annotations
    changed = tmp_path / "changed.csv"
    relabelled[[*MEASURES, "sex"]].to_csv(changed, index=False)
    code = main(["learn", "--store", str(store), "--data", str(changed), "--force"])
    out = capsys.readouterr().out
    assert code == 0, out
    n_changed = int(relabelled["sex"].notna().sum())
    assert f"changed sex {n_changed}" in out and "group sex: training rows" in out  # only sex retrained
    model = compose.load(store)
    assert model.version_of("species") == 2 and model.version_of("island") == 1 and model.version_of("sex") == 2
