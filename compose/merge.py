"""The merged result: one answer per row with a flat label list and the detail of every group."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from compose.runtime import ComposedModel, GroupOutput


def _score(x: float) -> float:
    return round(float(x), 4)


def group_result(model: ComposedModel, output: GroupOutput, r: int) -> dict[str, Any]:
    """The result of one group for row r."""
    group = output.group
    spec = model.schema.groups[group]
    labels = model.heads_[group].labels
    version = model.version_of(group)
    if not output.applied[r]:
        if spec.type == "multilabel":
            return {"labels": [], "skipped": output.skipped_reason[r], "version": version}
        return {"label": None, "confidence": None, "skipped": output.skipped_reason[r], "version": version}
    scores = {label: _score(s) for label, s in zip(labels, output.scores[r], strict=True)}
    if spec.type == "multilabel":
        chosen = [labels[j] for j in np.flatnonzero(output.decided.chosen[r])]
        return {"labels": chosen, "scores": scores, "version": version}
    c = int(output.decided.chosen[r])
    confidence = float(output.decided.confidence[r])
    out: dict[str, Any] = {
        "label": labels[c] if c >= 0 else None,
        "confidence": None if math.isnan(confidence) else _score(confidence),
        "scores": scores,
        "version": version,
    }
    if output.decided.abstained[r]:
        out["abstained"] = (f"confidence {confidence:.2f} of {labels[int(output.scores[r].argmax())]!r} is "
                            f"below min_confidence {spec.decision.min_confidence}")
    return out


def merged_results(model: ComposedModel, outputs: dict[str, GroupOutput]) -> list[dict[str, Any]]:
    n = len(next(iter(outputs.values())).applied) if outputs else 0
    results: list[dict[str, Any]] = []
    for r in range(n):
        flat: list[str] = []
        groups: dict[str, Any] = {}
        for group, output in outputs.items():
            res = group_result(model, output, r)
            groups[group] = res
            if "labels" in res:
                flat.extend(res["labels"])
            elif res.get("label") is not None:
                flat.append(res["label"])
        results.append({"labels": flat, "groups": groups, "release": model.release_name})
    return results


def results_frame(model: ComposedModel, outputs: dict[str, GroupOutput]) -> pd.DataFrame:
    """A flat table: `<group>` (label, or labels joined by '|') and `<group>_confidence` per group."""
    columns: dict[str, Any] = {}
    for group, output in outputs.items():
        labels = model.heads_[group].labels
        if model.schema.groups[group].type == "multilabel":
            columns[group] = [
                "|".join(labels[j] for j in np.flatnonzero(row)) if ok else None
                for row, ok in zip(output.decided.chosen, output.applied, strict=True)
            ]
            for j, label in enumerate(labels):
                columns[f"{group}_score_{label}"] = np.round(output.scores[:, j], 4)
        else:
            columns[group] = [labels[c] if ok and c >= 0 else None
                              for c, ok in zip(output.decided.chosen, output.applied, strict=True)]
            columns[f"{group}_confidence"] = np.where(output.applied, np.round(output.decided.confidence, 4), np.nan)
    frame = pd.DataFrame(columns)
    frame["release"] = model.release_name
    return frame
