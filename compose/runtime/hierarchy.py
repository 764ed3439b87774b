"""The results of a hierarchy group: its heads' outputs decoded into one path per row.

A hierarchy's heads run like any group's (each on every row its `when` allows); here they are
read together (`compose.heads.hierarchy.decode`) and give the hierarchy's one result::

    {"label": "hand-fingers-open", "confidence": 0.71, "path": ["People & Body", "hand-fingers-open"],
     "path_confidence": 0.71, "scores": {<every node>: <its path probability>}, "version": 2,
     "versions": {"emoji": 2, "emoji/People & Body": 1}, "decision_version": null, "outcome": "labelled"}

With `outcome: "stopped"` the result names the node it stopped at (`stopped_at`) and why
(`reason`). Merged results, flat tables and JSON Lines all read `HierarchyColumns`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np

from compose.heads.hierarchy import ABSTAINED, OUTCOMES, SKIPPED, STOPPED, Paths, decode
from compose.runtime.outputs import GroupOutput, ModelView, gated_off
from compose.schema.hierarchy import Tree
from compose.typing import GroupResult


def hierarchy_heads(model: ModelView, outputs: Mapping[str, GroupOutput]) -> dict[str, str]:
    """Head name -> its hierarchy, for every head of a hierarchy among `outputs`."""
    out: dict[str, str] = {}
    for tree in model.schema.hierarchies.values():
        out.update({h: tree.group for h in tree.heads() if h in outputs})
    return out


@dataclass
class HierarchyColumns:
    """Everything the results of one hierarchy group read, as arrays over the batch's rows."""

    group: str
    tree: Tree
    paths: Paths
    versions: dict[str, int]
    skipped_reason: list[str | None]
    min_confidence: float | None

    @classmethod
    def of(cls, model: ModelView, tree: Tree, outputs: Mapping[str, GroupOutput]) -> HierarchyColumns:
        heads = {h: node for h, node in tree.heads().items() if h in outputs}
        root = outputs[tree.group]
        conditional = {node: outputs[h].scores for h, node in heads.items()}
        minimum = model.schema.declared_groups[tree.group].decision.min_confidence
        paths = decode(tree, conditional, np.asarray(root.applied, dtype=bool), minimum)
        return cls(tree.group, tree, paths, {h: model.version_of(h) for h in heads}, root.skipped_reason, minimum)

    kind = "hierarchy"

    @property
    def n(self) -> int:
        return len(self.paths.applied)

    @property
    def applied(self) -> np.ndarray:
        return self.paths.applied

    @property
    def labels(self) -> list[str]:
        return list(self.tree.nodes)

    @cached_property
    def chosen(self) -> np.ndarray:
        """The deepest kept node per row (-1: none)."""
        return self.paths.deepest.astype(np.int32)

    @cached_property
    def sets(self) -> tuple[np.ndarray, list[list[str]]]:
        """Every row's path as a code into the batch's distinct paths (-1: none)."""
        keys = [tuple(int(j) for j in row if j >= 0) for row in self.paths.path]
        distinct: dict[tuple[int, ...], int] = {}
        codes = np.array([distinct.setdefault(k, len(distinct)) if k else -1 for k in keys], dtype=np.int32)
        nodes = self.tree.nodes
        return codes, [[nodes[j] for j in k] for k in distinct]

    def has_sets(self) -> bool:
        return True  # the flat `labels` list holds the path

    @cached_property
    def rounded(self) -> np.ndarray:
        return np.round(self.paths.scores, 4)

    def reason(self, r: int) -> str | None:
        """Why row r's path is not a whole path down to a leaf (None when it is)."""
        code = int(self.paths.outcome[r])
        if code == SKIPPED:
            return gated_off(self.skipped_reason[r])
        if code not in (STOPPED, ABSTAINED):
            return None
        kept = int((self.paths.path[r] >= 0).sum())
        below = int(self.paths.full[r, kept])
        node = self.tree.nodes[below]
        score = float(self.paths.scores[r, below])
        where = f"stopped at {self.tree.nodes[int(self.paths.path[r, kept - 1])]!r}: " if kept else ""
        return (f"{where}path confidence {score:.2f} of {node!r} is below min_confidence "
                f"{self.min_confidence:g}")

    def dicts(self, start: int, stop: int) -> list[GroupResult]:
        """The group's result for rows start..stop."""
        codes, sets = self.sets
        nodes = self.tree.nodes
        root_version = self.versions.get(self.group)
        out: list[dict[str, Any]] = []
        for r in range(start, stop):
            code = int(self.paths.outcome[r])
            common = {"version": root_version, "versions": self.versions, "decision_version": None,
                      "outcome": OUTCOMES[code]}
            if code == SKIPPED:
                out.append({"label": None, "confidence": None, "path": [], "path_confidence": None,
                            "skipped": self.skipped_reason[r], **common, "reason": self.reason(r)})
                continue
            path = list(sets[codes[r]]) if codes[r] >= 0 else []
            confidence = float(self.paths.confidence[r])
            conf = None if np.isnan(confidence) else round(confidence, 4)
            res: dict[str, Any] = {"label": path[-1] if path else None, "confidence": conf, "path": path,
                                   "path_confidence": conf,
                                   "scores": dict(zip(nodes, self.rounded[r].tolist(), strict=True)), **common}
            if code == STOPPED:
                res["stopped_at"] = path[-1]
            if code in (STOPPED, ABSTAINED):
                res["reason"] = self.reason(r)
            out.append(res)
        return cast(list[GroupResult], out)

    def fragments(self, start: int, stop: int) -> list[str]:
        """The group's result for rows start..stop as JSON text."""
        return [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in self.dicts(start, stop)]

    def table(self) -> dict[str, Any]:
        """Flat-table columns: `<g>` (deepest node), `<g>_confidence`, `<g>_path` ('|'-joined),
        `<g>_path_confidence`, `<g>_stopped_at`, `<g>_outcome`."""
        g = self.group
        codes, sets = self.sets
        confidence = np.round(np.asarray(self.paths.confidence, dtype=np.float64), 4)
        stopped = np.where(self.paths.outcome == STOPPED, self.chosen, -1).astype(np.int32)
        return {g: (self.chosen, self.labels), f"{g}_confidence": confidence,
                f"{g}_path": (codes, ["|".join(s) for s in sets]), f"{g}_path_confidence": confidence,
                f"{g}_stopped_at": (stopped, self.labels),
                f"{g}_outcome": (self.paths.outcome.astype(np.int32), list(OUTCOMES))}


def hierarchy_columns(model: ModelView, outputs: Mapping[str, GroupOutput]) -> dict[str, HierarchyColumns]:
    """The columns of every hierarchy whose root head is among `outputs`, by group."""
    return {tree.group: HierarchyColumns.of(model, tree, outputs)
            for tree in model.schema.hierarchies.values() if tree.group in outputs}


def result_groups(model: ModelView, outputs: Mapping[str, GroupOutput]) -> list[tuple[str, HierarchyColumns | None]]:
    """The groups of a merged result in plan order: (group, None) for a plain group, (hierarchy,
    its columns) in place of a hierarchy's heads (at its root head's place)."""
    heads = hierarchy_heads(model, outputs)
    columns = hierarchy_columns(model, outputs) if heads else {}
    out: list[tuple[str, HierarchyColumns | None]] = []
    for group in outputs:
        if group not in heads:
            out.append((group, None))
        elif group in columns:
            out.append((group, columns[group]))
    return out
