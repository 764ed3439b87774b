"""`tfidf`'s one-row path gives the very floats of the batch transform, for every setting it takes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from compose.data.io import read_table
from compose.featurize.base import TextJoiner
from compose.featurize.text import TfidfRow

COLUMNS = ("title", "director", "cast")


@pytest.fixture(scope="module")
def films(movies_csv: Path) -> pd.DataFrame:
    frame = read_table(movies_csv)
    frame = frame.astype(dict.fromkeys(COLUMNS, object)).where(frame.notna(), None)
    odd = pd.DataFrame([{"title": "Tora! " * 300, "director": None, "cast": "Tora Tora"},  # counts past the table
                        {"title": "", "director": None, "cast": None},  # no terms at all
                        {"title": "Le Château d'Été", "director": "Agnès Varda", "cast": "the the the a"}])
    return pd.concat([frame[list(COLUMNS)], odd], ignore_index=True)


@pytest.mark.parametrize("params", [
    {"sublinear_tf": True},
    {"sublinear_tf": True, "ngram_range": (1, 2), "min_df": 2},
    {"ngram_range": (2, 3)},
    {"ngram_range": (1, 1), "stop_words": "english", "norm": "l1"},
    {"binary": True, "use_idf": False, "norm": None},
    {"sublinear_tf": True, "lowercase": False, "token_pattern": r"(?u)\b\w+\b", "ngram_range": (1, 3)},
    {"analyzer": "char_wb", "ngram_range": (2, 3)},  # not a word analyzer: the vectorizer's own
])
def test_the_row_path_gives_the_floats_of_the_batch_transform(films: pd.DataFrame, params: dict[str, Any]) -> None:
    pipeline = Pipeline([("join", TextJoiner(COLUMNS)), ("tfidf", TfidfVectorizer(dtype=np.float64, **params))])
    matrix = pipeline.fit(films).transform(films).tocsr()
    row = TfidfRow.compile(pipeline)
    assert row is not None
    for i, values in enumerate(films.to_dict("records")):
        indices, data = row(values)
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        order = np.argsort(matrix.indices[start:end])
        assert indices.dtype == np.int32 and data.dtype == np.float64
        assert np.array_equal(indices, matrix.indices[start:end][order]), i
        assert np.array_equal(data, matrix.data[start:end][order]), i  # identical, not merely close
