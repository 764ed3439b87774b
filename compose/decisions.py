"""Decisions: how a group's scores become its label(s), vectorised over a batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compose.schema import GroupSpec

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Decided:
    """The decision of one group for a batch.

    `chosen` is an index per row (-1 for no label) for multiclass and binary groups, and a 0/1
    matrix for multilabel groups. `confidence` is the score of the chosen label (NaN if none).
    `abstained` marks rows where a label was withheld because its score was too low.
    """

    chosen: np.ndarray
    confidence: np.ndarray
    abstained: np.ndarray


def thresholds_of(spec: GroupSpec, labels: list[str]) -> np.ndarray:
    """The per-label thresholds of a multilabel group."""
    base = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
    return np.array([spec.decision.thresholds.get(label, base) for label in labels])


def decide(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> Decided:
    """Apply the group's decision policy to scores of shape (n_rows, n_labels)."""
    n = scores.shape[0]
    if spec.type == "multilabel":
        chosen = (scores >= thresholds_of(spec, labels)).astype(np.int8)
        return Decided(chosen, np.full(n, np.nan), np.zeros(n, dtype=bool))
    if spec.type == "binary":
        threshold = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
        positive = scores[:, 1] >= threshold
        chosen = positive.astype(np.int64)
        confidence = np.where(positive, scores[:, 1], scores[:, 0])
        return Decided(chosen, confidence, np.zeros(n, dtype=bool))
    best = scores.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confidence = scores[np.arange(n), best] if n else np.zeros(0)
    abstained = np.zeros(n, dtype=bool)
    if spec.decision.min_confidence is not None:
        abstained = confidence < spec.decision.min_confidence
    chosen = np.where(abstained, -1, best)
    return Decided(chosen, confidence, abstained)


def raw_predictions(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> np.ndarray:
    """Predictions without abstaining, for metrics: an index per row, or a 0/1 matrix (multilabel)."""
    if spec.type == "multilabel":
        return (scores >= thresholds_of(spec, labels)).astype(np.int8)
    if spec.type == "binary":
        threshold = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
        return (scores[:, 1] >= threshold).astype(np.int64)
    return scores.argmax(axis=1)
