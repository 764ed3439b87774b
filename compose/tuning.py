"""Tuning a group's decision to a target: `compose tune --group G --target precision=0.95`.

Thresholds are chosen on rows the model was never fitted on: every labelled row of `data` that the
head version was not fitted on, by the sample store's record of its training samples (rows of a
file never trained on all count); for a version trained before compose kept samples, the rows of
`data` that the seeded row hash puts in the holdout; without `data`, the holdout stored with the
head version. Binary and multilabel groups get a threshold per label,
multiclass groups a `min_confidence` (abstain below it).

For each label the scores of the tuning rows give the candidate thresholds; a threshold between
two neighbouring scores is placed half-way. `precision=t` takes the threshold with the highest
recall whose precision is at least t; `recall=t` the one with the highest precision whose recall is
at least t; `f1` the best F1. A target that no threshold meets is reported as such and the label
keeps its threshold. For multiclass groups, precision is the accuracy of the rows not abstained on
and recall the share of all rows that get their right label.

The result is a new version of the group's decision (`decisions/<G>/vNNNN`), pinned by a new
release for the head version it was tuned on; no model artifact is written or changed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from compose.curves import Curve, group_curves, live_thresholds
from compose.data.io import as_frame, source_of
from compose.data.targets import (
    fingerprint,
    holdout_mask,
    outside_when,
    parse_targets,
    prepare_inputs,
    row_hashes,
    split_hashes,
)
from compose.errors import DataError, StoreError
from compose.featurize.base import hstack
from compose.heads.decide import DEFAULT_THRESHOLD
from compose.registry import Registry
from compose.runtime.load import with_decisions
from compose.store.layout import next_release
from compose.store.names import version_name
from compose.store.records import DecisionPin, TrainingRule
from compose.store.sample_access import fitted_keys
from compose.store.sample_db import sample_store_exists
from compose.store.samples import SampleStore
from compose.store.store import ModelStore

if TYPE_CHECKING:
    from compose.runtime.model import ComposedModel

Metric = Literal["precision", "recall", "f1"]
FEW_PREDICTIONS = 10


@dataclass(frozen=True)
class Target:
    """What tuning aims at: `precision=0.95`, `recall=0.8`, or `f1` (the best F1)."""

    metric: Metric
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        m = re.fullmatch(r"\s*(precision|recall|f1)\s*(?:(?:=|>=)\s*([0-9]*\.?[0-9]+))?\s*", text)
        if m is None:
            raise DataError(f"--target {text!r} is not a target; write precision=0.95, recall=0.8 or f1")
        metric: Metric = m.group(1)  # type: ignore[assignment]  # the regex allows only these three
        value = float(m.group(2)) if m.group(2) is not None else None
        if metric != "f1" and value is None:
            raise DataError(f"--target {text!r} needs a value; write {metric}=0.9")
        if value is not None and not 0.0 < value <= 1.0:
            raise DataError(f"--target {text!r}: the value must be in (0, 1]; got {value}")
        if metric == "f1" and value is not None:
            raise DataError(f"--target {text!r}: f1 takes no value, it picks the best F1; write f1")
        return cls(metric, value)

    def __str__(self) -> str:
        return self.metric if self.value is None else f"{self.metric}={self.value:g}"


@dataclass
class LabelTuning:
    """The outcome of tuning one label (or, for a multiclass group, one row per label at the
    group's min_confidence)."""

    label: str
    threshold: float
    precision: float | None
    recall: float | None
    support: int
    predicted: int
    met: bool
    note: str | None = None


@dataclass
class TuneReport:
    """What `tune` found and wrote."""

    group: str
    kind: str
    target: str
    for_group_version: int
    n_rows: int
    source: str
    labels: list[LabelTuning]
    decision: dict[str, Any]
    previous: dict[str, Any]
    overall: LabelTuning | None = None
    decision_version: int | None = None
    release: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def any_met(self) -> bool:
        return any(r.met for r in ([self.overall] if self.overall else self.labels))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as a readable table."""
        out = [f"group {self.group} ({self.kind}) {version_name(self.for_group_version)}: tuned on {self.n_rows} "
               f"rows never fitted on ({self.source}); target {self.target}"]
        if self.overall is not None:
            out.append(_row_line("min_confidence", self.overall))
            out.append("per label at that min_confidence:")
        out.append(f"  {'label':<20}{'threshold':>10}{'precision':>11}{'recall':>8}{'support':>9}{'predicted':>11}")
        out.extend(_row_line(r.label, r, state=self.overall is None) for r in self.labels)
        out.extend(self.notes)
        if self.release is not None:
            out.append(f"decision {version_name(self.decision_version or 0)} of group {self.group} is pinned by "
                       f"release {self.release}, now live; no model artifact was changed")
        return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _row_line(name: str, r: LabelTuning, *, state: bool = True) -> str:
    shown = ("met" if r.met else "NOT MET") if state else ""
    line = (f"  {name:<20}{r.threshold:>10.4f}{_fmt(r.precision):>11}{_fmt(r.recall):>8}{r.support:>9}"
            f"{r.predicted:>11}  {shown}")
    return line.rstrip() + (f"  {r.note}" if r.note else "")


# --------------------------------------------------------------------------------------------------
# Choosing a threshold


def _at(scores: np.ndarray, truth: np.ndarray, threshold: float, total: int) -> tuple[float | None, float | None, int]:
    pred = scores >= threshold
    tp = int((pred & truth).sum())
    n = int(pred.sum())
    return (tp / n if n else None), (tp / total if total else None), n


def wilson_lower(successes: np.ndarray, n: np.ndarray, z: float = 1.0) -> np.ndarray:
    """The Wilson score interval's lower bound of a binomial proportion."""
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.asarray((centre - spread) / (1 + z * z / n))


def choose_threshold(scores: np.ndarray, truth: np.ndarray, target: Target, current: float, *,
                     total: int | None = None) -> tuple[float, bool, str | None]:
    """The threshold on `scores` that meets `target` for the 0/1 `truth`; (threshold, met, note).

    `total` is the denominator of recall (default: the number of true rows). When the target
    cannot be met, `current` is returned with a note saying what could be reached.
    """
    truth = truth.astype(bool)
    total = int(truth.sum()) if total is None else total
    if len(scores) == 0 or total == 0:
        return current, False, "no positive rows to tune on" if len(scores) else "no rows to tune on"
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order]
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # the last row of each distinct score
    tp = np.cumsum(t)[last]
    predicted = last + 1
    precision, recall = tp / predicted, tp / total
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(last)), where=precision + recall > 0)
    below = np.append(s[last][1:], 0.0)  # the next lower distinct score (0 below the lowest)
    cut = (s[last] + below) / 2
    short = np.round(cut, 4)  # a readable threshold, where it still separates the same two scores
    cut = np.where((short > below) & (short <= s[last]), short, cut)
    if target.metric == "f1":
        i = int(np.argmax(f1))  # the first, i.e. highest, threshold among ties
        return float(cut[i]), True, None
    assert target.value is not None
    value = target.value
    if target.metric == "precision":
        # The lowest threshold that reaches the target on these rows is an optimistic pick (chosen
        # for looking good on them), so a threshold counts only when the Wilson lower bound of its
        # precision (z = 1, a one-sided 84% bound) reaches the target.
        ok = wilson_lower(tp, predicted) >= value - 1e-12
        goal = np.where(ok, recall, -1.0)
        if not ok.any():
            j = int(np.argmax(precision))
            return current, False, (f"cannot reach precision {value:g}: the best is {precision[j]:.4f} at "
                                    f"threshold {cut[j]:.4f} ({int(predicted[j])} rows)")
    else:
        ok = recall >= value - 1e-12
        goal = np.where(ok, precision, -1.0)
        if not ok.any():
            return current, False, f"cannot reach recall {value:g}: the best is {recall.max():.4f}"
    i = int(np.argmax(goal))
    note = None
    if predicted[i] < FEW_PREDICTIONS:
        note = f"only {int(predicted[i])} predicted rows: weak evidence, tune on more rows"
    return float(cut[i]), True, note


