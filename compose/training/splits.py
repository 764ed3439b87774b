"""Which labelled rows of a group are trained on and which are held out.

A row is held out when a seeded hash of its input values falls in the lowest `training.holdout`
fraction: the hash ignores labels and row order, so a row is held out every time it is seen. The
holdout is then topped up per label (rarest first, lowest hashes first) so that every label with
enough rows has its share held out, as iterative stratification does. Rows that share a hash (a
table that repeats its inputs, or `training.group_by`) move together: no copy of a held-out row
is ever trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compose.data.targets import GroupTargets, outside_when
from compose.schema.models import Schema


@dataclass
class GroupRows:
    """The training and holdout row indices of one group, with its label array.

    `known` (multilabel groups with per-label truth cells) is the (n_rows, n_labels) mask of the
    cells whose truth is known: label j is trained and evaluated only on its known rows.
    """

    group: str
    train: np.ndarray
    holdout: np.ndarray
    y: np.ndarray
    excluded_by_when: int
    known: np.ndarray | None = None

    def label_train(self, j: int) -> np.ndarray:
        """The training rows of label `j` of a multilabel group: those where it is known."""
        return self.train if self.known is None else self.train[self.known[self.train, j]]


def select_rows(schema: Schema, group: str, targets: dict[str, GroupTargets], hold: np.ndarray,
                 hashes: np.ndarray, n: int | None = None, *, keys: bool = True) -> GroupRows:
    """The training and held-out rows of `group`; a group without targets (a zero-shot group with no
    labels at all, `n` rows) has none. `keys`: `hashes` are the split keys (with `training.group_by`,
    the stored samples' input hashes are not: their stored split is kept as it is, not topped up)."""
    if group not in targets:
        rows = len(hashes) if n is None else n
        none = np.zeros(0, dtype=np.intp)
        return GroupRows(group, none, none, np.full(rows, -1, dtype=np.int64), 0)
    t = targets[group]
    off = t.labelled & outside_when(schema.groups[group].when, targets, len(t.labelled))
    mask = t.labelled & ~off
    excluded = int(off.sum())
    held = _top_up_groups(mask, hold, t.y, hashes, schema.training.holdout) if keys else mask & hold
    return GroupRows(group, np.flatnonzero(mask & ~held), np.flatnonzero(held), t.y, excluded, t.known)


def _top_up_groups(mask: np.ndarray, hold: np.ndarray, y: np.ndarray, hashes: np.ndarray,
                   fraction: float) -> np.ndarray:
    """`top_up` over groups of rows that share a hash (equal inputs, or `training.group_by`): whole
    groups move. With a hash per row it is `top_up` itself.

    Each group counts once per label it holds, so a label spread over few groups is not held out
    whole because one of its groups has many rows.
    """
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return np.zeros(len(mask), dtype=bool)
    keys, first, inverse = np.unique(hashes[rows], return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    # a group holds every label of its rows (whatever their order): a one-hot row per group
    onehot = y[rows] if y.ndim == 2 else y[rows][:, None] == np.arange(int(y[rows].max()) + 1)[None, :]
    gy = np.zeros((len(keys), onehot.shape[1]), dtype=np.int8)
    np.maximum.at(gy, inverse, onehot.astype(np.int8))
    g_held = top_up(hold[rows][first], np.ones(len(keys), dtype=bool), gy, keys, fraction)
    held = np.zeros(len(mask), dtype=bool)
    held[rows] = g_held[inverse]
    return held


def top_up(held: np.ndarray, mask: np.ndarray, y: np.ndarray, hashes: np.ndarray, fraction: float) -> np.ndarray:
    """Stratify the hash holdout: every label gets at least floor(fraction * its rows) held out.

    Labels are served rarest first (as in iterative stratification); a label short of its share
    takes its lowest-hash training rows, so the choice depends on row content, not on row order.
    """
    held = held.copy()
    onehot = y.astype(bool) if y.ndim == 2 else (y[:, None] == np.arange(max(int(y.max()) + 1, 1))[None, :])
    onehot &= mask[:, None]
    for j in np.argsort(onehot.sum(axis=0), kind="stable"):
        rows = onehot[:, j]
        missing = int(fraction * rows.sum()) - int((rows & held).sum())
        if missing > 0:
            candidates = np.flatnonzero(rows & ~held)
            held[candidates[np.argsort(hashes[candidates], kind="stable")[:missing]]] = True
    return held
