"""The merged result of a few rows, built row by row: the path of `predict_one` and small batches.

For one row this is cheaper than computing every group's columns (`compose.runtime.columns`);
`Predictions` uses it up to `ROW_PATH_ROWS` rows and the column-wise builder
(`compose.runtime.columnar`) above that. Both take a result's keys, in order, from
`compose.runtime.columns.result_keys`; tests/runtime/test_result_types.py checks that both give
the same results, key by key.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from compose.heads.decide import explain
from compose.runtime.columns import OUTCOMES, SKIPPED, result_keys
from compose.runtime.hierarchy import result_groups
from compose.runtime.outputs import GroupOutput, ModelView, gated_off
from compose.store.records import decision_version
from compose.typing import GroupResult, MergedResult


def _score(x: float) -> float:
    return round(float(x), 4)


def group_result(model: ModelView, output: GroupOutput, r: int,
                 rounded: list[list[float]] | None = None) -> GroupResult:
    """The result of one group for row r (`rounded`: the group's scores rounded to 4 places, if at hand).

    Besides label(s), confidence, scores and version, every group carries `decision_version` (the
    tuned decision in force, None for the schema's own), `outcome` (`labelled`, `abstained`,
    `review`, `rejected`, `below_threshold` or `skipped`) and, when no label was given, `reason`.
    A zero-shot head's answer (a row it ran on) says `"source": "zero-shot"` right after `version`;
    a trained head's carries no `source` (it means `"model"`).
    """
    group = output.group
    spec = model.schema.groups[group]
    labels = model.heads_[group].labels
    values: dict[str, Any] = {"version": model.version_of(group),
                              "decision_version": decision_version(model.release, group)}
    if not output.applied[r]:
        return skipped_result(spec.type, output.skipped_reason[r], values["version"], values["decision_version"])
    row = rounded[r] if rounded is not None else np.round(output.scores[r], 4).tolist()
    values["scores"] = dict(zip(labels, row, strict=True))
    outcome, reason = explain(spec, labels, output.scores, output.decided, r)
    values.update(outcome=outcome, reason=reason, abstained=reason)
    source = model.heads_[group].source
    decided = output.decided
    if spec.type == "multilabel":
        values["labels"] = [labels[j] for j in np.flatnonzero(decided.chosen[r])]
    else:
        c = int(decided.chosen[r])
        confidence = float(decided.confidence[r])
        values.update(label=labels[c] if c >= 0 else None, source=source, review=True,
                      confidence=None if math.isnan(confidence) else _score(confidence),
                      candidate=labels[int(output.scores[r].argmax())])
        if decided.selected is not None:
            order = np.argsort(-output.scores[r], kind="stable")
            values["labels"] = [labels[j] for j in order if decided.selected[r, j]]
    keys = result_keys(spec.type, OUTCOMES.index(outcome), source=source != "model", sets=decided.selected is not None)
    return ordered_result(values, keys)


def ordered_result(values: dict[str, Any], keys: tuple[str, ...]) -> GroupResult:
    """The result of the keys of its outcome, in the one key order (`compose.runtime.columns.result_keys`)."""
    return cast(GroupResult, {k: values[k] for k in keys})


def skipped_result(kind: str, why: str | None, version: int, decision: int | None) -> GroupResult:
    """The result of a group on a row its `when` gated off (`why`: the gate's answer)."""
    values: dict[str, Any] = {"label": None, "confidence": None, "labels": [], "skipped": why, "version": version,
                              "decision_version": decision, "outcome": "skipped", "reason": gated_off(why)}
    return ordered_result(values, result_keys(kind, SKIPPED, source=False, sets=False))


def merged_results(model: ModelView, outputs: dict[str, GroupOutput]) -> list[MergedResult]:
    """One merged result per row; `review` lists the groups that sent the row to review (only when some did)."""
    n = len(next(iter(outputs.values())).applied) if outputs else 0
    results: list[MergedResult] = []
    rounded = {group: np.round(output.scores, 4).tolist() for group, output in outputs.items()}  # once per batch
    order = result_groups(model, outputs)  # a hierarchy's heads give one result (compose.runtime.hierarchy)
    for r in range(n):
        flat: list[str] = []
        groups: dict[str, GroupResult] = {}
        review: list[str] = []
        for group, tree in order:
            if tree is not None:
                groups[group] = tree.dicts(r, r + 1)[0]
                flat.extend(groups[group]["path"])
                continue
            res = group_result(model, outputs[group], r, rounded[group])
            groups[group] = res
            if "labels" in res:
                flat.extend(res["labels"])
            elif (label := res.get("label")) is not None:
                flat.append(label)
            if res.get("review"):
                review.append(group)
        result: MergedResult = {"labels": flat, "groups": groups, "release": model.release_name}
        if review:
            result["review"] = review
        results.append(result)
    return results
