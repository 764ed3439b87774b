"""Train, save, load in a fresh process: the same probabilities come back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compose
from compose.schema.load import parse_schema

SCHEMA = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  director: {type: text, required: false}
  cast: {type: text, required: false}
  runtime: {type: number, required: false}
features:
  people: {type: tfidf, inputs: [title, director, cast], params: {min_df: 2, max_features: 2000, ngram_range: [1, 2]}}
  length: {type: tabular, inputs: [runtime]}
groups:
  language:
    type: multiclass
    labels: [English, French, Spanish, Japanese, Italian, Hindi, German, Arabic, other]
    features: [people]
    model: {estimator: logistic_regression, params: {C: 10.0}}
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    model: {estimator: random_forest, params: {n_estimators: 20}}
  genres:
    type: multilabel
    labels: [Drama, Comedy, Romance, Action, Crime, Thriller, Horror, Documentary, Sci-Fi, Fantasy,
             Adventure, Musical, Biography, Mystery, War, Family, Animation, Western, Sport, History, Music]
  mpaa:
    type: multiclass
    labels: [G, PG, PG-13, R, NC-17]
    when: {language: [English]}
"""

FRESH = """
import sys
import numpy as np
import compose
model = compose.load(sys.argv[1])
scores = model.predict_scores(sys.argv[2])
np.savez(sys.argv[3], **scores)
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, movies_csv: Path) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("roundtrip")
    model = compose.train(parse_schema(SCHEMA), movies_csv, store=root / "models", n_jobs=1)
    return root, model.predict_scores(movies_csv)


@pytest.fixture(scope="module")
def fresh(trained: tuple[Path, dict[str, np.ndarray]], movies_csv: Path) -> dict[str, np.ndarray]:
    root, _ = trained
    out = root / "fresh.npz"
    subprocess.run([sys.executable, "-c", FRESH, str(root / "models"), str(movies_csv), str(out)], check=True,
                   capture_output=True, text=True)
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def test_a_fresh_process_predicts_every_group(trained: tuple[Path, dict[str, np.ndarray]],
                                              fresh: dict[str, np.ndarray]) -> None:
    assert sorted(fresh) == sorted(trained[1]) == ["decade", "genres", "language", "mpaa"]


@pytest.mark.parametrize("group", ["language", "decade", "genres", "mpaa"])
def test_a_fresh_process_gives_identical_probabilities(trained: tuple[Path, dict[str, np.ndarray]],
                                                       fresh: dict[str, np.ndarray], group: str) -> None:
    assert np.allclose(fresh[group], trained[1][group], rtol=0, atol=1e-12, equal_nan=True)


def test_a_conditional_head_skips_the_same_rows_in_a_fresh_process(trained: tuple[Path, dict[str, np.ndarray]],
                                                                   fresh: dict[str, np.ndarray]) -> None:
    skipped = np.isnan(fresh["mpaa"]).all(axis=1)
    assert np.array_equal(skipped, np.isnan(trained[1]["mpaa"]).all(axis=1)) and 0 < skipped.sum() < len(skipped)


def test_the_store_loaded_in_process_gives_identical_probabilities(trained: tuple[Path, dict[str, np.ndarray]],
                                                                   movies_csv: Path) -> None:
    root, scores = trained
    again = compose.load(root / "models").predict_scores(movies_csv)
    assert all(np.array_equal(again[g], scores[g], equal_nan=True) for g in scores)
