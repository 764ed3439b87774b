"""The column of a hierarchy group, spread over the columns of its heads.

A cell may name any node of the tree. A leaf gives the whole path; an inner node means the label
is known only that far, so the row trains the heads above it and no other. The root's head reads
the top-level node of the path (in the group's own column), the head of node N reads the child of
N on the path, in a column `<group>/N`; where the path does not pass below N, that cell is empty
("not annotated"), so the row is left out of N's head. A head column already in the data (a frame
rebuilt from the sample store) is kept as it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from compose.data.cells import single_label
from compose.data.io import source_of
from compose.errors import DataError
from compose.schema.hierarchy import Tree
from compose.schema.models import Schema

_SHOWN = 5


def expand_columns(df: pd.DataFrame, schema: Schema, *, strict: bool = True) -> pd.DataFrame:
    """`df` with each hierarchy group's column turned into its heads' columns (the frame itself when none).

    A cell naming no node is an error naming its rows; with `strict=False` (`compose check`, which
    lists such cells itself) it stays in the group's column as it is, and the other heads' are empty.
    """
    trees = [t for t in schema.hierarchies.values() if t.group in df.columns]
    if not trees:
        return df
    out = df.copy(deep=False)
    out.attrs = dict(df.attrs)
    for tree in trees:
        paths = cell_paths(df, tree, strict=strict)
        for head, node in tree.heads().items():
            if head != tree.group and head in df.columns:
                continue
            column = _child_column(paths, tree, node, df.index)
            if head == tree.group and not strict:
                column = column.where(np.array([p is not None for p in paths], dtype=bool), df[tree.group])
            out[head] = column
    return out


def cell_paths(df: pd.DataFrame, tree: Tree, *, strict: bool = True) -> list[list[str] | None]:
    """The path of every cell of the group's column (None: empty); an unknown node is an error naming
    its rows (with `strict=False`, its path is None)."""
    codes, cells = pd.factorize(df[tree.group], use_na_sentinel=True)
    names = list(tree.nodes)
    known = set(names)
    u_paths: list[list[str] | None] = []
    bad: dict[int, str] = {}
    for u, value in enumerate(cells):
        label = single_label(value, names, False)
        if label is None:
            u_paths.append(None)
        elif label in known:
            u_paths.append(tree.path(label))
        else:
            close = difflib.get_close_matches(label, names, n=1, cutoff=0.6)
            bad[u] = f"{label!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            u_paths.append(None)
    if bad and strict:
        rows = np.flatnonzero(np.isin(codes, list(bad)))
        shown = "; ".join(f"row {r + 1}: {bad[int(codes[r])]}" for r in rows[:_SHOWN])
        more = f" (and {len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
        raise DataError(f"{source_of(df)}, column {tree.group!r}: {len(rows)} cell{'s' if len(rows) > 1 else ''} "
                        f"name no node of the hierarchy: {shown}{more}. A cell may name any node of "
                        f"groups.{tree.group}.labels; fix the cells or add the node to the tree "
                        "(rows count from 1 after the header)")
    return [u_paths[c] if c >= 0 else None for c in codes]


def _child_column(paths: list[list[str] | None], tree: Tree, node: str, index: pd.Index) -> pd.Series:
    """Per row, the child of `node` on its path (empty where the path does not go below `node`)."""
    depth = tree.depth.get(node, 0)
    values: list[str | None] = []
    for path in paths:
        if path is None or len(path) <= depth or (depth and path[depth - 1] != node):
            values.append(None)
        else:
            values.append(path[depth])
    return pd.Series(values, index=index, dtype=object)


def off_path_rows(schema: Schema, cells: Mapping[str, Sequence[str | None]]) -> dict[str, list[int]]:
    """Per head of a hierarchy (the root's aside), the rows whose known path turns away from the
    head's node: a label moved to another branch, whose old annotation for that head is stale.

    A path known only down to an ancestor of the node (a cell naming an inner node above it) does
    not turn away: a finer annotation below stays.
    """
    out: dict[str, list[int]] = {}
    for tree in schema.hierarchies.values():
        if tree.group not in cells:
            continue
        n = len(cells[tree.group])
        for head, node in tree.heads().items():
            if node and head in cells:
                rows = [r for r in range(n) if _turns_away(tree, node, cells, r)]
                if rows:
                    out[head] = rows
    return out


def _turns_away(tree: Tree, node: str, cells: Mapping[str, Sequence[str | None]], r: int) -> bool:
    for ancestor in tree.path(node):
        parent = tree.parent[ancestor]
        if len(tree.children[parent]) < 2:
            continue  # no head there: a single child follows its parent
        chosen = cells[tree.head_name(parent)][r] if tree.head_name(parent) in cells else None
        if chosen is None:
            return False
        if chosen != ancestor:
            return True
    return False


def collapse_columns(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, dict[str, int]]:
    """`df` with each hierarchy's head columns folded into the group's one column, holding the
    deepest node given (what a flat tag column split by the heads' labels gives); a row whose
    nodes are on two branches gets an empty cell, counted per group in the second value."""
    conflicts: dict[str, int] = {}
    for tree in schema.hierarchies.values():
        heads = [h for h in tree.heads() if h in df.columns]
        if tree.group not in heads:
            continue
        values: list[str | None] = []
        for given in zip(*(df[h].tolist() for h in heads), strict=True):
            nodes = [v for v in given if isinstance(v, str) and v in tree.parent]
            deepest = max(nodes, key=tree.depth.__getitem__) if nodes else None
            if deepest is not None and not set(nodes) <= set(tree.path(deepest)):
                conflicts[tree.group] = conflicts.get(tree.group, 0) + 1
                deepest = None
            values.append(deepest)
        df = df.drop(columns=[h for h in heads if h != tree.group])
        df[tree.group] = pd.Series(values, index=df.index, dtype=object)
    return df, conflicts
