"""compose.store.artifacts: a joblib artifact is the C pickler's stream, deflated as joblib's zlib
compressor deflates it (or as it is, when it does not compress), so `joblib.load` reads it, and
files `joblib.dump` wrote still load."""

from __future__ import annotations

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from compose.store import artifacts

TEXTS = ["the red shirt", "a blue shirt", "red shoes on sale", "blue wool hat", "the red hat"]


def _objects() -> dict[str, object]:
    big = np.tile(np.random.default_rng(0).normal(size=(3, 400)), (100, 1))  # 960 kB that compress
    return {"vectorizer": TfidfVectorizer(ngram_range=(1, 2)).fit(TEXTS), "big": big,
            "frame": pd.DataFrame({"title": TEXTS, "n": np.arange(5.0)}), "ints": np.arange(10, dtype=np.int64)}


def test_a_joblib_artifact_loads_with_joblib_and_compose_alike(tmp_path: Path) -> None:
    obj = _objects()
    path = tmp_path / "model.joblib"
    assert artifacts.dump(obj, path, "joblib") is None
    assert path.read_bytes()[:1] == b"\x78"  # a zlib stream: joblib detects its compressor by this byte
    for back in (joblib.load(path), artifacts.load(path, "joblib", None, what="the test")):
        assert isinstance(back, dict) and set(back) == set(obj)
        np.testing.assert_array_equal(back["big"], obj["big"])
        np.testing.assert_array_equal(back["ints"], obj["ints"])
        pd.testing.assert_frame_equal(back["frame"], obj["frame"])
        assert back["vectorizer"].vocabulary_ == obj["vectorizer"].vocabulary_
        assert (back["vectorizer"].transform(TEXTS) != obj["vectorizer"].transform(TEXTS)).nnz == 0
        assert sparse.issparse(back["vectorizer"].transform(TEXTS))


def test_the_artifact_is_as_small_as_joblibs_own(tmp_path: Path) -> None:
    obj = {"vectorizer": TfidfVectorizer().fit([f"title {i} of film {i % 97}" for i in range(20_000)]),
           "ids": np.arange(200_000, dtype=np.int64)}
    artifacts.dump(obj, tmp_path / "ours.joblib", "joblib")
    joblib.dump(obj, tmp_path / "theirs.joblib", compress=3)
    ours, theirs = (tmp_path / "ours.joblib").stat().st_size, (tmp_path / "theirs.joblib").stat().st_size
    assert ours <= 1.05 * theirs
    assert ours < 0.5 * len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


@pytest.mark.parametrize("rows", [10, 2_000])  # under and over the bytes probed before the choice
def test_a_pickle_that_does_not_compress_is_written_as_it_is(tmp_path: Path, rows: int) -> None:
    """Dense coefficients: zlib saves a few percent for most of a training run's write time."""
    coefficients = np.random.default_rng(1).normal(size=(rows, 300))
    path = tmp_path / "head.joblib"
    artifacts.dump({"coef": coefficients}, path, "joblib")
    assert path.read_bytes()[:1] == b"\x80"  # a pickle's first opcode (PROTO), not a zlib stream
    assert path.stat().st_size == len(pickle.dumps({"coef": coefficients}, protocol=pickle.HIGHEST_PROTOCOL))
    np.testing.assert_array_equal(joblib.load(path)["coef"], coefficients)
    np.testing.assert_array_equal(artifacts.load(path, "joblib", None, what="the test")["coef"], coefficients)


def test_files_joblib_wrote_still_load(tmp_path: Path) -> None:
    obj = _objects()
    for compress in (0, 3):
        path = tmp_path / f"old-{compress}.joblib"
        joblib.dump(obj, path, compress=compress)
        back = artifacts.load(path, "joblib", None, what="the test")
        np.testing.assert_array_equal(back["big"], obj["big"])
        assert back["vectorizer"].vocabulary_ == obj["vectorizer"].vocabulary_
