"""`tfidf`: TF-IDF over one or more text inputs, and its exact one-row path.

The batch transform is a Pipeline (`TextJoiner`, `TfidfVectorizer`). The row path computes the same
values from the vectorizer's own analyzer, `vocabulary_` and `idf_`, summing in scikit-learn's
order so the two agree to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from compose.featurize.base import FeaturizerBase, RowFeature, TextJoiner, join_text
from compose.schema.models import FeatureSpec, Schema


class TfidfFeaturizer(FeaturizerBase):
    """TF-IDF of the text inputs joined by spaces; `params` are TfidfVectorizer's (sublinear_tf by default)."""

    accepts = frozenset({"text"})
    fit_hint = ("The text columns hold no usable words in the training rows, or `params` (for example "
                "min_df / max_df) keep none: fill the columns or loosen the params.")

    def param_names(self) -> Collection[str]:
        return sorted(TfidfVectorizer().get_params())

    def build(self, spec: FeatureSpec, schema: Schema) -> Pipeline:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.params.items()}
        params.setdefault("sublinear_tf", True)
        params.setdefault("dtype", np.float64)
        return Pipeline([("join", TextJoiner(tuple(spec.inputs))), ("tfidf", TfidfVectorizer(**params))])

    def width(self, fitted: Any) -> int:
        return len(fitted[-1].vocabulary_)  # the vocabulary size, without building feature names

    def row_path(self, fitted: Any, schema: Schema) -> TfidfRow | None:
        return TfidfRow.compile(fitted)


class TfidfRow:
    """The TF-IDF of one prepared row as `(indices, values)`, the values `Pipeline.transform` gives."""

    kind = "tfidf"

    def __init__(self, columns: tuple[str, ...], vectorizer: TfidfVectorizer) -> None:
        self.columns = columns
        self.vectorizer = vectorizer
        self._setup()

    @classmethod
    def compile(cls, pipeline: Any) -> TfidfRow | None:
        """The row path of a fitted (TextJoiner, TfidfVectorizer) pipeline; None for any other shape."""
        if (not isinstance(pipeline, Pipeline) or len(pipeline) != 2 or type(pipeline[0]) is not TextJoiner
                or type(pipeline[-1]) is not TfidfVectorizer):
            return None
        vec: TfidfVectorizer = pipeline[-1]
        if vec.input != "content" or np.dtype(vec.dtype) != np.float64 or vec.norm not in ("l1", "l2", None):
            return None
        return cls(tuple(pipeline[0].columns), vec)

    def _setup(self) -> None:
        vec = self.vectorizer
        self._analyze = vec.build_analyzer()
        self._vocabulary: dict[str, int] = vec.vocabulary_
        self._idf = vec.idf_ if vec.use_idf else None
        self._sublinear, self._binary, self._norm = bool(vec.sublinear_tf), bool(vec.binary), vec.norm

    def __getstate__(self) -> dict[str, Any]:  # the analyzer is a local function: rebuilt on load
        return {"columns": self.columns, "vectorizer": self.vectorizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.columns = state["columns"]
        self.vectorizer = state["vectorizer"]
        self._setup()

    def __call__(self, values: Mapping[str, Any]) -> RowFeature:
        text = join_text(values[c] for c in self.columns)
        counts: dict[int, int] = {}
        for token in self._analyze(text):
            j = self._vocabulary.get(token)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        indices = np.fromiter(sorted(counts), dtype=np.int32, count=len(counts))
        data = (np.ones(len(counts)) if self._binary
                else np.array([counts[j] for j in indices.tolist()], dtype=np.float64))
        if self._sublinear:
            np.log(data, data)
            data += 1.0
        if self._idf is not None:
            data *= self._idf[indices]
        norm = self._norm
        if norm is not None and len(data):
            total = 0.0
            for v in data.tolist():  # the order of scikit-learn's row normalisation, for identical sums
                total += v * v if norm == "l2" else abs(v)
            if total != 0.0:
                data /= math.sqrt(total) if norm == "l2" else total
        return indices, data
