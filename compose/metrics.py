"""Metrics per group kind, computed only on the rows labelled for the group."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)


def _r(x: float) -> float:
    return round(float(x), 4)


def single_label_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1 and per-label precision/recall/F1 of a multiclass or binary group."""
    if len(y_true) == 0:
        return {"n": 0}
    idx = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    present = sorted(set(y_true.tolist()))
    return {
        "n": len(y_true),
        "accuracy": _r(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": _r(balanced_accuracy_score(y_true, y_pred)) if len(present) > 1 else None,
        "macro_f1": _r(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_label": {labels[i]: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
                      for i in idx},
    }


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Per-label precision/recall/F1, micro and macro F1, Hamming loss and subset accuracy."""
    if len(y_true) == 0:
        return {"n": 0}
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    supported = [i for i in range(len(labels)) if s[i] > 0]
    return {
        "n": len(y_true),
        "micro_f1": _r(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": _r(np.mean([f[i] for i in supported])) if supported else None,
        "hamming_loss": _r(hamming_loss(y_true, y_pred)),
        "subset_accuracy": _r(accuracy_score(y_true, y_pred)),
        "per_label": {labels[i]: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
                      for i in range(len(labels))},
    }


def group_metrics(kind: str, y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    if kind == "multilabel":
        return multilabel_metrics(y_true, y_pred, labels)
    return single_label_metrics(y_true, y_pred, labels)


def gate_metric_name(kind: str, configured: str | None) -> str:
    """The metric a group's promotion gate compares: accuracy, or micro-F1 for multilabel groups."""
    if configured is not None:
        return configured
    return "micro_f1" if kind == "multilabel" else "accuracy"
