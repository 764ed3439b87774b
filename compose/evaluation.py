"""Evaluation of a loaded release on labelled data: per group and over the merged result.

Every figure is computed only on the cells labelled for it. The merged figures count, per row,
the groups labelled in that row: subset accuracy (every labelled group right) and Hamming loss
(over every label of every labelled group, as 0/1 cells).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from compose.data import as_frame, holdout_mask, parse_targets, prepare_inputs, row_hashes
from compose.errors import DataError
from compose.metrics import group_metrics
from compose.runtime import ComposedModel

Split = Literal["all", "holdout", "train"]


def _indicator(kind: str, chosen: np.ndarray, n_labels: int) -> np.ndarray:
    """0/1 label matrix from decisions (rows with no label are all zeros)."""
    if kind == "multilabel":
        return chosen.astype(np.int8)
    out = np.zeros((len(chosen), n_labels), dtype=np.int8)
    ok = chosen >= 0
    out[np.flatnonzero(ok), chosen[ok]] = 1
    return out


def evaluate(model: ComposedModel, data: Any, *, split: Split = "all") -> dict[str, Any]:
    """Metrics per group and over the merged result; see the module docstring for the definitions."""
    df = as_frame(data)
    schema = model.schema
    inputs = prepare_inputs(df, schema)
    targets = parse_targets(df, schema, model.groups)
    if not targets:
        raise DataError(f"{df.attrs.get('source', 'the data')}: no group column to evaluate; expected one of "
                        f"{model.groups}")
    hold = holdout_mask(row_hashes(inputs, schema.training.seed), schema.training.holdout)
    scope = {"all": np.ones(len(df), dtype=bool), "holdout": hold, "train": ~hold}[split]
    _, outputs = model.run(inputs)
    report: dict[str, Any] = {"release": model.release_name, "split": split, "rows": int(scope.sum()),
                              "rows_in_training_split": int((scope & ~hold).sum()), "groups": {}}
    n = len(df)
    cells_wrong = np.zeros(n)
    cells_total = np.zeros(n)
    row_right = np.ones(n, dtype=bool)
    row_labelled = np.zeros(n, dtype=bool)
    for group, t in targets.items():
        spec = schema.groups[group]
        out = outputs[group]
        mask = t.labelled & scope
        rows = np.flatnonzero(mask)
        labels = t.labels
        if spec.type == "multilabel":
            pred = out.decided.chosen * out.applied[:, None]
        else:
            pred = np.where(out.applied, out.decided.chosen, -1)
        truth_ind = _indicator(spec.type, t.y, len(labels)) if spec.type != "multilabel" else t.y
        pred_ind = _indicator(spec.type, pred, len(labels))
        if spec.type == "multilabel":
            m = group_metrics(spec.type, t.y[rows], pred_ind[rows], labels)
        else:
            m = group_metrics(spec.type, t.y[rows], pred[rows], labels)
            m["abstain_rate"] = round(float((pred[rows] < 0).mean()), 4) if len(rows) else None
        m["coverage"] = round(float(mask.sum() / max(scope.sum(), 1)), 4)
        m["skipped_by_when"] = int((~out.applied[rows]).sum())
        m["version"] = model.version_of(group)
        report["groups"][group] = m
        wrong = (truth_ind != pred_ind).sum(axis=1)
        cells_wrong += np.where(mask, wrong, 0)
        cells_total += np.where(mask, len(labels), 0)
        row_right &= ~mask | (wrong == 0)
        row_labelled |= mask
    labelled_rows = np.flatnonzero(row_labelled)
    report["merged"] = {
        "rows": len(labelled_rows),
        "subset_accuracy": round(float(row_right[labelled_rows].mean()), 4) if len(labelled_rows) else None,
        "hamming_loss": round(float(cells_wrong.sum() / cells_total.sum()), 4) if cells_total.sum() else None,
    }
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A readable table of an evaluation report for the terminal."""
    lines = [f"release {report['release']}, {report['rows']} rows ({report['split']})"]
    if report["rows_in_training_split"]:
        lines.append(f"note: {report['rows_in_training_split']} of these rows were in the training split; "
                     "their figures are optimistic (use --split holdout for unseen rows only)")
    lines.append(f"{'group':<18}{'n':>7}  {'metric':<16}{'value':>7}  other")
    for group, m in report["groups"].items():
        if m.get("n", 0) == 0:
            lines.append(f"{group:<18}{0:>7}  no labelled rows")
            continue
        if "micro_f1" in m:
            main, other = ("micro_f1", m["micro_f1"]), f"macro_f1 {m['macro_f1']}  hamming {m['hamming_loss']}"
        else:
            main = ("accuracy", m["accuracy"])
            other = f"balanced {m['balanced_accuracy']}  macro_f1 {m['macro_f1']}  abstain {m['abstain_rate']}"
        lines.append(f"{group:<18}{m['n']:>7}  {main[0]:<16}{main[1]:>7.4f}  {other}")
    merged = report["merged"]
    lines.append(f"{'merged':<18}{merged['rows']:>7}  {'subset_accuracy':<16}"
                 f"{merged['subset_accuracy'] if merged['subset_accuracy'] is not None else float('nan'):>7.4f}  "
                 f"hamming_loss {merged['hamming_loss']}")
    return lines