# --------------------------------------------------------------------------------------------------
# Per group type


def _binary(labels: list[str], scores: np.ndarray, y: np.ndarray, target: Target,
            decision: dict[str, Any]) -> tuple[list[LabelTuning], dict[str, Any]]:
    current = float(decision.get("threshold", DEFAULT_THRESHOLD))
    truth = y == 1
    th, met, note = choose_threshold(scores[:, 1], truth, target, current)
    p, r, n = _at(scores[:, 1], truth, th, int(truth.sum()))
    row = LabelTuning(labels[1], th, p, r, int(truth.sum()), n, met, note)
    return [row], ({**decision, "threshold": th} if met else decision)


def _multilabel(labels: list[str], scores: np.ndarray, y: np.ndarray, target: Target,
                decision: dict[str, Any], known: np.ndarray | None = None) -> tuple[list[LabelTuning], dict[str, Any]]:
    base = float(decision.get("threshold", DEFAULT_THRESHOLD))
    thresholds = dict(decision.get("thresholds", {}))
    rows = []
    for j, label in enumerate(labels):
        on = slice(None) if known is None else known[:, j]  # per-label truth: the rows where it is known
        truth = y[on, j] == 1
        th, met, note = choose_threshold(scores[on, j], truth, target, float(thresholds.get(label, base)))
        if met:
            thresholds[label] = th
        p, r, n = _at(scores[on, j], truth, th, int(truth.sum()))
        rows.append(LabelTuning(label, th, p, r, int(truth.sum()), n, met, note))
    return rows, {**decision, "thresholds": thresholds}


