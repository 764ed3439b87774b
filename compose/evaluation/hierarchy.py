"""The `hierarchical` part of an evaluation report: per hierarchy group, its path metrics.

Per hierarchy: hierarchical precision, recall and F over the path node sets and per level,
accuracy per level (`compose.metrics.hierarchical_metrics`), the share of results stopped at each
depth, and each parent node's accuracy (its head's choice, on the rows whose true path and
predicted path both pass through it), for the tree picture of the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from compose.data.hierarchy import cell_paths
from compose.data.targets import split_tags
from compose.metrics import hierarchical_metrics, stopped_shares
from compose.runtime.hierarchy import HierarchyColumns, hierarchy_columns
from compose.runtime.model import ComposedModel


def hierarchy_report(model: ComposedModel, df: pd.DataFrame, scope: np.ndarray) -> dict[str, dict[str, Any]]:
    """The hierarchical figures of every hierarchy group with a column in `df`, on the rows in `scope`."""
    trees = {n: t for n, t in model.schema.hierarchies.items() if n in df.columns and n in model.heads_}
    if not trees or not scope.any():
        return {}
    part = split_tags(df.iloc[np.flatnonzero(scope)].reset_index(drop=True), model.schema)
    part.attrs = dict(df.attrs)
    _, outputs = model.run(part)
    columns = hierarchy_columns(model, outputs)
    return {name: _one(columns[name], cell_paths(part, tree)) for name, tree in trees.items() if name in columns}


def _one(c: HierarchyColumns, true: list[list[str] | None]) -> dict[str, Any]:
    tree = c.tree
    nodes = tree.nodes
    rows = [i for i, t in enumerate(true) if t]
    pred = [[nodes[j] for j in c.paths.path[i] if j >= 0] for i in rows]
    truth = [list(true[i] or []) for i in rows]
    out = hierarchical_metrics(truth, pred, tree.max_depth)
    kept = c.paths.depth[rows] if rows else np.zeros(0, dtype=np.int64)
    full = (c.paths.full[rows] >= 0).sum(axis=1) if rows else np.zeros(0, dtype=np.int64)
    out["stopped"] = stopped_shares(kept, full, tree.max_depth)
    out["nodes"] = _node_accuracy(c, truth, rows)
    out["min_confidence"] = c.min_confidence
    return out


def _node_accuracy(c: HierarchyColumns, truth: list[list[str]], rows: list[int]) -> list[dict[str, Any]]:
    """Per parent node with a head: how often its head chose the right child, where it had to choose."""
    tree = c.tree
    out: list[dict[str, Any]] = []
    for head, node in tree.heads().items():
        d = tree.depth.get(node, 0)
        n = right = 0
        for k, i in enumerate(rows):
            t = truth[k]
            full = [tree.nodes[j] for j in c.paths.full[i] if j >= 0]
            if len(t) > d and (not node or (t[d - 1] == node and len(full) >= d and full[d - 1] == node)):
                n += 1
                right += int(len(full) > d and full[d] == t[d])
        out.append({"node": node or None, "head": head, "depth": d, "n": n,
                    "accuracy": round(right / n, 4) if n else None})
    return out


def summary_lines(report: dict[str, dict[str, Any]]) -> list[str]:
    """The hierarchical figures as lines for the terminal."""
    lines: list[str] = []
    for name, m in report.items():
        lines.append(f"hierarchy {name}: {m['n']} rows, hierarchical F {m['hierarchical_f1']:.4f} "
                     f"(precision {m['hierarchical_precision']:.4f}, recall {m['hierarchical_recall']:.4f})")
        for level in m["levels"]:
            acc = "-" if level["accuracy"] is None else f"{level['accuracy']:.4f}"
            lines.append(f"  level {level['level']}: {level['n']} rows, accuracy {acc}, "
                         f"hierarchical F {level['hierarchical_f1']:.4f}")
        stopped = ", ".join(f"depth {d}: {s:.1%}" for d, s in m["stopped"].items() if s)
        if stopped:
            lines.append(f"  stopped before a leaf: {stopped}")
    return lines
