"""Group heads: one fitted estimator per multiclass or binary group, one per label of a multilabel group.

`fit_estimator` is the unit of work that training runs in parallel; `Head` holds the fitted
estimators of one group and turns features into a score per declared label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.utils import get_tags
from threadpoolctl import threadpool_limits

from compose.errors import TrainingError
from compose.heads.squash import squash
from compose.registry import Registry, resolve
from compose.typing import Matrix


class ConstantProbability:
    """Stands in for a multilabel label whose training rows are all positive or all negative."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def predict_proba(self, X: Matrix) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        p = np.full(X.shape[0], self.value)
        return np.column_stack([1.0 - p, p])


def needs_dense(estimator: Any) -> bool:
    try:
        return not get_tags(estimator).input_tags.sparse
    except (AttributeError, TypeError):  # an estimator outside scikit-learn's tag system
        return False


def _dense_if_needed(estimator: Any, X: Matrix) -> Matrix:  # noqa: N803
    if sp.issparse(X) and needs_dense(estimator):
        return X.toarray()
    return X


def make_estimator(estimator: str | Any, params: dict[str, Any], y: np.ndarray, calibration: str | None = None,
                   *, registry: Registry | None = None, trusted: tuple[str, ...] = ()) -> Any:
    """A new estimator for one fit: `estimator` is a registered name or dotted path (built by
    `registry`), or an unfitted estimator (a template: cloned, then `params` set).

    With `calibration` (`sigmoid` or `isotonic`, the group's setting) it is wrapped in
    CalibratedClassifierCV with up to 5 folds; without it, an estimator that has no predict_proba
    is wrapped in sigmoid calibration with up to 3 folds. A label with fewer than 2 rows among `y`
    leaves no folds to calibrate on: the estimator is then used as it is.
    """
    if isinstance(estimator, str):
        est = resolve(registry).build_estimator(estimator, params, trusted=trusted)
    else:
        est = clone(estimator).set_params(**params) if params else clone(estimator)
    if calibration is None and hasattr(est, "predict_proba"):
        return est
    smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
    if smallest >= 2:
        return CalibratedClassifierCV(est, method=calibration or "sigmoid", cv=min(5 if calibration else 3, smallest))
    return est  # decision_function, squashed in `probabilities`


def fit_estimator(  # noqa: PLR0913 - the unit of parallel work takes every option of one fit
    estimator: str | Any, params: dict[str, Any], X: Matrix, y: np.ndarray, what: str, *,  # noqa: N803
    allow_constant: bool = False, calibration: str | None = None, registry: Registry | None = None,
    trusted: tuple[str, ...] = (),
) -> Any:
    """Fit one estimator on (X, y) with one BLAS thread; the unit that runs in parallel.

    With `allow_constant` (a label of a multilabel group), rows that all agree give a constant.
    `calibration` is the group's setting (`sigmoid`, `isotonic` or None), see `make_estimator`.
    Training ships an unfitted template built from its registry, so a worker resolves no names.
    """
    classes = np.unique(y)
    if len(classes) < 2:
        if allow_constant:
            return ConstantProbability(float(classes[0]) if len(classes) else 0.0)
        raise TrainingError(f"{what}: all {len(y)} labelled training rows have the same label; a head "
                            "needs at least two labels among its rows. Label more rows for the other labels")
    est = make_estimator(estimator, params, y, calibration, registry=registry, trusted=trusted)
    with threadpool_limits(limits=1):
        try:
            est.fit(_dense_if_needed(est, X), y)
        except (ValueError, TypeError, MemoryError) as exc:
            raise TrainingError(f"{what}: the estimator failed to fit: {exc}") from exc
    return est


#: Worker processes cost about a second to start: they pay off only for many rows over several fits.
PARALLEL_MIN_ROWS = 100_000
PARALLEL_MIN_ROWS_PER_FIT = 2_000


def fit_workers(requested: int | None, rows_per_fit: list[int]) -> int:
    """How many joblib workers to fit with: `requested` if given, else all cores (-1) when there
    are several fits over at least PARALLEL_MIN_ROWS rows in all and PARALLEL_MIN_ROWS_PER_FIT
    per fit on average, else 1 (in-process)."""
    if requested is not None:
        return requested
    total = sum(rows_per_fit)
    many = len(rows_per_fit) > 1 and total >= PARALLEL_MIN_ROWS
    return -1 if many and total / len(rows_per_fit) >= PARALLEL_MIN_ROWS_PER_FIT else 1


def probabilities(est: Any, x: Matrix) -> np.ndarray:
    """The probability columns of one fitted estimator (in the order of `class_columns(est)`):
    its `predict_proba`, or its decision function squashed (`compose.heads.squash`)."""
    x = _dense_if_needed(est, x)
    if hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(x), dtype=np.float64)
    return squash(est.decision_function(x))


@dataclass
class Head:
    """The fitted head of one group.

    `estimators_` holds one estimator (multiclass, binary) or one per label (multilabel).
    `classes_[i]` lists, for estimator i, the label index of each of its probability columns.
    """

    group: str
    kind: str
    labels: list[str]
    features: list[str]
    estimators_: list[Any] = field(default_factory=list)
    classes_: list[list[int]] = field(default_factory=list)

    @property
    def source(self) -> str:
        """What answers for this head: `model` (fitted on labelled samples); `zero-shot` for a ZeroShotHead."""
        return "model"

    def scores(self, X: Matrix) -> np.ndarray:  # noqa: N803
        """Scores per declared label, shape (n_rows, n_labels).

        Multiclass: a probability per label (labels never seen in training score 0).
        Binary: [P(negative), P(positive)]. Multilabel: P(label) per label, independently.
        """
        n = X.shape[0]
        out = np.zeros((n, len(self.labels)))
        if n == 0:
            return out
        if self.kind == "multilabel":
            for j, est in enumerate(self.estimators_):
                proba = probabilities(est, X)
                out[:, j] = proba[:, list(self.classes_[j]).index(1)] if 1 in self.classes_[j] else 0.0
            return out
        proba = probabilities(self.estimators_[0], X)
        out[:, self.classes_[0]] = proba
        return out


def class_columns(est: Any) -> list[int]:
    """The label index of each probability column of a fitted estimator."""
    if isinstance(est, ConstantProbability):
        return [0, 1]
    return [int(c) for c in est.classes_]


def assemble_head(group: str, kind: str, labels: list[str], features: list[str], fitted: list[Any]) -> Head:
    head = Head(group, kind, labels, features)
    head.estimators_ = fitted
    head.classes_ = [class_columns(est) for est in fitted]
    return head
