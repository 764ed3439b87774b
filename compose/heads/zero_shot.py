"""The zero-shot head: a group with too few labels answers from its label texts (the cold start).

A multiclass or binary group that reads a `type: embedding` feature has a cold start (its
`cold_start:` key, on by default with `min_per_label: 2`): while one of its labels has fewer than
`min_per_label` labelled training samples, training builds a `ZeroShotHead` instead of fitting an
estimator. The head embeds each label's text (its `descriptions:` entry, else its name) with the
group's fitted embedding feature, once, and scores a row by the cosine similarity of its embedding
with every label text, `cold_start.scale` times it through a softmax (the vectors are L2-normalised,
so the similarity is a dot product).

That is a linear model with a softmax: the head keeps it as a multinomial scikit-learn
`LogisticRegression` whose coefficients are the scaled label vectors (zero on the columns of the
group's other features) and whose intercepts are zero. `ZeroShotHead.scores` is then `Head.scores`,
and the fused linear path, ONNX export and the skops format read it like any trained linear head.
Its `source` is `"zero-shot"` (a trained head's is `"model"`), which the results carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from compose.errors import TrainingError
from compose.heads.head import Head
from compose.schema.models import Schema

ZERO_SHOT = "zero-shot"
EMBEDDING = "embedding"


def zero_shot_feature(schema: Schema, group: str) -> str | None:
    """The embedding feature a group's zero-shot head reads (its first `type: embedding` feature), or
    None when the group has no cold start (multilabel, `min_per_label: 0`, or no embedding feature)."""
    spec = schema.groups[group]
    if spec.type == "multilabel" or spec.cold_start.min_per_label == 0:
        return None
    return next((f for f in schema.features_of(group) if schema.features[f].type == EMBEDDING), None)


def label_counts(schema: Schema, group: str, y: np.ndarray) -> dict[str, int]:
    """Labelled samples per label among the label indices `y` (of a multiclass or binary group)."""
    return {label: int((np.asarray(y) == i).sum()) for i, label in enumerate(schema.labels_of(group))}


def answers_zero_shot(schema: Schema, group: str, y_train: np.ndarray) -> bool:
    """Whether a group trained on the label indices `y_train` answers zero-shot: it has a cold start and
    some label has fewer than `cold_start.min_per_label` of them."""
    if zero_shot_feature(schema, group) is None:
        return False
    least = min(label_counts(schema, group, y_train).values())
    return least < schema.groups[group].cold_start.min_per_label


def label_texts(schema: Schema, group: str) -> list[str]:
    """The text of each label: its `descriptions:` entry, else its name."""
    descriptions = schema.groups[group].descriptions
    return [descriptions.get(label, label) for label in schema.labels_of(group)]


@dataclass
class ZeroShotHead(Head):
    """A head that reads the label texts instead of labelled samples (see the module docstring).

    `label_texts` are the texts embedded, `scale` the softmax scale, `feature` the embedding feature.
    """

    label_texts: list[str] = field(default_factory=list)
    scale: float = 15.0
    feature: str = ""

    @property
    def source(self) -> str:
        return ZERO_SHOT


def _embed(transformer: Any, texts: Sequence[str]) -> np.ndarray:
    """The embedding feature's vectors of `texts`, put in its first input column."""
    columns = list(getattr(transformer, "columns", ()))
    if not columns:
        raise TrainingError("the zero-shot head needs a `type: embedding` feature fitted by compose's "
                            "embedding featurizer; declare the feature with type: embedding")
    frame = pd.DataFrame({c: list(texts) if i == 0 else [""] * len(texts) for i, c in enumerate(columns)})
    return np.asarray(transformer.transform(frame), dtype=np.float64)


def zero_shot_head(schema: Schema, group: str, transformers: Mapping[str, Any],
                   widths: Mapping[str, int]) -> ZeroShotHead:
    """The zero-shot head of `group`: its label texts embedded by the group's embedding feature.

    `transformers` and `widths` give every feature of the group, fitted, and its number of columns.
    """
    feature = zero_shot_feature(schema, group)
    if feature is None:
        raise TrainingError(f"group {group!r} has no zero-shot cold start (it needs a multiclass or binary group "
                            "that reads a `type: embedding` feature)")
    spec = schema.groups[group]
    texts = label_texts(schema, group)
    vectors = _embed(transformers[feature], texts)
    empty = [t for t, v in zip(texts, vectors, strict=True) if not np.any(v)]
    if empty:
        raise TrainingError(f"group {group!r}: the label text{'s' * (len(empty) > 1)} {empty} embed to nothing (no "
                            f"known word); give the label a description: groups.{group}.descriptions")
    features = schema.features_of(group)
    offset = sum(widths[f] for f in features[:features.index(feature)])
    coef = np.zeros((len(texts), sum(widths[f] for f in features)))
    coef[:, offset:offset + widths[feature]] = spec.cold_start.scale * vectors
    head = ZeroShotHead(group, spec.type, schema.labels_of(group), features, label_texts=texts,
                        scale=spec.cold_start.scale, feature=feature)
    head.estimators_ = [_linear(coef)]
    head.classes_ = [list(range(len(texts)))]
    return head


def _linear(coef: np.ndarray) -> LogisticRegression:
    """A multinomial LogisticRegression computing softmax(coef @ x): two labels as one sigmoid row."""
    est = LogisticRegression()
    k = coef.shape[0]
    est.classes_ = np.arange(k)
    est.coef_ = coef[1:2] - coef[0:1] if k == 2 else coef
    est.intercept_ = np.zeros(est.coef_.shape[0])
    est.n_features_in_ = coef.shape[1]
    est.n_iter_ = np.zeros(1, dtype=np.int32)
    return est
