"""`model: auto`: a seeded, budgeted search over a small portfolio of scikit-learn estimators.

The portfolio fits the group's features: logistic regression and a calibrated linear SVM always;
complement naive Bayes when the features are sparse and non-negative (TF-IDF); HistGradientBoosting
and a random forest when they are dense (tabular, histograms, embeddings). Each family has a small
grid whose first point is compose's default for it.

The search scores every candidate by k-fold cross-validation on the rows it is given (the group's
TRAINING rows: the holdout never reaches this module), with the same folds for every candidate, on
the pooled out-of-fold predictions and the group's gate metric, so scores are comparable across
families. It runs in two phases:

1. the default of every family, cheapest first (so the default head, logistic regression, is
   always trial 1 and the winner scores at least as well as it in cross-validation);
2. the other grid points of the families whose default came within `KEEP_WITHIN` of the best,
   round-robin, best family first, each family's points in a seeded random order.

The best score wins, unless it beats the default head's by no more than one standard error of
that score (sqrt(s (1 - s) / n) on n rows): then the default head stays, since on a few hundred rows
the search's best is often the luckiest candidate, not the best one.

The budget is wall-clock seconds measured by an injectable clock. A candidate is started only
when its family's last fold time says its folds fit in what is left; a fold is waited for only
until the budget ends, and a trial whose folds do not fit stops (recorded as `over budget`, never
scored on part of its folds). So the search ends within its budget; the winner's final fit comes
after it. The order of candidates depends
only on the seed and on the scores, so a run with `max_trials` is identical on any machine; with a
budget alone, a faster machine may complete more of the same sequence.

A multilabel group is searched once for all its labels: a candidate is one estimator family and
parameter point used for every label, scored by micro-F1 (or the group's gate metric) over all
labels. This keeps the budget per group, not per label.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import KFold, StratifiedKFold

from compose.errors import TrainingError
from compose.heads.decide import raw_predictions
from compose.heads.head import assemble_head, fit_estimator
from compose.metrics import gate_metric_name, group_metrics
from compose.registry import AUTO, AUTO_CANDIDATES, Registry, resolve
from compose.schema.models import GroupSpec

__all__ = ["AUTO", "DEFAULT_BUDGET_S", "PORTFOLIO", "SearchResult", "Trial", "portfolio_for", "search"]

DEFAULT_BUDGET_S = 60.0
#: Families whose default scores this far below the best default get no further trials.
KEEP_WITHIN = 0.05

#: Per family: its grid. The first value of every parameter is the family's default point
#: (compose's defaults from `compose.registry`), tried in phase 1 with no parameters set.
PORTFOLIO: dict[str, dict[str, list[Any]]] = {
    "logistic_regression": {"C": [1.0, 0.1, 0.3, 3.0, 10.0, 30.0, 100.0], "class_weight": [None, "balanced"]},
    "complement_nb": {"alpha": [1.0, 0.03, 0.1, 0.3, 3.0]},
    "linear_svc": {"C": [1.0, 0.03, 0.1, 0.3, 3.0, 10.0], "class_weight": [None, "balanced"]},
    "hist_gradient_boosting": {"learning_rate": [0.1, 0.05, 0.2], "max_leaf_nodes": [31, 15, 63],
                               "min_samples_leaf": [20, 5, 50], "l2_regularization": [0.0, 1.0]},
    "random_forest": {"min_samples_leaf": [1, 2, 5], "max_features": ["sqrt", 0.3, 0.6]},
}
#: Cheapest first: the order of phase 1.
_COST_ORDER = list(AUTO_CANDIDATES)
assert sorted(PORTFOLIO) == sorted(AUTO_CANDIDATES)
SPARSE_FAMILIES = ("logistic_regression", "complement_nb", "linear_svc")
DENSE_FAMILIES = ("logistic_regression", "linear_svc", "hist_gradient_boosting", "random_forest")

Clock = Callable[[], float]


@dataclass
class Trial:
    """One candidate of a search: what was tried, its cross-validated score, its seconds."""

    estimator: str
    params: dict[str, Any]
    score: float | None
    seconds: float
    status: str = "ok"  # ok | over budget | failed: <reason>


@dataclass
class SearchResult:
    """The outcome of `search`: the winner and every trial, for meta.json and `compose versions`."""

    estimator: str
    params: dict[str, Any]
    metric: str
    score: float | None
    budget_s: float
    seconds: float
    folds: int
    seed: int
    portfolio: list[str]
    n_rows: int
    trials: list[Trial] = field(default_factory=list)
    tool: str = "compose.heads.auto (scikit-learn cross-validation, seeded portfolio search)"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        for t in out["trials"]:
            t["seconds"] = round(t["seconds"], 3)
            if t["score"] is not None:
                t["score"] = round(t["score"], 4)
        if out["score"] is not None:
            out["score"] = round(out["score"], 4)
        return out

    def summary(self) -> str:
        scored = sum(t.status == "ok" for t in self.trials)
        shown = f"{self.metric} {self.score:.4f}" if self.score is not None else "unscored"
        return (f"auto -> {self.estimator} {self.params or '(defaults)'}: cv {shown}, {scored} of "
                f"{len(self.trials)} trials scored in {self.seconds:.1f}s of {self.budget_s:g}s")


def portfolio_for(x: Any) -> list[str]:
    """The families that fit a feature matrix: sparse (with naive Bayes if non-negative) or dense."""
    if sp.issparse(x):
        nonneg = x.nnz == 0 or float(x.data.min()) >= 0.0
        return [f for f in SPARSE_FAMILIES if f != "complement_nb" or nonneg]
    return list(DENSE_FAMILIES)


def _points(family: str, seed: int) -> list[dict[str, Any]]:
    """The non-default grid points of a family, in a seeded random order."""
    grid = PORTFOLIO[family]
    keys = sorted(grid)
    points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    default = {k: grid[k][0] for k in keys}
    rest = [p for p in points if p != default]
    order = np.random.default_rng(seed).permutation(len(rest))
    return [rest[i] for i in order]


def _folds(kind: str, y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n = len(y)
    k = 5 if n < 2_000 else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only 1 member"
        if kind == "multilabel":
            return list(KFold(min(k, n), shuffle=True, random_state=seed).split(np.zeros(n)))
        counts = np.unique(y, return_counts=True)[1]
        k = max(2, min(k, int(counts.max())))
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y))


class _OverBudgetError(Exception):
    pass


def _within(seconds: float, work: Callable[[], list[Any]]) -> list[Any]:
    """`work()` in a daemon thread, waited for at most `seconds`; past that, _OverBudgetError.

    scikit-learn's fits release the GIL in their compiled loops, so the wait is wall-clock. A fold
    still running at the deadline cannot be killed: its thread finishes in the background and its
    result is dropped, so the search itself ends on time.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="compose-auto-fold", daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if thread.is_alive():
        raise _OverBudgetError
    if "error" in box:
        raise box["error"]
    return list(box["value"])


