"""Decoding a hierarchy: per-node probabilities from its heads, and the chosen path of every row.

Each head of a hierarchy gives P(child | node). A node's path probability is the product of the
conditional probabilities from the top down to it (a node with a single child passes its
probability on whole), so the scores of the children of any node sum to that node's score, at
any depth. The path is chosen top-down: at each node the most probable child, as HiClass's local
classifier per parent node does. With `min_confidence` the path stops at the deepest node whose
path probability reaches it: stopped above the top level, the row gets no label (abstained);
stopped inside the tree, its label is that inner node (stopped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from compose.schema.hierarchy import Tree

LABELLED, STOPPED, ABSTAINED, SKIPPED = 0, 1, 2, 3
OUTCOMES = ("labelled", "stopped", "abstained", "skipped")


@dataclass(frozen=True)
class Paths:
    """The decoded paths of a batch: node indices into `tree.nodes`, padded with -1.

    `scores` (n_rows, n_nodes) holds every node's path probability (NaN where the hierarchy did
    not run); `full` the greedy path down to a leaf, `path` the part kept (after `min_confidence`),
    `confidence` the path probability of the kept path's deepest node (NaN: none kept).
    """

    tree: Tree
    applied: np.ndarray
    scores: np.ndarray
    full: np.ndarray
    path: np.ndarray
    confidence: np.ndarray
    outcome: np.ndarray

    @property
    def depth(self) -> np.ndarray:
        """The number of nodes kept per row."""
        return np.asarray((self.path >= 0).sum(axis=1))

    @property
    def deepest(self) -> np.ndarray:
        """The index of each row's deepest kept node (-1: none)."""
        d = self.depth
        rows = np.arange(len(d))
        return np.where(d > 0, self.path[rows, np.maximum(d - 1, 0)], -1) if len(d) else np.zeros(0, np.int64)


def node_scores(tree: Tree, conditional: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Every node's path probability, (n, n_nodes), from each head's P(child | node) keyed by the node."""
    index = {node: j for j, node in enumerate(tree.nodes)}
    out = np.zeros((n, len(tree.nodes)))
    for parent in ("", *tree.nodes):  # preorder: a parent's score is known before its children's
        kids = tree.children.get(parent, ())
        if not kids:
            continue
        above = np.ones(n) if not parent else out[:, index[parent]]
        cond = conditional.get(parent)
        for k, child in enumerate(kids):
            out[:, index[child]] = above * (cond[:, k] if cond is not None else 1.0)
    return out


def decode(tree: Tree, conditional: Mapping[str, np.ndarray], applied: np.ndarray,
           min_confidence: float | None) -> Paths:
    """The paths of a batch: `conditional` maps each node with a head to its (n, n_children) probabilities."""
    n = len(applied)
    scores = node_scores(tree, {k: np.nan_to_num(v, nan=0.0) for k, v in conditional.items()}, n)
    index = {node: j for j, node in enumerate(tree.nodes)}
    width = max(tree.max_depth, 1)
    full = np.full((n, width), -1, dtype=np.int64)
    current = np.full(n, -1, dtype=np.int64)  # -1: the root
    for d in range(width):
        for parent in ("", *tree.nodes):
            kids = tree.children.get(parent, ())
            if not kids or (tree.depth[parent] if parent else 0) != d:
                continue
            rows = np.flatnonzero(current == (index[parent] if parent else -1))
            if len(rows):
                cols = np.array([index[k] for k in kids], dtype=np.int64)
                full[rows, d] = cols[scores[np.ix_(rows, cols)].argmax(axis=1)]
        current = np.where(full[:, d] >= 0, full[:, d], -2)  # -2: the path has ended
    chosen = np.where(full >= 0, np.take_along_axis(scores, np.maximum(full, 0), axis=1), -1.0)
    keep = full >= 0
    if min_confidence is not None:
        keep &= chosen >= min_confidence
        keep = np.cumprod(keep, axis=1).astype(bool)  # a path stops at its first node below the bar
    path = np.where(keep, full, -1)
    kept = keep.sum(axis=1)
    rows = np.arange(n)
    confidence = np.where(kept > 0, chosen[rows, np.maximum(kept - 1, 0)], np.nan) if n else np.zeros(0)
    outcome = np.where(kept == 0, ABSTAINED, np.where(kept < (full >= 0).sum(axis=1), STOPPED, LABELLED))
    outcome = np.where(applied, outcome, SKIPPED).astype(np.int8)
    path[~applied] = -1
    return Paths(tree, applied, np.where(applied[:, None], scores, np.nan), full, path,
                 np.where(applied, confidence, np.nan), outcome)
