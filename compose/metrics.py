"""Metrics per group kind, computed only on the rows labelled for the group.

Every function here works on plain arrays, so the composed model and the monolithic baseline are
scored by the same code. A prediction is a 0/1 indicator matrix (n_rows, n_labels) whatever the
group's kind: a multiclass or binary group is answered correctly only by exactly one label, so a
model that can leave a row with no label or with several (the monolithic baseline) is scored
fairly, and its invalid combinations are counted. The key reference is in benchmarks/README.md
("Evaluation report keys").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

#: The extra confusion-matrix columns: no label predicted, several labels predicted.
NONE_COLUMN = "(none)"
SEVERAL_COLUMN = "(several)"


@dataclass(frozen=True)
class GroupPrediction:
    """What a model answered for one group on a batch.

    `indicator` is the (n_rows, n_labels) 0/1 matrix of chosen labels. `scores` is the model's
    score per label (NaN where it did not run) or None. `deliberate_empty` marks rows where no
    label is a decision of the model (a head that abstained, a conditional head that did not
    run), not a failure: those rows count as abstained, never as invalid combinations.
    `not_run` marks the rows a conditional head skipped because its `when` did not hold.
    """

    indicator: np.ndarray
    scores: np.ndarray | None
    deliberate_empty: np.ndarray
    not_run: np.ndarray | None = None


def _r(x: float) -> float:
    return round(float(x), 4)


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def one_hot(index: np.ndarray, n_labels: int) -> np.ndarray:
    """0/1 rows from label indices; a negative index (no label) gives a row of zeros."""
    out = np.zeros((len(index), n_labels), dtype=np.int8)
    ok = index >= 0
    out[np.flatnonzero(ok), index[ok]] = 1
    return out


def _as_indicator(y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    y = np.asarray(y_pred)
    return one_hot(y.astype(np.int64), n_labels) if y.ndim == 1 else y.astype(np.int8)


def per_label_table(truth: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict[str, dict[str, Any]]:
    """Precision, recall, F1 and support of each label's column (0 where undefined)."""
    tp = (truth & pred).sum(axis=0)
    n_pred = pred.sum(axis=0)
    support = truth.sum(axis=0)
    out: dict[str, dict[str, Any]] = {}
    for j, label in enumerate(labels):
        p, r = _div(tp[j], n_pred[j]), _div(tp[j], support[j])
        out[label] = {"precision": _r(p), "recall": _r(r), "f1": _r(_div(2 * p * r, p + r)), "support": int(support[j])}
    return out


def _rank_metrics(positive: np.ndarray, score: np.ndarray | None) -> dict[str, float | None]:
    """ROC-AUC and average precision of one score column; None when undefined."""
    if score is None:
        return {"roc_auc": None, "average_precision": None}
    ok = np.isfinite(score)
    y, s = positive[ok], score[ok]
    if len(np.unique(y)) < 2:
        return {"roc_auc": None, "average_precision": None}
    return {"roc_auc": _r(roc_auc_score(y, s)), "average_precision": _r(average_precision_score(y, s))}


