"""The `hierarchical` part of an evaluation report: per hierarchy group, its path metrics.

Per hierarchy: hierarchical precision, recall and F over the path node sets and per level,
accuracy per level (`compose.metrics.hierarchical_metrics`), the share of results stopped at each
depth, and each parent node's accuracy (its head's choice, on the rows whose true path and
predicted path both pass through it), for the tree picture of the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from compose.data.hierarchy import cell_paths
from compose.data.targets import split_tags
from compose.metrics import hierarchical_metrics, stopped_shares
from compose.runtime.hierarchy import HierarchyColumns, hierarchy_columns
from compose.runtime.model import ComposedModel
from compose.schema.hierarchy import Tree


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


#: A tree picture shows its leaves up to this many; a larger tree is drawn down to its parent nodes.
MAX_DRAWN_LEAVES = 40


def hierarchy_html(report: dict[str, dict[str, Any]], trees: Mapping[str, Tree] | None = None) -> str:
    """The report's hierarchy section: per group a table of the levels and a tree picture of the
    per-node accuracy (matplotlib's `Figure`, no pyplot). `trees` maps a group to its `Tree`."""
    import html

    esc = html.escape
    parts: list[str] = []
    for name, m in report.items():
        parts.append(f"<h2>{esc(name)} <span class='note'>(hierarchy, {m['n']} labelled rows)</span></h2>")
        parts.append(f"<p>Hierarchical F {m['hierarchical_f1']:.4f} (precision {m['hierarchical_precision']:.4f}, "
                     f"recall {m['hierarchical_recall']:.4f}), over path node sets.</p>")
        parts.append("<table><tr><th>level</th><th>rows</th><th>accuracy</th><th>hier. precision</th>"
                     "<th>hier. recall</th><th>hier. F</th><th>stopped here</th></tr>")
        for lv in m["levels"]:
            acc = "-" if lv["accuracy"] is None else f"{lv['accuracy']:.4f}"
            stopped = m["stopped"].get(str(lv["level"]), 0.0)
            parts.append(f"<tr><td>{lv['level']}</td><td>{lv['n']}</td><td>{acc}</td>"
                         f"<td>{lv['hierarchical_precision']:.4f}</td><td>{lv['hierarchical_recall']:.4f}</td>"
                         f"<td>{lv['hierarchical_f1']:.4f}</td><td>{stopped:.1%}</td></tr>")
        parts.append(f"<tr><td>none</td><td colspan='5'>no label at all</td><td>{m['stopped'].get('0', 0.0):.1%}"
                     "</td></tr></table>")
        tree = (trees or {}).get(name)
        if tree is not None:
            parts.append(f'<img alt="{esc(name)} accuracy per node" src="{_tree_figure(tree, m["nodes"])}">')
    return "".join(parts)


def _tree_figure(tree: Tree, nodes: list[dict[str, Any]]) -> str:
    """The tree drawn left to right, each parent node coloured by its head's accuracy."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from compose.evaluation.sections import figure_uri

    accuracy = {(n["node"] or ""): n for n in nodes}
    leaves = [x for x in tree.nodes if tree.is_leaf(x)]
    shown = [x for x in ("", *tree.nodes) if len(leaves) <= MAX_DRAWN_LEAVES or not tree.is_leaf(x)]
    ys = _positions(tree, set(shown))
    fig = Figure(figsize=(3.2 * (tree.max_depth + 1), max(2.5, 0.28 * max(len(ys), 1))))
    ax = fig.add_subplot(1, 1, 1)
    cmap = colormaps["RdYlGn"]
    for x in shown:
        d = tree.depth.get(x, 0)
        for k in tree.children.get(x, ()):
            if k in shown:
                ax.plot([d, d + 1], [ys[x], ys[k]], color="#bbbbbb", linewidth=0.8, zorder=1)
        info = accuracy.get(x) or {}
        acc = info.get("accuracy")
        label = (x or tree.group) + ("" if acc is None else f"  {acc:.2f} (n={info['n']})")
        colour = "#eeeeee" if acc is None else cmap(acc)
        ax.text(d, ys[x], label, fontsize=7, va="center", ha="left", zorder=2,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": colour, "edgecolor": "#888888"})
    ax.set_xlim(-0.1, tree.max_depth + 1.2)
    ax.set_ylim(-1, max(ys.values(), default=0) + 1)
    ax.invert_yaxis()  # the first node on top
    ax.axis("off")
    ax.set_title(f"{tree.group}: accuracy of each parent node's head (green 1, red 0)", fontsize=9)
    return figure_uri(fig)


def _positions(tree: Tree, shown: set[str]) -> dict[str, float]:
    """A row per drawn node without drawn children (in preorder), a parent halfway between its children."""
    ys: dict[str, float] = {}

    def place(x: str) -> float:
        kids = [k for k in tree.children.get(x, ()) if k in shown]
        ys[x] = float(np.mean([place(k) for k in kids])) if kids else float(sum(
            1 for n in ys if not [k for k in tree.children.get(n, ()) if k in shown]))
        return ys[x]

    place("")
    return ys
