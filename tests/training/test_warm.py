"""Learning in seconds (issue 26 item 3): warm starts from the live head, conditional groups that
retrain only when their own rows change, on real films (tests/fixtures/movies_sample.csv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.store.samples import SampleStore
from compose.training.run import fit_and_release

INPUTS = ["title", "director", "writer", "cast", "runtime"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, movies_csv: Path, movies_schema_path: Path
            ) -> tuple[Path, compose.Schema, pd.DataFrame]:
    """`language` and `mpaa` (conditional on it) trained on the first 1,000 films."""
    frame = compose.read_table(movies_csv)
    store = tmp_path_factory.mktemp("speed") / "store"
    schema = compose.load_schema(movies_schema_path)
    compose.train_groups(schema, frame.iloc[:1000][[*INPUTS, "language", "mpaa"]].reset_index(drop=True), store,
                         n_jobs=1)
    return store, schema, frame


def _copy(store: Path, tmp_path: Path) -> Path:
    out = tmp_path / "store"
    shutil.copytree(store, out)
    return out


def test_learn_warm_starts_language_and_leaves_mpaa_whose_rows_did_not_change(
        trained: tuple[Path, compose.Schema, pd.DataFrame], tmp_path: Path) -> None:
    base, schema, frame = trained
    store = _copy(base, tmp_path)
    fresh = frame.iloc[1000:1100][[*INPUTS, "language"]]
    fresh = fresh[fresh["language"].notna()].reset_index(drop=True)
    report = compose.learn(store, fresh, n_jobs=1)
    assert list(report.groups) == ["language"]  # the new films have no rating: mpaa's rows are unchanged
    assert "mpaa" in report.unchanged and report.release == "r0002"
    meta = compose.ModelStore(store / "movies").group_meta("language", 2)
    assert meta.warm_start == {"from": 1}
    assert meta.n_train == report.groups["language"].rows_after > report.groups["language"].rows_before  # type: ignore[operator]

    # The same retrain from a cold start: the same rows, the same gate rows, the same optimum (within
    # the solver's tolerance), so the same predictions on the films.
    cold_store = _copy(base, tmp_path / "cold")
    with SampleStore.open(cold_store / "movies", schema=schema) as samples:
        samples.upsert(fresh, schema)
    cold = fit_and_release(schema, None, cold_store, groups=["language"], refit=set(), gate=True, n_jobs=1)
    cold_meta = compose.ModelStore(cold_store / "movies").group_meta("language", 2)
    assert cold_meta.warm_start is None
    assert cold.groups["language"].n_holdout == report.groups["language"].compared_on
    assert cold_meta.holdout_fingerprint == meta.holdout_fingerprint
    assert cold_meta.data_fingerprint == meta.data_fingerprint
    warm_pred = compose.load(store).predict_frame(frame[INPUTS])["language"]
    cold_pred = compose.load(cold_store).predict_frame(frame[INPUTS])["language"]
    assert (warm_pred.to_numpy() == cold_pred.to_numpy()).mean() > 0.99
    warm_acc = report.groups["language"].candidate
    assert warm_acc is not None and abs(warm_acc - cold.groups["language"].metrics["accuracy"]) <= 0.01


def test_a_language_change_on_a_rated_film_retrains_mpaa(
        trained: tuple[Path, compose.Schema, pd.DataFrame], tmp_path: Path) -> None:
    base, schema, _ = trained
    store = _copy(base, tmp_path)
    with SampleStore.open(store / "movies", schema=schema) as samples:
        stored = samples.frame(schema, meta=True)
    rated = stored[(stored["split"] == "train") & stored["mpaa"].notna() & (stored["language"] == "English")]
    change = rated.iloc[:1][["id", *INPUTS]].assign(language="French")  # out of mpaa's `when`
    report = compose.learn(store, change, n_jobs=1)
    assert list(report.groups) == ["language", "mpaa"]
    mpaa = report.groups["mpaa"]
    assert mpaa.rows_before is not None and mpaa.rows_after == mpaa.rows_before - 1
    fitted = compose.ModelStore(store / "movies").load_extra("groups", "mpaa", mpaa.version, "fit")["sids"]
    with SampleStore.open(store / "movies", schema=schema) as samples:
        key = samples.keys([str(change["id"].iloc[0])])
    assert not np.isin(key, fitted).any()