def _multiclass(labels: list[str], scores: np.ndarray, y: np.ndarray, target: Target,
                decision: dict[str, Any]) -> tuple[LabelTuning, list[LabelTuning], dict[str, Any]]:
    best = scores.argmax(axis=1)
    confidence = scores[np.arange(len(y)), best]
    correct = best == y
    policy = decision.get("policy") or ("min_confidence" if "min_confidence" in decision else "argmax")
    current = float(decision.get("accept" if policy == "zones" else "min_confidence", 0.0))
    th, met, note = choose_threshold(confidence, correct, target, current, total=len(y))
    p, r, n = _at(confidence, correct, th, len(y))
    overall = LabelTuning("(all labels)", th, p, r, len(y), n, met, note)
    accepted = confidence >= th
    rows = []
    for i, label in enumerate(labels):
        said = accepted & (best == i)
        tp = int((said & correct).sum())
        support = int((y == i).sum())
        rows.append(LabelTuning(label, th, tp / int(said.sum()) if said.any() else None,
                                tp / support if support else None, support, int(said.sum()), met))
    if not met:
        return overall, rows, decision
    if policy == "zones":
        new = {**decision, "accept": th, "review": min(float(decision.get("review", th)), th)}
    elif policy in ("top_k", "cumulative"):
        new = {**decision, "min_confidence": th}
    else:
        new = {**decision, "policy": "min_confidence", "min_confidence": th}
    return overall, rows, new


# --------------------------------------------------------------------------------------------------
# Rows and scores, then the new version and release


def _never_fitted(model: ComposedModel, group: str, df: pd.DataFrame) -> np.ndarray | None:
    """Which rows of `df` the live version of `group` was never fitted on, from the sample store's
    record of its training samples; None when the store does not know them (an older version)."""
    if model.store is None or not sample_store_exists(model.store.samples_home):
        return None
    with SampleStore.open(model.store.samples_home, create=False) as samples:
        fitted = fitted_keys(model.store, samples, group, model.version_of(group))
        if fitted is None:
            return None
        keys = samples.keys(samples.ids_of(df, model.schema))
    return np.asarray(~np.isin(keys, fitted))


def _tuning_rows(model: ComposedModel, group: str, data: Any | None,
                 training: TrainingRule) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, str]:
    """The prepared inputs, labels and (per-label truth) known cells of the rows to tune on, and
    where they come from: every labelled row of `data` the live version was never fitted on (by
    the sample store's record), else the rows the hash rule holds out; without `data`, the
    holdout stored with the version."""
    schema = model.schema
    if data is None:
        pin = model.version_of(group)
        assert model.store is not None
        held = model.store.holdout(group, pin)
        return held.inputs, held.y, held.known, f"the holdout stored with {group} {version_name(pin)}"
    df = as_frame(data)
    inputs = prepare_inputs(df, schema)
    spec = schema.groups[group]
    targets = parse_targets(df, schema, [group, *(spec.when or {})])
    if group not in targets:
        raise DataError(f"{source_of(df)}: no column {group!r}; tuning needs the group's labels")
    fresh = _never_fitted(model, group, df)
    labelled = targets[group].labelled & ~outside_when(spec.when, targets, len(df))  # rows the head is meant for
    if fresh is not None:
        rows = np.flatnonzero(labelled & fresh)
        where = (f"{len(rows)} of {len(df)} rows of {source_of(df)}: labelled for {group} and never fitted on by "
                 f"{group} {version_name(model.version_of(group))} (the sample store's record; "
                 f"{int((labelled & ~fresh).sum())} labelled rows were)")
    else:
        hashes = split_hashes(df, inputs, schema, training.seed)
        rows = np.flatnonzero(labelled & holdout_mask(hashes, training.holdout))
        where = (f"{len(rows)} of {len(df)} rows of {source_of(df)} are in the holdout (hash rule, seed "
                 f"{training.seed}) and labelled for {group}; the version's training rows are not recorded")
    known = targets[group].known
    return (inputs.iloc[rows].reset_index(drop=True), targets[group].y[rows],
            None if known is None else known[rows], where)