def _fit_fold(template: Any, spec: GroupSpec, x: Any, y: np.ndarray, group: str) -> list[Any]:
    what = f"group {group!r} (auto search)"
    if spec.type == "multilabel":
        return [fit_estimator(template, {}, x, y[:, j], what, allow_constant=True, calibration=spec.calibration)
                for j in range(y.shape[1])]
    return [fit_estimator(template, {}, x, y, what, calibration=spec.calibration)]


def search(group: str, spec: GroupSpec, labels: list[str], x: Any, y: np.ndarray, *,  # noqa: PLR0913
           budget_s: float | None = None, seed: int = 0, clock: Clock = time.perf_counter,
           registry: Registry | None = None) -> SearchResult:
    """Search the portfolio for the head of `group` on (x, y), its training rows, within `budget_s`.

    `y` is a label index per row, or a 0/1 matrix for a multilabel group. `clock` measures the
    budget (tests pass a fake one); `registry` builds the candidates' estimators. Returns the winner
    and every trial; it does not fit the winner.
    """
    registry = resolve(registry)
    budget = float(budget_s if budget_s is not None else spec.model.budget_s or DEFAULT_BUDGET_S)
    families = list(spec.model.candidates) if spec.model.candidates else portfolio_for(x)
    families = sorted(families, key=_COST_ORDER.index)
    folds = _folds(spec.type, y, seed)
    for family in families:  # import the estimators' modules before the clock starts
        registry.estimator(family)
    run = _Search(group, spec, labels, x, y, folds=folds, budget=budget, clock=clock, registry=registry)
    run.defaults(families)
    run.grid(seed)
    seconds = clock() - run.start
    name, params, score = _winner(run.trials, len(y))
    return SearchResult(name, dict(params), run.metric, score, budget, seconds, len(folds), seed, families, len(y),
                        run.trials)


