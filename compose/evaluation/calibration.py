"""Calibration metrics: does a confidence of 0.9 mean "right 9 times in 10"?

Both metrics compare predicted probabilities with what happened, on labelled rows:

- `brier_score`: the mean squared distance between the scores and the truth. Binary groups:
  (P(positive) - y)^2; multiclass groups: the sum over labels of (score - one-hot truth)^2 (0 to 2);
  multilabel groups: (P(label) - y)^2 averaged over every label of every row. Lower is better.
- `expected_calibration_error` (ECE): the scores are put in `n_bins` equal-width bins over [0, 1];
  ECE is the average, weighted by the share of scores in each bin, of |mean score - observed rate|.
  Binary groups compare P(positive) with the positive rate; multiclass groups the confidence of the
  top label with how often it is right (top-label ECE); multilabel groups every P(label) with its
  0/1 truth, pooled over labels. 0 is perfectly calibrated.

Pass only the rows labelled for the group (and, for a conditional group, the rows it ran on):
`calibration_metrics` drops rows whose scores hold NaN, the runtime's mark for "did not run".
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_BINS = 15


def _pairs(kind: str, y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (predicted probability, 0/1 outcome) pairs that ECE bins, flattened."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_true)
    if kind == "binary":
        return scores[:, 1], (y == 1).astype(np.float64)
    if kind == "multilabel":
        ok = ~np.isnan(scores.ravel())
        return scores.ravel()[ok], y.astype(np.float64).ravel()[ok]
    best = scores.argmax(axis=1)
    return scores[np.arange(len(y)), best], (best == y).astype(np.float64)


def brier_score(kind: str, y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """The Brier score of a group's scores (n_rows, n_labels) against its labels; None without rows.

    `y_true` holds a label index per row (multiclass, binary) or a 0/1 matrix (multilabel).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return None
    y = np.asarray(y_true)
    if kind == "binary":
        return float(np.mean((scores[:, 1] - (y == 1)) ** 2))
    if kind == "multilabel":  # unknown cells (NaN scores) are left out
        return float(np.nanmean((scores - y) ** 2))
    truth = np.zeros_like(scores)
    truth[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((scores - truth) ** 2, axis=1)))


def reliability(kind: str, y_true: np.ndarray, scores: np.ndarray, n_bins: int = DEFAULT_BINS) -> list[dict[str, Any]]:
    """The non-empty bins of a reliability diagram: range, count, mean score and observed rate."""
    p, o = _pairs(kind, y_true, scores)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = which == b
        if inside.any():
            out.append({"low": round(float(edges[b]), 4), "high": round(float(edges[b + 1]), 4),
                        "n": int(inside.sum()), "mean_score": float(p[inside].mean()),
                        "observed": float(o[inside].mean())})
    return out


def expected_calibration_error(kind: str, y_true: np.ndarray, scores: np.ndarray,
                               n_bins: int = DEFAULT_BINS) -> float | None:
    """ECE over `n_bins` equal-width bins (see the module docstring for what is compared); None without rows."""
    bins = reliability(kind, y_true, scores, n_bins)
    total = sum(b["n"] for b in bins)
    if total == 0:
        return None
    return float(sum(b["n"] * abs(b["mean_score"] - b["observed"]) for b in bins) / total)


def calibration_metrics(kind: str, y_true: np.ndarray, scores: np.ndarray,
                        n_bins: int = DEFAULT_BINS, known: np.ndarray | None = None) -> dict[str, Any]:
    """Brier score, ECE and the reliability bins of one group, on the rows whose scores are not NaN.

    `known` (multilabel groups with per-label truth): the cells whose truth is unknown are left out
    (their score is treated as not run)."""
    scores = np.asarray(scores, dtype=np.float64)
    if known is not None and kind == "multilabel":
        scores = np.where(known, scores, np.nan)
    if scores.ndim != 2:
        ran = np.zeros(0, dtype=bool)
    elif kind == "multilabel" and known is not None:
        ran = ~np.isnan(scores).all(axis=1)  # unknown cells are NaN; a row counts with its known cells
    else:
        ran = ~np.isnan(scores).any(axis=1)
    y, s = np.asarray(y_true)[ran], scores[ran]
    ece = expected_calibration_error(kind, y, s, n_bins)
    brier = brier_score(kind, y, s)
    return {"brier": None if brier is None else round(brier, 4), "ece": None if ece is None else round(ece, 4),
            "ece_bins": n_bins, "n": int(ran.sum()), "reliability": reliability(kind, y, s, n_bins)}
