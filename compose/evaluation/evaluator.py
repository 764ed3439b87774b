"""Evaluation of a loaded release on labelled data: per group, over the merged result, and
side by side with a monolithic baseline.

Every figure is computed only on the cells labelled for it (see compose.metrics for the
definitions; the JSON keys are listed in benchmarks/README.md, "Evaluation report keys"). Rows
are chosen by the training holdout rule: a seeded hash of the row's inputs, so `split="holdout"`
gives rows that no head of this file's training run was fitted on. The rule is not stratified:
labels with fewer than MIN_SUPPORT examples in the evaluated rows are listed in `warnings`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NotRequired, TypedDict

import numpy as np
import pandas as pd

from compose.curves import group_curves, live_thresholds
from compose.data.io import as_frame
from compose.data.targets import GroupTargets, holdout_mask, parse_targets, prepare_inputs, split_hashes
from compose.errors import DataError
from compose.evaluation.baseline import MonolithicBaseline
from compose.evaluation.calibration import calibration_metrics
from compose.evaluation.hierarchy import hierarchy_report
from compose.evaluation.hierarchy import summary_lines as hierarchy_lines
from compose.heads.decide import DEFAULT_THRESHOLD
from compose.metrics import GroupPrediction, group_metrics, headline_metric, merged_metrics, one_hot
from compose.runtime.model import ComposedModel

Split = Literal["all", "holdout", "train"]
Baseline = Literal["monolithic"]

class HoldoutRule(TypedDict):
    """How the evaluated rows were chosen: the training holdout rule."""

    fraction: float
    seed: int
    rows: str


class ComparisonRow(TypedDict):
    """One row of the composed-vs-monolithic table (a group's headline metric, or the merged result)."""

    group: str
    kind: str
    n: int
    metric: str
    composed: float | None
    monolithic: float | None
    monolithic_argmax_accuracy: float | None
    composed_invalid_rate: float | None
    monolithic_invalid_rate: float | None


class EvaluationReport(TypedDict):
    """What `evaluate` returns (and `compose evaluate --json` writes): a JSON object, typed.

    `groups` maps each group to its metrics (see `compose.metrics`), `merged` holds the figures of
    the merged result, `baseline` the monolithic baseline's (or None).
    """

    report_version: int
    model: str
    release: str
    split: str
    rows: int
    rows_in_training_split: int
    holdout_rule: HoldoutRule
    groups: dict[str, dict[str, Any]]
    merged: dict[str, Any]
    warnings: list[str]
    baseline: dict[str, Any] | None
    comparison: list[ComparisonRow]
    curves: dict[str, list[dict[str, Any]]]
    audit: NotRequired[dict[str, Any]]  # with `compose evaluate --audit`: the `compose audit` report
    monitoring: NotRequired[dict[str, Any]]  # the `compose monitor` report, rendered as the monitoring section
    hierarchical: NotRequired[dict[str, dict[str, Any]]]  # per hierarchy group (compose.evaluation.hierarchy)


#: A label with fewer examples than this in the evaluated rows is reported in `warnings`.
MIN_SUPPORT = 10
REPORT_VERSION = 1


def composed_predictions(model: ComposedModel, data: Any, on_rows: Callable[[int], None] | None = None,
                         batch_size: int = 20_000) -> dict[str, GroupPrediction]:
    """Each group's decisions as the merged result gives them (abstained and skipped rows empty).

    The rows are predicted `batch_size` at a time; `on_rows(n)` is called after each batch (progress).
    """
    df = as_frame(data)
    if on_rows is None or len(df) <= batch_size:
        found = _predictions(model, df)
        if on_rows is not None:
            on_rows(len(df))
        return found
    parts: list[dict[str, GroupPrediction]] = []
    for start in range(0, len(df), batch_size):
        batch = df.iloc[start:start + batch_size].reset_index(drop=True)
        batch.attrs["source"], batch.attrs["first_row"] = df.attrs.get("source", "the data"), start
        parts.append(_predictions(model, batch))
        on_rows(len(batch))
    return {g: GroupPrediction(_joined([p[g].indicator for p in parts]), _joined([p[g].scores for p in parts]),
                               _joined([p[g].deliberate_empty for p in parts]), _joined([p[g].not_run for p in parts]))
            for g in parts[0]}


def _joined(arrays: list[Any]) -> Any:
    return None if arrays[0] is None else np.concatenate(arrays)


def _predictions(model: ComposedModel, data: pd.DataFrame) -> dict[str, GroupPrediction]:
    _, outputs = model.run(data)
    out: dict[str, GroupPrediction] = {}
    for group, o in outputs.items():
        k = len(model.heads_[group].labels)
        if model.schema.groups[group].type == "multilabel":
            indicator = (o.decided.chosen * o.applied[:, None]).astype(np.int8)
            empty = ~o.applied
        else:
            indicator = one_hot(np.where(o.applied, o.decided.chosen, -1), k)
            empty = ~o.applied | o.decided.abstained
        out[group] = GroupPrediction(indicator, o.scores, empty, ~o.applied)
    return out


def _truth(kind: str, t: GroupTargets) -> np.ndarray:
    return t.y.astype(np.int8) if kind == "multilabel" else one_hot(t.y, len(t.labels))


def score(model_groups: list[str], kinds: Mapping[str, str], targets: dict[str, GroupTargets],
          predictions: dict[str, GroupPrediction], scope: np.ndarray) -> dict[str, Any]:
    """`groups` and `merged` figures of one model's predictions on the labelled rows in `scope`."""
    groups: dict[str, Any] = {}
    masks: dict[str, np.ndarray] = {}
    for group in model_groups:
        if group not in targets:
            continue
        t, p, kind = targets[group], predictions[group], kinds[group]
        mask = t.labelled & scope
        rows = np.flatnonzero(mask)
        y_true = t.y[rows]
        scores = None if p.scores is None else p.scores[rows]
        known = None if t.known is None else t.known[rows]
        m = group_metrics(kind, y_true, p.indicator[rows], t.labels, scores=scores,
                          deliberate_empty=p.deliberate_empty[rows], known=known)
        m["kind"] = kind
        m["coverage"] = round(float(mask.sum() / max(scope.sum(), 1)), 4)
        if scores is not None and len(rows):
            calibration = calibration_metrics(kind, y_true, scores, known=known)
            m["brier"], m["ece"] = calibration["brier"], calibration["ece"]
            m["reliability"] = calibration["reliability"]
        if p.not_run is not None:
            m["skipped_by_when"] = int(p.not_run[rows].sum())
        groups[group] = m
        masks[group] = mask
    truths = {g: _truth(kinds[g], targets[g]) for g in masks}
    known_cells = {g: k for g in masks if (k := targets[g].known) is not None}
    return {"groups": groups, "merged": merged_metrics(truths, predictions, masks, kinds, known_cells)}


def rare_label_warnings(targets: dict[str, GroupTargets], scope: np.ndarray, split: str) -> list[str]:
    """One line per group naming its labels with fewer than MIN_SUPPORT examples in `scope`."""
    lines = []
    for group, t in targets.items():
        rows = t.labelled & scope
        counts = t.y[rows].sum(axis=0) if t.y.ndim == 2 else np.bincount(t.y[rows], minlength=len(t.labels))
        rare = [f"{label} ({int(c)})" for label, c in zip(t.labels, counts, strict=True) if c < MIN_SUPPORT]
        if rare:
            lines.append(f"group {group!r}: {len(rare)} label{'s' * (len(rare) > 1)} with fewer than {MIN_SUPPORT} "
                         f"examples in the {split} rows, whose figures are noise: {', '.join(rare)}")
    return lines


def evaluate(model: ComposedModel, data: Any, *, split: Split | None = None, baseline: Baseline | None = None,
             n_jobs: int | None = None, on_rows: Callable[[int], None] | None = None) -> EvaluationReport:
    """Metrics per group and over the merged result, optionally beside a monolithic baseline.

    `on_rows(n)` is called as rows are predicted (progress).

    `split` picks rows by the training holdout rule; it defaults to "holdout" with a baseline
    (the baseline is fitted on the file's training-split rows, so only the holdout is unseen by
    both models) and to "all" without one.
    """
    chosen_split: Split = split if split is not None else ("holdout" if baseline else "all")
    df = as_frame(data)
    schema = model.schema
    inputs = prepare_inputs(df, schema)
    targets = parse_targets(df, schema, model.groups)
    if not targets:
        raise DataError(f"{df.attrs.get('source', 'the data')}: no group column to evaluate; expected one of "
                        f"{model.groups}")
    hold = holdout_mask(split_hashes(df, inputs, schema), schema.training.holdout)
    scope = {"all": np.ones(len(df), dtype=bool), "holdout": hold, "train": ~hold}[chosen_split]
    kinds = {g: schema.groups[g].type for g in schema.groups}
    predictions = composed_predictions(model, df, on_rows)
    scored = score(model.groups, kinds, targets, predictions, scope)
    for group, m in scored["groups"].items():
        m["version"] = model.version_of(group)
    report: EvaluationReport = {
        "report_version": REPORT_VERSION, "model": schema.name, "release": model.release_name,
        "split": chosen_split, "rows": int(scope.sum()), "rows_in_training_split": int((scope & ~hold).sum()),
        "holdout_rule": {"fraction": schema.training.holdout, "seed": schema.training.seed,
                         "rows": "hash(inputs) < fraction: stable, not stratified"},
        "groups": scored["groups"], "merged": scored["merged"],
        "warnings": rare_label_warnings(targets, scope, chosen_split), "baseline": None, "comparison": [],
        "curves": curves_of(model, targets, predictions, scope),
    }
    if schema.hierarchies:
        report["hierarchical"] = hierarchy_report(model, df, scope)
    if not scope.any():
        report["warnings"].append(f"no rows in the {chosen_split} split of this file; nothing was evaluated")
    if report["rows_in_training_split"]:
        report["warnings"].append(f"{report['rows_in_training_split']} evaluated rows are in the training split: "
                                  "their figures are optimistic (use --split holdout for unseen rows only)")
    if baseline is not None:
        if baseline != "monolithic":
            raise DataError(f"unknown baseline {baseline!r}; the only baseline is 'monolithic'")
        train_rows = np.flatnonzero(~hold)
        if len(train_rows) == 0:
            raise DataError("the baseline needs rows outside the holdout to be fitted on; this file has none")
        mono = MonolithicBaseline(schema, n_jobs=n_jobs).fit(inputs, targets, train_rows)
        mono_scored = score(model.groups, kinds, targets, mono.predict_groups(inputs), scope)
        report["baseline"] = {**mono.describe(), **mono_scored}
        report["comparison"] = comparison_rows(report)
    return report


def curves_of(model: ComposedModel, targets: dict[str, GroupTargets], predictions: dict[str, GroupPrediction],
              scope: np.ndarray) -> dict[str, list[dict[str, Any]]]:
    """Per group, its threshold (or confidence) curves on the labelled rows in scope where its head ran."""
    out: dict[str, list[dict[str, Any]]] = {}
    for group in model.groups:
        if group not in targets:
            continue
        spec, labels = model.schema.groups[group], model.heads_[group].labels
        scores = predictions[group].scores
        if scores is None:
            continue
        rows = targets[group].labelled & scope & ~np.isnan(scores).any(axis=1)
        live = live_thresholds(spec.type, labels, spec.decision, DEFAULT_THRESHOLD)
        out[group] = [c.to_dict() for c in group_curves(group, spec.type, labels, scores[rows],
                                                        targets[group].y[rows], live)]
    return out


def comparison_rows(report: EvaluationReport) -> list[ComparisonRow]:
    """The side-by-side table: one row per group (its headline metric) and one for the merged result."""
    base = report["baseline"]
    assert base is not None  # called once the baseline is in the report
    rows: list[ComparisonRow] = []
    for group, m in report["groups"].items():
        b = base["groups"].get(group, {})
        metric = headline_metric(m["kind"])
        rows.append({"group": group, "kind": m["kind"], "n": m.get("n", 0), "metric": metric,
                     "composed": m.get(metric), "monolithic": b.get(metric),
                     "monolithic_argmax_accuracy": b.get("argmax_accuracy"),
                     "composed_invalid_rate": m.get("invalid_combination_rate"),
                     "monolithic_invalid_rate": b.get("invalid_combination_rate")})
    cm, bm = report["merged"], base["merged"]
    rows.append({"group": "(merged)", "kind": "merged", "n": cm["rows"], "metric": "subset_accuracy",
                 "composed": cm["subset_accuracy"], "monolithic": bm["subset_accuracy"],
                 "monolithic_argmax_accuracy": None,
                 "composed_invalid_rate": cm["invalid_combination_rate"],
                 "monolithic_invalid_rate": bm["invalid_combination_rate"]})
    return rows


def _f(x: Any, width: int = 8) -> str:
    return f"{x:>{width}.4f}" if isinstance(x, float) else f"{'-':>{width}}"


def _secondary(m: dict[str, Any]) -> str:
    if m["kind"] == "multilabel":
        return f"macro_f1 {m['macro_f1']}  hamming {m['hamming_loss']}  jaccard {m['jaccard']}"
    extra = f"auc {m['roc_auc']}  " if m["kind"] == "binary" else ""
    return f"{extra}balanced {m['balanced_accuracy']}  macro_f1 {m['macro_f1']}  abstain {m['abstain_rate']}"


def summary_lines(report: EvaluationReport) -> list[str]:
    """A readable table of an evaluation report for the terminal."""
    lines = [f"release {report['release']}, {report['rows']} rows ({report['split']} split)"]
    b = report.get("baseline")
    if b:
        lines.append(f"baseline: monolithic one-vs-rest, {b['tags']} tags on features {b['features']}, threshold "
                     f"{b['threshold']}, fitted on {b['train_rows']} training-split rows in {b['fit_seconds']:.1f}s")
        lines.append(f"missing labels: {b['missing_labels_note']}")
        lines.append(f"{'group':<18}{'n':>7}  {'metric':<16}{'composed':>9}{'monolith':>9}{'(argmax)':>9}  "
                     "invalid combinations: composed / monolithic")
        for r in report["comparison"]:
            lines.append(f"{r['group']:<18}{r['n']:>7}  {r['metric']:<16}{_f(r['composed'], 9)}"
                         f"{_f(r['monolithic'], 9)}{_f(r['monolithic_argmax_accuracy'], 9)}  "
                         f"{_f(r['composed_invalid_rate'], 6)} / {_f(r['monolithic_invalid_rate'], 6).strip()}")
        lines.append("(argmax: the monolithic model's accuracy if each exclusive group took its top-scoring tag "
                     "instead of every tag >= the threshold)")
    lines.append(f"{'group':<18}{'n':>7}  {'metric':<16}{'value':>8}  other")
    for group, m in report["groups"].items():
        if m.get("n", 0) == 0:
            lines.append(f"{group:<18}{0:>7}  no labelled rows")
            continue
        metric = headline_metric(m["kind"])
        lines.append(f"{group:<18}{m['n']:>7}  {metric:<16}{_f(m[metric])}  {_secondary(m)}")
    merged = report["merged"]
    lines.append(f"{'merged':<18}{merged['rows']:>7}  {'subset_accuracy':<16}{_f(merged['subset_accuracy'])}  "
                 f"hamming_loss {merged['hamming_loss']}  abstain {merged['abstain_rate']}")
    lines.extend(hierarchy_lines(report.get("hierarchical", {})))
    lines.extend(f"warning: {w}" for w in report.get("warnings", []))
    return lines