def single_label_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], *, scores: np.ndarray | None = None,
    deliberate_empty: np.ndarray | None = None, binary: bool = False,
) -> dict[str, Any]:
    """Metrics of a multiclass (or, with `binary`, a binary) group.

    `y_true` holds label indices; `y_pred` label indices (-1: no label) or an indicator matrix.
    Accuracy counts a row right only when exactly its label is predicted. Per-label figures read
    each label's column, so a row given several labels is a false positive for each wrong one.
    """
    n, k = len(y_true), len(labels)
    if n == 0:
        return {"n": 0}
    truth = one_hot(np.asarray(y_true, dtype=np.int64), k)
    pred = _as_indicator(y_pred, k)
    chosen = pred.sum(axis=1)
    exact = (pred == truth).all(axis=1)
    deliberate = np.zeros(n, dtype=bool) if deliberate_empty is None else np.asarray(deliberate_empty, dtype=bool)
    deliberate &= chosen == 0
    present = sorted(set(np.asarray(y_true).tolist()))
    per_label = per_label_table(truth, pred, labels)
    column = np.where(chosen == 1, pred.argmax(axis=1), np.where(chosen == 0, k, k + 1))
    matrix = np.zeros((k, k + 2), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), column), 1)
    out: dict[str, Any] = {
        "n": n,
        "accuracy": _r(exact.mean()),
        "balanced_accuracy": _r(np.mean([exact[y_true == c].mean() for c in present])) if len(present) > 1 else None,
        "macro_f1": _r(np.mean([per_label[labels[c]]["f1"] for c in present])),
        "argmax_accuracy": None,
        "abstain_rate": _r(deliberate.mean()),
        "none_rate": _r((chosen == 0).mean()),
        "several_rate": _r((chosen > 1).mean()),
        "invalid_combination_rate": _r(((chosen > 1) | ((chosen == 0) & ~deliberate)).mean()),
        "per_label": per_label,
        "confusion_matrix": {"labels": list(labels), "columns": [*labels, NONE_COLUMN, SEVERAL_COLUMN],
                             "matrix": matrix.tolist()},
    }
    if scores is not None:
        filled = np.where(np.isfinite(scores), scores, -np.inf)
        ran = np.isfinite(scores).any(axis=1)
        out["argmax_accuracy"] = _r((ran & (filled.argmax(axis=1) == y_true)).mean())
    if binary:
        positive = labels[1]
        out.update(positive_label=positive, precision=per_label[positive]["precision"],
                   recall=per_label[positive]["recall"], f1=per_label[positive]["f1"])
        out.update(_rank_metrics(truth[:, 1], None if scores is None else scores[:, 1]))
    return out


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], *,
                       scores: np.ndarray | None = None, known: np.ndarray | None = None) -> dict[str, Any]:
    """Per-label precision/recall/F1, micro and macro F1, Hamming loss, subset accuracy, Jaccard.

    Jaccard is the mean over rows of |true & predicted| / |true | predicted| (1 when both are empty).
    Macro F1 averages the labels that occur in `y_true`. With `scores`, the macro ROC-AUC and
    average precision of the labels that occur (and do not cover every row) are added.
    `known` (n_rows, n_labels) marks the cells whose truth is known (per-label truth cells): every
    figure counts only those, so an unknown label is neither a hit nor a miss; None: all known.
    """
    n = len(y_true)
    if n == 0:
        return {"n": 0}
    truth, pred = np.asarray(y_true, dtype=np.int8), np.asarray(y_pred, dtype=np.int8)
    mask = np.ones(truth.shape, dtype=bool) if known is None else np.asarray(known, dtype=bool)
    truth, pred = truth & mask, pred & mask
    per_label = per_label_table(truth, pred, labels)
    tp, n_pred, n_true = int((truth & pred).sum()), int(pred.sum()), int(truth.sum())
    p, r = _div(tp, n_pred), _div(tp, n_true)
    supported = [label for label in labels if per_label[label]["support"] > 0]
    inter, union = (truth & pred).sum(axis=1), (truth | pred).sum(axis=1)
    out: dict[str, Any] = {
        "n": n,
        "micro_precision": _r(p),
        "micro_recall": _r(r),
        "micro_f1": _r(_div(2 * p * r, p + r)),
        "macro_f1": _r(np.mean([per_label[x]["f1"] for x in supported])) if supported else None,
        "hamming_loss": _r(_div(float((truth != pred).sum()), float(mask.sum()))),
        "subset_accuracy": _r((truth == pred).all(axis=1).mean()),
        "jaccard": _r(np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean()),
        "labels_per_row": {"true": _r(truth.sum(axis=1).mean()), "predicted": _r(pred.sum(axis=1).mean())},
        "per_label": per_label,
    }
    if known is not None:
        out["known_cells"] = int(mask.sum())
        for j, label in enumerate(labels):
            per_label[label]["known"] = int(mask[:, j].sum())
    if scores is not None:
        ranks = [_rank_metrics(truth[mask[:, j], j], scores[mask[:, j], j]) for j in range(len(labels))]
        auc = [x["roc_auc"] for x in ranks if x["roc_auc"] is not None]
        ap = [x["average_precision"] for x in ranks if x["average_precision"] is not None]
        out["macro_roc_auc"] = _r(float(np.mean(auc))) if auc else None
        out["macro_average_precision"] = _r(float(np.mean(ap))) if ap else None
    return out


def group_metrics(
    kind: str, y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], *,
    scores: np.ndarray | None = None, deliberate_empty: np.ndarray | None = None, known: np.ndarray | None = None,
) -> dict[str, Any]:
    """The metrics of one group's labelled rows; `y_pred` as label indices or an indicator matrix.
    `known`: a multilabel group's known cells (see `multilabel_metrics`)."""
    if kind == "multilabel":
        return multilabel_metrics(y_true, y_pred, labels, scores=scores, known=known)
    return single_label_metrics(y_true, y_pred, labels, scores=scores, deliberate_empty=deliberate_empty,
                                binary=kind == "binary")


