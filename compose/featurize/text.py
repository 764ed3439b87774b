"""`tfidf`: TF-IDF over one or more text inputs, and its exact one-row path.

The batch transform is a Pipeline (`TextJoiner`, `TfidfVectorizer`). The row path computes the same
values from the vectorizer's own analyzer, `vocabulary_` and `idf_`, summing in scikit-learn's
order so the two agree to the last bit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping
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
        self._analyze = _word_analyzer(vec) or vec.build_analyzer()
        self._vocabulary: dict[str, int] = vec.vocabulary_
        self._idf: np.ndarray | None = vec.idf_ if vec.use_idf else None
        self._sublinear, self._binary, self._norm = bool(vec.sublinear_tf), bool(vec.binary), vec.norm
        # 1 + log(count) by numpy's own log (the batch transform's), for the counts a row has
        self._tf: list[float] = (np.log(np.arange(1, _TF_TABLE + 1, dtype=np.float64)) + 1.0).tolist()

    def __getstate__(self) -> dict[str, Any]:  # the analyzer is a local function: rebuilt on load
        return {"columns": self.columns, "vectorizer": self.vectorizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.columns = state["columns"]
        self.vectorizer = state["vectorizer"]
        self._setup()

    def __call__(self, values: Mapping[str, Any]) -> RowFeature:
        text = join_text(values[c] for c in self.columns)
        counts = Counter(map(self._vocabulary.get, self._analyze(text)))
        counts.pop(None, None)  # the terms outside the vocabulary
        columns: list[int] = sorted(counts)  # type: ignore[arg-type]  # None is gone
        indices = np.array(columns, dtype=np.int32)
        data = np.array(self._frequencies(columns, counts), dtype=np.float64)
        if self._idf is not None:
            data *= self._idf[indices]  # one gather from a contiguous array: a cold cache misses less than on floats
        if self._norm is not None and len(data):
            total = 0.0  # summed in the order of scikit-learn's row normalisation, for identical sums
            if self._norm == "l2":
                for v in data.tolist():
                    total += v * v
            else:
                for v in data.tolist():
                    total += abs(v)
            if total != 0.0:
                data /= math.sqrt(total) if self._norm == "l2" else total
        return indices, data

    def _frequencies(self, columns: list[int], counts: Counter[int | None]) -> list[float]:
        """The term frequencies of the row's terms, as the batch transform computes them."""
        if self._binary:
            return [1.0] * len(columns)
        if not self._sublinear:
            return [float(counts[j]) for j in columns]
        tf = self._tf
        if not counts or max(counts.values()) <= len(tf):
            return [tf[counts[j] - 1] for j in columns]
        logs: list[float] = (np.log(np.array([counts[j] for j in columns], dtype=np.float64)) + 1.0).tolist()
        return logs


#: counts up to this have their sublinear term frequency in a table (a row repeating a word more is rare)
_TF_TABLE = 256


def _word_analyzer(vec: TfidfVectorizer) -> Callable[[str], list[str]] | None:
    """The vectorizer's word analyzer for a joined text, its n-grams built by slices rather than one
    join per position: the same terms as `build_analyzer()` (whose counts are all the row path reads).
    None for any other analyzer (a callable, `char`, `char_wb`): then its own."""
    if vec.analyzer != "word" or callable(vec.analyzer):
        return None
    preprocess, tokenize = vec.build_preprocessor(), vec.build_tokenizer()
    stop = vec.get_stop_words()
    min_n, max_n = vec.ngram_range

    def analyze(text: str) -> list[str]:
        words = tokenize(preprocess(text))
        if stop is not None:
            words = [w for w in words if w not in stop]
        terms = list(words) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n, len(words)) + 1):
            terms.extend(map(" ".join, zip(*(words[k:] for k in range(n)), strict=False)))  # shifted copies
        return terms

    return analyze