def tuning_curves(store: str | Path, group: str, *, data: Any | None = None,
                  model: str | None = None) -> tuple[list[Curve], str]:
    """The threshold (or confidence) curves of `group` on the rows `tune` would use, and where they come from."""
    from compose.runtime.load import load

    s = ModelStore.open(store, model)
    composed = load(s.path)
    if group not in composed.heads_:
        raise DataError(f"unknown group {group!r}; the live release {composed.release_name} has {composed.groups}")
    if (tree := composed.schema.hierarchy_of(group)) is not None:
        raise DataError(f"group {group!r} is a head of hierarchy {tree[0].group!r}, whose decision is the path's "
                        f"min_confidence (groups.{tree[0].group}.decision); tune does not tune hierarchies yet, "
                        "so set min_confidence in the schema")
    spec, head = composed.schema.groups[group], composed.heads_[group]
    training = s.group_meta(group, composed.version_of(group)).training
    inputs, y, _, source = _tuning_rows(composed, group, data, training)
    blocks = composed.transform_features(inputs, head.features)
    scores = head.scores(hstack([blocks[f] for f in head.features]))
    live = live_thresholds(spec.type, head.labels, spec.decision, DEFAULT_THRESHOLD)
    return group_curves(group, spec.type, head.labels, scores, y, live), source


def tune(store: str | Path, group: str, target: Target | str, *, data: Any | None = None, model: str | None = None,
         dry_run: bool = False, note: str | None = None, registry: Registry | None = None) -> TuneReport:
    """Tune the decision of `group` in the live release to `target` and release it (unless `dry_run`).

    Nothing is written when no label meets the target; the report says so. `registry` loads the
    release (see `compose.load`).
    """
    from compose.runtime.load import load  # the runtime imports the decisions this module writes

    goal = target if isinstance(target, Target) else Target.parse(target)
    s = ModelStore.open(store, model)
    composed = load(s.path, registry=registry)
    if group not in composed.heads_:
        raise DataError(f"unknown group {group!r}; the live release {composed.release_name} has {composed.groups}")
    if (tree := composed.schema.hierarchy_of(group)) is not None:
        raise DataError(f"group {group!r} is a head of hierarchy {tree[0].group!r}, whose decision is the path's "
                        f"min_confidence (groups.{tree[0].group}.decision); tune does not tune hierarchies yet, "
                        "so set min_confidence in the schema")
    spec = composed.schema.groups[group]
    head = composed.heads_[group]
    version = composed.version_of(group)
    training = s.group_meta(group, version).training
    inputs, y, known, source = _tuning_rows(composed, group, data, training)
    if len(y) == 0:
        raise DataError(f"no rows to tune {group!r} on: {source}. Pass a file with labelled rows that were held out "
                        "from training, or leave out --data to use the stored holdout")
    blocks = composed.transform_features(inputs, head.features)
    scores = head.scores(hstack([blocks[f] for f in head.features]))
    previous = spec.decision.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    overall = None
    if spec.type == "binary":
        rows, decision = _binary(head.labels, scores, y, goal, previous)
    elif spec.type == "multilabel":
        rows, decision = _multilabel(head.labels, scores, y, goal, previous, known)
    else:
        overall, rows, decision = _multiclass(head.labels, scores, y, goal, previous)
    report = TuneReport(group, spec.type, str(goal), version, len(y), source, rows, decision, previous, overall)
    if not report.any_met:
        report.notes.append(f"the target {goal} cannot be met for any label of {group}: nothing was written and "
                            "the live decision stays")
        return report
    with_decisions(composed.schema, {group: decision}, "the tuned decision",  # refuses one that would not load
                   registry=registry)
    if dry_run:
        report.notes.append("dry run: nothing was written")
        return report
    meta = {"for_group_version": version, "target": str(goal), "report": report.to_dict(), "previous": previous,
            "n_rows": len(y), "source": source, "rows_fingerprint": fingerprint(row_hashes(inputs, 0)),
            "note": note}
    with s.lock():
        live = s.release()
        if group not in live.groups or live.groups[group].version != version:
            raise StoreError(f"the live release changed while {group!r} was tuned (it now pins another version); "
                             "tune again")
        report.decision_version, sha = s.write_version("decisions", group, decision, meta)
        pin = DecisionPin(version=report.decision_version, sha256=sha, for_group_version=version)
        body = next_release(live, note=note or f"tune --group {group} --target {goal}", decisions={group: pin})
        report.release = s.write_release(body)
    return report
