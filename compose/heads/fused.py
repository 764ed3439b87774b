"""Fused linear heads: every linear head of a release scored with one matrix product per feature.

At load time each head whose estimators are linear (logistic regression, SGD with log loss, ridge
and linear SVM, bare or inside sigmoid `CalibratedClassifierCV`) is compiled into columns of one
stacked weight matrix per feature, plus a small program that turns its columns into the same
probabilities as its own `predict_proba` (softmax, sigmoid, one-vs-rest normalisation or Platt
calibration averaged over folds). Prediction is then `bias + sum_f X_f @ W_f` and a few vectorised
numpy operations per group. A head that cannot be reproduced exactly is not fused: the runtime
falls back to `Head.scores` for it.

The features are produced by the release's own featurizers from inputs validated once by
`compose.data.targets.prepare_inputs`, so scikit-learn's per-call validation is not repeated here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import (
    LogisticRegression,
    LogisticRegressionCV,
    RidgeClassifier,
    RidgeClassifierCV,
    SGDClassifier,
)
from sklearn.svm import LinearSVC

from compose.heads.head import ConstantProbability, Head
from compose.heads.squash import sigmoid, softmax, two_columns
from compose.typing import Matrix

#: Linear classifiers whose decision function is exactly `X @ coef_.T + intercept_`.
LINEAR_TYPES: tuple[type[Any], ...] = (
    LogisticRegression, LogisticRegressionCV, SGDClassifier, RidgeClassifier, RidgeClassifierCV, LinearSVC,
)


@dataclass
class _Columns:
    """Columns allocated in the stacked weight matrix: weights (n_features, k) and intercepts (k,)."""

    weights: list[np.ndarray] = field(default_factory=list)
    bias: list[np.ndarray] = field(default_factory=list)
    n: int = 0

    def add(self, est: Any) -> np.ndarray:
        coef = est.coef_.toarray() if sp.issparse(est.coef_) else np.asarray(est.coef_)
        coef = np.atleast_2d(coef).astype(np.float64, copy=False)
        k = coef.shape[0]
        intercept = np.broadcast_to(np.asarray(est.intercept_, dtype=np.float64).ravel(), (k,))
        self.weights.append(coef.T)
        self.bias.append(np.array(intercept))
        cols = np.arange(self.n, self.n + k)
        self.n += k
        return cols


@dataclass(frozen=True)
class Linear:
    """One linear estimator: `sigmoid` (binary), `softmax` (multinomial) or `ovr` (normalised sigmoids)."""

    how: str
    cols: np.ndarray

    def proba(self, z: np.ndarray) -> np.ndarray:
        d = z[:, self.cols]
        if self.how == "sigmoid":
            return two_columns(sigmoid(d[:, 0]))
        if self.how == "softmax":
            return softmax(d)
        p = sigmoid(d)  # one-vs-rest, normalised as LinearClassifierMixin._predict_proba_lr does
        total = p.sum(axis=1)
        zero = total == 0
        if zero.any():
            p[zero, :] = 1.0
            total[zero] = p.shape[1]
        return np.asarray(p / total[:, None])


@dataclass(frozen=True)
class _Fold:
    cols: np.ndarray
    a: np.ndarray
    b: np.ndarray
    positions: np.ndarray


@dataclass(frozen=True)
class _Calibrated:
    """Sigmoid `CalibratedClassifierCV` over linear estimators: Platt per fold and class, then the mean."""

    folds: tuple[_Fold, ...]
    n_classes: int

    def proba(self, z: np.ndarray) -> np.ndarray:
        n = z.shape[0]
        mean = np.zeros((n, self.n_classes))
        for fold in self.folds:
            p = np.zeros((n, self.n_classes))
            p[:, fold.positions] = sigmoid(-(fold.a * z[:, fold.cols] + fold.b))
            if self.n_classes == 2:
                p[:, 0] = 1.0 - p[:, 1]
            else:
                denominator = p.sum(axis=1)[:, None]
                p = np.divide(p, denominator, out=np.full_like(p, 1 / self.n_classes), where=denominator != 0)
            p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
            mean += p
        mean /= len(self.folds)
        return mean


@dataclass(frozen=True)
class _Constant:
    value: float

    def proba(self, z: np.ndarray) -> np.ndarray:
        return two_columns(np.full(z.shape[0], self.value))


_Program = Linear | _Calibrated | _Constant


def _linear_estimator(est: Any) -> bool:
    return type(est) in LINEAR_TYPES and hasattr(est, "coef_") and hasattr(est, "intercept_")


def _compile(est: Any, columns: _Columns) -> _Program | None:  # noqa: PLR0911 - one return per estimator kind
    """The program reproducing `heads._proba(est, X)` from fused columns, or None if not exact."""
    if isinstance(est, ConstantProbability):
        return _Constant(est.value)
    if type(est) is CalibratedClassifierCV:
        return _compile_calibrated(est, columns)
    if not _linear_estimator(est):
        return None
    binary = len(est.classes_) == 2
    if hasattr(est, "predict_proba"):
        if isinstance(est, LogisticRegression):
            if getattr(est, "multi_class", "auto") not in ("auto", "deprecated", "multinomial") and not binary:
                return None  # the legacy one-vs-rest mode: not reproduced, falls back
            return Linear("sigmoid" if binary else "softmax", columns.add(est))
        if isinstance(est, SGDClassifier) and est.loss == "log_loss":
            return Linear("sigmoid" if binary else "ovr", columns.add(est))
        return None  # e.g. SGD with modified_huber
    # No predict_proba: compose squashes the decision function (compose.heads.squash).
    return Linear("sigmoid" if binary else "softmax", columns.add(est))


def _compile_calibrated(est: CalibratedClassifierCV, columns: _Columns) -> _Calibrated | None:
    if est.method != "sigmoid":
        return None
    folds: list[_Fold] = []
    for cc in est.calibrated_classifiers_:
        inner = cc.estimator
        if not _linear_estimator(inner) or len(cc.classes) != len(est.classes_):
            return None
        n_classes = len(cc.classes)
        positions = np.searchsorted(cc.classes, inner.classes_)
        if n_classes == 2:
            positions = np.array([1])
        if len(cc.calibrators) != len(positions):
            return None
        a = np.array([float(c.a_) for c in cc.calibrators])
        b = np.array([float(c.b_) for c in cc.calibrators])
        folds.append(_Fold(columns.add(inner), a, b, positions))
    return _Calibrated(tuple(folds), len(est.classes_))


@dataclass(frozen=True)
class HeadProgram:
    """How one fused head turns the fused logits into its scores (n_rows, n_labels), as Head.scores does."""

    group: str
    kind: str
    n_labels: int
    programs: tuple[_Program, ...]
    classes: tuple[tuple[int, ...], ...]
    sigmoid_labels: np.ndarray  # multilabel: the labels served by one vectorised sigmoid
    sigmoid_cols: np.ndarray

    def scores(self, z: np.ndarray) -> np.ndarray:
        n = z.shape[0]
        out = np.zeros((n, self.n_labels))
        if self.kind != "multilabel":
            out[:, list(self.classes[0])] = self.programs[0].proba(z)
            return out
        if len(self.sigmoid_cols):
            out[:, self.sigmoid_labels] = sigmoid(z[:, self.sigmoid_cols])
        done = set(self.sigmoid_labels.tolist())
        for j, (program, classes) in enumerate(zip(self.programs, self.classes, strict=True)):
            if j in done:
                continue
            out[:, j] = program.proba(z)[:, classes.index(1)] if 1 in classes else 0.0
        return out


@dataclass(frozen=True)
class FeatureWeights:
    """The stacked weights of one feature: rows are its columns, `cols` the fused columns they feed."""

    weights: np.ndarray
    cols: np.ndarray
    all_columns: bool


class FusedHeads:
    """The fused linear heads of a release: `groups` lists the heads served by the fused path."""

    def __init__(self, bias: np.ndarray, weights: dict[str, FeatureWeights], programs: dict[str, HeadProgram]) -> None:
        self.bias = bias
        self.weights = weights
        self.programs = programs

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.programs)

    @property
    def n_columns(self) -> int:
        return int(self.bias.shape[0])

    def __repr__(self) -> str:
        return f"FusedHeads(groups={list(self.groups)}, columns={self.n_columns}, features={list(self.weights)})"

    def logits(self, blocks: Mapping[str, Matrix]) -> np.ndarray:
        """`bias + sum_f X_f @ W_f` for a batch, shape (n_rows, n_columns)."""
        n = next(iter(blocks.values())).shape[0] if blocks else 0
        z = np.empty((n, self.n_columns))
        z[:] = self.bias
        for f, fw in self.weights.items():
            part = np.asarray(blocks[f] @ fw.weights)
            if fw.all_columns:
                z += part
            else:
                z[:, fw.cols] += part
        return z

    def logits_row(self, row: Mapping[str, Any]) -> np.ndarray:
        """The logits of one row whose features are `(indices, values)` (sparse) or a 1-d array (dense)."""
        z = self.bias.copy()
        for f, fw in self.weights.items():
            x = row[f]
            part = x[1] @ fw.weights[x[0]] if isinstance(x, tuple) else x @ fw.weights
            if fw.all_columns:
                z += part
            else:
                z[fw.cols] += part
        return z

    def scores(self, group: str, z: np.ndarray) -> np.ndarray:
        return self.programs[group].scores(z)


def _head_program(head: Head, columns: _Columns) -> HeadProgram | None:
    programs: list[_Program] = []
    for est in head.estimators_:
        program = _compile(est, columns)
        if program is None:
            return None
        programs.append(program)
    classes = tuple(tuple(int(c) for c in cl) for cl in head.classes_)
    sig_labels: list[int] = []
    sig_cols: list[int] = []
    if head.kind == "multilabel":
        for j, (program, cl) in enumerate(zip(programs, classes, strict=True)):
            if isinstance(program, Linear) and program.how == "sigmoid" and cl == (0, 1):
                sig_labels.append(j)
                sig_cols.append(int(program.cols[0]))
    return HeadProgram(head.group, head.kind, len(head.labels), tuple(programs), classes,
                       np.array(sig_labels, dtype=np.intp), np.array(sig_cols, dtype=np.intp))


def fuse_heads(heads: Mapping[str, Head], widths: Mapping[str, int]) -> FusedHeads:
    """Compile every head that can be reproduced exactly into one set of stacked weights per feature.

    `widths` gives the number of columns of each feature; a head whose coefficients do not match
    the width of its features is left to its own `scores`.
    """
    columns = _Columns()
    programs: dict[str, HeadProgram] = {}
    owners: list[tuple[Sequence[str], int, int]] = []  # (features, first block, end block) per fused head
    for group, head in heads.items():
        if any(f not in widths for f in head.features):
            continue
        n_cols, n_blocks = columns.n, len(columns.weights)
        program = _head_program(head, columns)
        expected = sum(widths[f] for f in head.features)
        if program is None or any(w.shape[0] != expected for w in columns.weights[n_blocks:]):
            del columns.weights[n_blocks:], columns.bias[n_blocks:]
            columns.n = n_cols
            continue
        programs[group] = program
        owners.append((head.features, n_blocks, len(columns.weights)))
    if not programs:
        return FusedHeads(np.zeros(0), {}, {})
    first = np.cumsum([0] + [w.shape[1] for w in columns.weights])
    per_feature: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for features, b0, b1 in owners:
        offset = 0
        for f in features:
            parts, cols = per_feature.setdefault(f, ([], []))
            for b in range(b0, b1):
                parts.append(columns.weights[b][offset:offset + widths[f]])
                cols.append(np.arange(first[b], first[b + 1]))
            offset += widths[f]
    weights: dict[str, FeatureWeights] = {}
    for f, (parts, cols) in per_feature.items():
        idx = np.concatenate(cols)
        w = np.ascontiguousarray(np.hstack(parts), dtype=np.float64)
        weights[f] = FeatureWeights(w, idx, bool(len(idx) == columns.n and (idx == np.arange(columns.n)).all()))
    return FusedHeads(np.concatenate(columns.bias), weights, programs)
