"""Threshold curves: precision and recall against the decision threshold, per binary group and per
label of a multilabel group; for a multiclass group, accuracy and coverage against the confidence
cut-off (`min_confidence`). The live decision is marked, so moving it is a choice made on a chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The thresholds a curve is computed at (a table row each; the chart draws them as a line).
GRID = np.round(np.arange(0.05, 1.0, 0.05), 2)


@dataclass
class Curve:
    """One curve: `x` thresholds and, per threshold, its named series (precision, recall, ...)."""

    group: str
    label: str | None  # the label (binary: the positive label; multiclass: None)
    kind: str  # "threshold" (precision/recall) or "confidence" (accuracy/coverage)
    live: float  # the live decision's threshold or min_confidence
    x: list[float]
    series: dict[str, list[float | None]] = field(default_factory=dict)
    support: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "label": self.label, "kind": self.kind, "live": self.live, "x": self.x,
                "series": self.series, "support": self.support}

    def table(self) -> list[str]:
        names = list(self.series)
        what = self.label if self.label is not None else "(top label)"
        head = f"{self.group} {what}: {self.support} rows; live {self.kind} {self.live:g}"
        lines = [head, "  " + f"{self.kind:>10}" + "".join(f"{n:>11}" for n in names)]
        for i, t in enumerate(self.x):
            mark = "  <- live" if abs(t - self.live) < 0.025 else ""
            values = (self.series[n][i] for n in names)
            cells = "".join(f"{v:>11.4f}" if v is not None else f"{'-':>11}" for v in values)
            lines.append(f"  {t:>10.2f}{cells}{mark}")
        return lines


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def threshold_curve(group: str, label: str, scores: np.ndarray, truth: np.ndarray, live: float) -> Curve:
    """Precision, recall and the share predicted positive of `scores >= t`, for each t of the grid."""
    positive = truth.astype(bool)
    curve = Curve(group, label, "threshold", float(live), [float(t) for t in GRID], support=len(truth))
    precision, recall, predicted = [], [], []
    for t in GRID:
        chosen = scores >= t
        hits = float((chosen & positive).sum())
        precision.append(_ratio(hits, float(chosen.sum())))
        recall.append(_ratio(hits, float(positive.sum())))
        predicted.append(_ratio(float(chosen.sum()), float(len(truth))))
    curve.series = {"precision": precision, "recall": recall, "predicted": predicted}
    return curve


def confidence_curve(group: str, scores: np.ndarray, truth: np.ndarray, live: float) -> Curve:
    """Accuracy among answered rows and coverage (share answered) when abstaining below each cut-off."""
    best = scores.argmax(axis=1)
    conf = scores.max(axis=1)
    right = best == truth
    curve = Curve(group, None, "confidence", float(live), [float(t) for t in GRID], support=len(truth))
    accuracy, coverage = [], []
    for t in GRID:
        answered = conf >= t
        accuracy.append(_ratio(float((right & answered).sum()), float(answered.sum())))
        coverage.append(_ratio(float(answered.sum()), float(len(truth))))
    curve.series = {"accuracy": accuracy, "coverage": coverage}
    return curve


def group_curves(group: str, kind: str, labels: list[str], scores: np.ndarray, y: np.ndarray,
                 live: dict[str, float]) -> list[Curve]:
    """The curves of one group from its scores on labelled rows (`y` as in GroupTargets).

    `live`: per label the live threshold (binary: the positive label's; multiclass: key "" for the
    live min_confidence, 0 when it never abstains).
    """
    if len(y) == 0:
        return []
    if kind == "multilabel":
        return [threshold_curve(group, lab, scores[:, j], y[:, j], live.get(lab, 0.5)) for j, lab in enumerate(labels)]
    if kind == "binary":
        return [threshold_curve(group, labels[1], scores[:, 1], (y == 1).astype(int), live.get(labels[1], 0.5))]
    return [confidence_curve(group, scores, y, live.get("", 0.0))]


def live_thresholds(kind: str, labels: list[str], decision: Any, default: float = 0.5) -> dict[str, float]:
    """The live decision of a group (its schema `decision`) as the curves mark it."""
    if kind == "multiclass":
        return {"": float(decision.min_confidence or 0.0)}
    base = decision.threshold if decision.threshold is not None else default
    if kind == "binary":
        return {labels[1]: float(base)}
    return {lab: float(decision.thresholds.get(lab, base)) for lab in labels}


def draw(curve: Curve) -> Any:
    """A matplotlib Figure of one curve (no pyplot: the process-wide backend is left alone)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.8))
    ax = fig.add_subplot()
    for name, values in curve.series.items():
        ax.plot(curve.x, [np.nan if v is None else v for v in values], marker=".", label=name)
    ax.axvline(curve.live, color="#c00", linestyle="--", linewidth=1, label=f"live {curve.live:g}")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1)
    ax.set_xlabel("threshold" if curve.kind == "threshold" else "min_confidence")
    ax.set_title(f"{curve.group}: {curve.label}" if curve.label is not None else f"{curve.group} (top label)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