class _Search:
    """The state of one search: its folds, its clock and budget, each family's last fold time, the trials."""

    def __init__(self, group: str, spec: GroupSpec, labels: list[str], x: Any, y: np.ndarray, *,  # noqa: PLR0913
                 folds: list[tuple[np.ndarray, np.ndarray]], budget: float, clock: Clock,
                 registry: Registry) -> None:
        self.group, self.spec, self.labels, self.x, self.y, self.folds = group, spec, labels, x, y, folds
        self.budget, self.clock, self.registry = budget, clock, registry
        self.metric = gate_metric_name(spec.type, spec.gate.metric)
        self.limit = spec.model.max_trials
        self.fold_seconds: dict[str, float] = {}
        self.trials: list[Trial] = []
        self.start = clock()

    def left(self) -> float:
        return self.budget - (self.clock() - self.start)

    def full(self) -> bool:
        return self.limit is not None and len(self.trials) >= self.limit

    def affordable(self, family: str) -> bool:
        per_fold = self.fold_seconds.get(family)
        return self.left() > 0 and (per_fold is None or per_fold * len(self.folds) <= self.left())

    def run(self, family: str, params: dict[str, Any]) -> Trial:
        """One candidate, cross-validated on every fold; `over budget` as soon as its folds cannot fit."""
        spec, y, x, folds, clock = self.spec, self.y, self.x, self.folds, self.clock
        t0 = clock()
        template = self.registry.build_estimator(family, params)
        pred = np.zeros((len(y), len(self.labels)), dtype=np.int8) if spec.type == "multilabel" else \
            np.zeros(len(y), int)
        try:
            for i, (train, test) in enumerate(folds):
                f0 = clock()
                fitted = _within(self.left(),
                                 functools.partial(_fit_fold, template, spec, x[train], y[train], self.group))
                head = assemble_head(self.group, spec.type, self.labels, [], fitted)
                pred[test] = raw_predictions(spec, self.labels, head.scores(x[test]))
                self.fold_seconds[family] = clock() - f0
                if i + 1 < len(folds) and self.fold_seconds[family] * (len(folds) - i - 1) > self.left():
                    raise _OverBudgetError
        except _OverBudgetError:
            return Trial(family, params, None, clock() - t0, "over budget")
        except TrainingError as exc:
            return Trial(family, params, None, clock() - t0, f"failed: {exc}")
        score = group_metrics(spec.type, y, pred, self.labels).get(self.metric)
        return Trial(family, params, float(score) if isinstance(score, (int, float)) else None, clock() - t0)

    def defaults(self, families: list[str]) -> None:
        """Phase 1: every family's default, cheapest first."""
        for family in families:
            if self.full():
                break
            if not self.affordable(family):
                continue
            self.trials.append(self.run(family, {}))

    def grid(self, seed: int) -> None:
        """Phase 2: the other grid points of the families close to the best, round-robin, best first."""
        defaults = {t.estimator: t.score for t in self.trials if t.score is not None}
        if not defaults:
            return
        best = max(defaults.values())
        kept = sorted((f for f, s in defaults.items() if s >= best - KEEP_WITHIN), key=lambda f: -defaults[f])
        queues = {f: _points(f, seed + _COST_ORDER.index(f)) for f in kept}
        while any(queues.values()) and self.left() > 0 and not self.full():
            progressed = False
            for family in kept:
                if not queues[family] or self.full():
                    continue
                if not self.affordable(family):
                    queues[family] = []  # its folds no longer fit in what is left
                    continue
                self.trials.append(self.run(family, queues[family].pop(0)))
                progressed = True
            if not progressed:
                break


def _winner(trials: list[Trial], n_rows: int) -> tuple[str, dict[str, Any], float | None]:
    """The best scored trial, unless it beats the default head by no more than one standard error."""
    scored = [t for t in trials if t.score is not None]
    if not scored:  # not one candidate finished within the budget: compose's default head
        return "logistic_regression", {}, None
    winner = max(scored, key=lambda t: t.score if t.score is not None else -1.0)  # ties: the earliest
    default = trials[0] if trials[0].score is not None and trials[0].params == {} else None
    if default is not None and default.score is not None and winner.score is not None:
        # One standard error: the default head stays unless another candidate beats it by more
        # than the noise of a score on this many rows (small data sets overfit the search).
        noise = math.sqrt(max(default.score * (1.0 - default.score), 1e-12) / max(n_rows, 1))
        if winner.score - default.score <= noise:
            winner = default
    return winner.estimator, winner.params, winner.score
