"""Decisions: how a group's scores become its label(s), vectorised over a batch.

The `decision` of a group names a `policy` and its parameters:

- multiclass: `argmax` (the default), `min_confidence` (abstain below it), `top_k` (the k best
  labels), `cumulative` (labels in order of confidence until their scores sum to `p`) and `zones`
  (accept at or above `accept`, send to review at or above `review`, reject below). `top_k` and
  `cumulative` may also abstain below `min_confidence`; `cumulative` may cap the set at `k`.
- binary: `threshold` (P(positive) >= threshold gives the positive label; default 0.5).
- multilabel: `threshold` with per-label `thresholds`, then at least `min_labels` (the best ones,
  even below their threshold) and at most `max_labels` (the best ones above their threshold).

A decision tuned by `compose tune` is stored apart from the models, as a version of its own, and
`compose.runtime.load` puts it in place of the schema's when a release pins it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compose.schema.models import GroupSpec

DEFAULT_THRESHOLD = 0.5
_EPS = 1e-9



@dataclass(frozen=True)
class Decided:
    """The decision of one group for a batch.

    `chosen` is an index per row (-1 for no label) for multiclass and binary groups, and a 0/1
    matrix for multilabel groups. `confidence` is the score of the chosen label (NaN if none; for
    a row sent to review or rejected, the score of the best label). `abstained` marks rows where a
    label was withheld because its score was too low (`min_confidence`, or below `review` in zones).
    `selected` (multiclass top_k and cumulative only) is the 0/1 matrix of the whole chosen set;
    `chosen` stays its best label. `review` (zones only) marks rows sent to review.
    """

    chosen: np.ndarray
    confidence: np.ndarray
    abstained: np.ndarray
    selected: np.ndarray | None = None
    review: np.ndarray | None = None


def thresholds_of(spec: GroupSpec, labels: list[str]) -> np.ndarray:
    """The per-label thresholds of a multilabel group."""
    base = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
    return np.array([spec.decision.thresholds.get(label, base) for label in labels], dtype=np.float64)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """The rank of each score in its row, 0 for the highest (ties: the first label first)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks


def _multilabel(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> np.ndarray:
    d = spec.decision
    above = scores >= thresholds_of(spec, labels)
    if d.max_labels is not None:
        above &= _ranks(np.where(above, scores, -np.inf)) < d.max_labels
    if d.min_labels:
        above |= _ranks(scores) < d.min_labels
    return above.astype(np.int8)


def _top_set(scores: np.ndarray, policy: str, k: int | None, p: float | None) -> np.ndarray:
    """The 0/1 matrix of the labels a top_k or cumulative policy takes (labels scoring 0 never)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=1)
    take = ordered > 0
    if k is not None:
        take &= np.arange(scores.shape[1])[None, :] < k
    if policy == "cumulative" and p is not None:
        before = np.cumsum(ordered, axis=1) - ordered  # the sum of the labels taken before this one
        take &= before < p - _EPS
    out = np.zeros(scores.shape, dtype=np.int8)
    np.put_along_axis(out, order, take.astype(np.int8), axis=1)
    return out


def decide(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> Decided:
    """Apply the group's decision policy to scores of shape (n_rows, n_labels)."""
    n = scores.shape[0]
    d = spec.decision
    if spec.type == "multilabel":
        return Decided(_multilabel(spec, labels, scores), np.full(n, np.nan), np.zeros(n, dtype=bool))
    if spec.type == "binary":
        threshold = d.threshold if d.threshold is not None else DEFAULT_THRESHOLD
        positive = scores[:, 1] >= threshold
        confidence = np.where(positive, scores[:, 1], scores[:, 0])
        return Decided(positive.astype(np.int64), confidence, np.zeros(n, dtype=bool))
    best = scores.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confidence = scores[np.arange(n), best] if n else np.zeros(0)
    policy = d.policy_of("multiclass")
    if policy == "zones":
        accept = d.accept if d.accept is not None else 0.0
        review_at = d.review if d.review is not None else accept
        accepted = confidence >= accept
        review = ~accepted & (confidence >= review_at)
        return Decided(np.where(accepted, best, -1), confidence, ~accepted & ~review, review=review)
    abstained = np.zeros(n, dtype=bool)
    if d.min_confidence is not None and policy != "argmax":
        abstained = confidence < d.min_confidence
    chosen = np.where(abstained, -1, best)
    selected = None
    if policy in ("top_k", "cumulative"):
        selected = _top_set(scores, policy, d.k, d.p) * ~abstained[:, None]
    return Decided(chosen, confidence, abstained, selected=selected)


def raw_predictions(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> np.ndarray:
    """Predictions without abstaining, for metrics: an index per row, or a 0/1 matrix (multilabel)."""
    if spec.type == "multilabel":
        return _multilabel(spec, labels, scores)
    if spec.type == "binary":
        threshold = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
        return (scores[:, 1] >= threshold).astype(np.int64)
    return np.asarray(scores.argmax(axis=1))


# --------------------------------------------------------------------------------------------------
# Explained outcomes


def explain(spec: GroupSpec, labels: list[str], scores: np.ndarray, decided: Decided, r: int) -> tuple[str, str | None]:
    """The outcome of row r (`labelled`, `abstained`, `review`, `rejected`, `below_threshold`) and,
    when no label was given, why in one sentence (the words of `explain_rows`)."""
    if spec.type == "multilabel":
        if decided.chosen[r].any():
            return "labelled", None
        return "below_threshold", explain_rows(spec, labels, scores, decided, np.array([r]))[0]
    if int(decided.chosen[r]) >= 0:
        return "labelled", None
    if decided.review is not None and decided.review[r]:
        outcome = "review"
    else:
        outcome = "rejected" if spec.decision.policy_of(spec.type) == "zones" else "abstained"
    return outcome, explain_rows(spec, labels, scores, decided, np.array([r]))[0]


def below_threshold(label: str, score: float, threshold: float) -> str:
    """Why a multilabel row got no label: the label closest to its threshold, and by how much."""
    return f"no label reached its threshold; the closest is {label!r} with {score:.2f} < {threshold:g}"


def below_min_confidence(label: str, confidence: float, minimum: float) -> str:
    """Why a row abstained: the best label's confidence under `min_confidence`."""
    return f"confidence {confidence:.2f} of {label!r} is below min_confidence {minimum:g}"


def explain_rows(spec: GroupSpec, labels: list[str], scores: np.ndarray, decided: Decided,
                 rows: np.ndarray) -> list[str]:
    """Why each of `rows` (rows that got no label) got none, in one sentence, computed for all of
    them at once: the closest label to its threshold (multilabel), or the best label's confidence
    against `accept`/`review` (zones) or `min_confidence`."""
    if len(rows) == 0:
        return []
    s = scores[rows]
    at = np.arange(len(rows))
    names = [repr(label) for label in labels]
    if spec.type == "multilabel":
        th = thresholds_of(spec, labels)
        closest = np.argmax(s - th, axis=1)
        cut = th.tolist()
        return [below_threshold(labels[j], x, cut[j])
                for j, x in zip(closest.tolist(), s[at, closest].tolist(), strict=True)]
    d = spec.decision
    best = np.argmax(s, axis=1)
    confidence = s[at, best].tolist()
    if d.policy_of(spec.type) != "zones":
        minimum = d.min_confidence if d.min_confidence is not None else 0.0
        return [below_min_confidence(labels[j], c, minimum) for j, c in zip(best.tolist(), confidence, strict=True)]
    review = np.zeros(len(rows), dtype=bool) if decided.review is None else np.asarray(decided.review)[rows]
    return [(f"sent to review: confidence {c:.2f} of {names[j]} is below accept {d.accept:g} and at or above "
             f"review {d.review:g}") if sent
            else f"rejected: confidence {c:.2f} of {names[j]} is below review {d.review:g}"
            for j, c, sent in zip(best.tolist(), confidence, review.tolist(), strict=True)]
