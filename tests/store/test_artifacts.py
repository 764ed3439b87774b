"""compose.store.artifacts: a joblib artifact is the C pickler's stream deflated as joblib's zlib
compressor deflates it, so `joblib.load` reads it, and files `joblib.dump` wrote still load."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from compose.store import artifacts

TEXTS = ["the red shirt", "a blue shirt", "red shoes on sale", "blue wool hat", "the red hat"]


def _objects() -> dict[str, object]:
    big = np.random.default_rng(0).normal(size=(300, 400))  # several pickle frames, as a head's coefficients
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
    obj = _objects()
    artifacts.dump(obj, tmp_path / "ours.joblib", "joblib")
    joblib.dump(obj, tmp_path / "theirs.joblib", compress=3)
    ours, theirs = (tmp_path / "ours.joblib").stat().st_size, (tmp_path / "theirs.joblib").stat().st_size
    assert ours <= 1.05 * theirs


def test_files_joblib_wrote_still_load(tmp_path: Path) -> None:
    obj = _objects()
    for compress in (0, 3):
        path = tmp_path / f"old-{compress}.joblib"
        joblib.dump(obj, path, compress=compress)
        back = artifacts.load(path, "joblib", None, what="the test")
        np.testing.assert_array_equal(back["big"], obj["big"])
        assert back["vectorizer"].vocabulary_ == obj["vectorizer"].vocabulary_