def merged_metrics(truths: dict[str, np.ndarray], predictions: dict[str, GroupPrediction],
                   masks: dict[str, np.ndarray], kinds: Mapping[str, str],
                   known: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Figures over the merged result, each row counting only the groups labelled in it.

    `truths[g]` is group g's indicator matrix, `masks[g]` its labelled rows in scope. Subset
    accuracy: every labelled group of the row exactly right. Hamming loss: wrong 0/1 cells over
    all labels of the labelled groups. Abstain rate: (row, single-label group) cells left empty
    by decision. Invalid-combination rate: rows where some labelled multiclass or binary group got
    several labels, or none without deciding to abstain. `known[g]` (multilabel groups with
    per-label truth) limits group g's cells to the known ones.
    """
    n = len(next(iter(masks.values()))) if masks else 0
    wrong_cells, total_cells = np.zeros(n), np.zeros(n)
    right, labelled, invalid = np.ones(n, dtype=bool), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    abstained = single_cells = 0
    for g, mask in masks.items():
        pred = predictions[g]
        cells = np.ones(truths[g].shape, dtype=bool) if known is None or g not in known else known[g]
        wrong = ((truths[g] != pred.indicator) & cells).sum(axis=1)
        wrong_cells += np.where(mask, wrong, 0)
        total_cells += np.where(mask, cells.sum(axis=1), 0)
        right &= ~mask | (wrong == 0)
        labelled |= mask
        if kinds[g] != "multilabel":
            chosen = pred.indicator.sum(axis=1)
            empty_by_choice = (chosen == 0) & pred.deliberate_empty
            invalid |= mask & ((chosen > 1) | ((chosen == 0) & ~pred.deliberate_empty))
            abstained += int((mask & empty_by_choice).sum())
            single_cells += int(mask.sum())
    rows = np.flatnonzero(labelled)
    if len(rows) == 0:
        return {"rows": 0, "subset_accuracy": None, "hamming_loss": None, "abstain_rate": None,
                "invalid_combination_rate": None}
    return {
        "rows": len(rows),
        "subset_accuracy": _r(right[rows].mean()),
        "hamming_loss": _r(wrong_cells.sum() / total_cells.sum()),
        "abstain_rate": _r(abstained / single_cells) if single_cells else None,
        "invalid_combination_rate": _r(invalid[rows].mean()),
    }


def headline_metric(kind: str) -> str:
    """The one figure a summary shows for a group: accuracy, or micro F1 for a multilabel group.

    Binary groups use accuracy too, so every exclusive group compares with `argmax_accuracy`.
    """
    return "micro_f1" if kind == "multilabel" else "accuracy"


def gate_metric_name(kind: str, configured: str | None) -> str:
    """The metric a group's promotion gate compares: the configured one, else the headline metric."""
    return configured if configured is not None else headline_metric(kind)


# --------------------------------------------------------------------------------------------------
# Hierarchies (Kiritchenko et al. 2005, as HiClass computes them: micro averages over node sets)


def _hierarchical_prf(true_paths: list[list[str]], pred_paths: list[list[str]]) -> dict[str, float]:
    """Micro hierarchical precision, recall and F: |P ∩ T| summed over rows, over the summed |P| and |T|,
    where P and T are a row's predicted and true nodes with all their ancestors (the root left out)."""
    both = sum(len(set(t) & set(p)) for t, p in zip(true_paths, pred_paths, strict=True))
    predicted = sum(len(p) for p in pred_paths)
    true = sum(len(t) for t in true_paths)
    precision, recall = _div(both, predicted), _div(both, true)
    return {"hierarchical_precision": _r(precision), "hierarchical_recall": _r(recall),
            "hierarchical_f1": _r(_div(2 * precision * recall, precision + recall))}


def hierarchical_metrics(true_paths: list[list[str]], pred_paths: list[list[str]], depth: int) -> dict[str, Any]:
    """Hierarchical precision, recall and F over whole paths and per level, and accuracy per level.

    A path is the list of nodes from the top level down (a label known only to an inner node is a
    shorter path; an abstained prediction an empty one). Level L compares the paths cut at depth
    L; its `accuracy` is the share of the rows whose true path reaches L that got the right node
    at L (a prediction that stopped above L is wrong there).
    """
    out: dict[str, Any] = {"n": len(true_paths), **_hierarchical_prf(true_paths, pred_paths)}
    levels: list[dict[str, Any]] = []
    for level in range(1, depth + 1):
        reach = [i for i, t in enumerate(true_paths) if len(t) >= level]
        right = sum(1 for i in reach if pred_paths[i][level - 1:level] == true_paths[i][level - 1:level])
        cut = _hierarchical_prf([t[:level] for t in true_paths], [p[:level] for p in pred_paths])
        levels.append({"level": level, "n": len(reach), "accuracy": _r(_div(right, len(reach))) if reach else None,
                       **cut})
    out["levels"] = levels
    return out


def stopped_shares(kept: np.ndarray, full: np.ndarray, depth: int) -> dict[str, float]:
    """The share of rows whose path stopped at each depth before its leaf: `"0"` got no label at
    all, `"1"` stopped at a top-level node, and so on (rows that reached a leaf are not counted)."""
    n = max(len(kept), 1)
    stopped = kept < full
    return {str(d): _r(float((stopped & (kept == d)).sum()) / n) for d in range(depth)}
