"""Probability squashing: how a decision function becomes probabilities, in one place.

Estimators without `predict_proba` (ridge, linear SVM, SGD with hinge loss) are squashed here, by
the heads at prediction time, by the fused linear path and by the monolithic baseline alike, so
the three cannot disagree.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise (no overflow warning for large |z|)."""
    return np.asarray(expit(z), dtype=np.float64)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-D array of scores."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def two_columns(p: np.ndarray) -> np.ndarray:
    """[P(negative), P(positive)] from P(positive)."""
    return np.column_stack([1.0 - p, p])


def squash(decision: np.ndarray) -> np.ndarray:
    """Probability columns from a decision function: a sigmoid for one column, a softmax for several."""
    d = np.asarray(decision, dtype=np.float64)
    return two_columns(sigmoid(d)) if d.ndim == 1 else softmax(d)
