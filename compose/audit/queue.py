"""The labelling queue: which unannotated rows to label next for one group, most informative first.

The live head scores every row not annotated for the group (rows where a conditional group is
gated off are left out: labelling them would not change what it answers), and a strategy ranks
them by how unsure the head is:

- `margin` (default): the gap between the two best labels (multilabel: the label closest to its
  threshold), smallest first;
- `entropy`: the entropy of the label distribution (multilabel: the summed binary entropies),
  largest first;
- `least`: one minus the best label's score (multilabel: the most uncertain label), largest first.

The output has the row's id, its input columns and an EMPTY column for the group, ready to be
filled in and fed to `compose learn` (or `compose retrain`) as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from compose.audit.labels import sample_ids, stored_rows
from compose.data.io import as_frame, source_of
from compose.data.targets import parse_targets, prepare_inputs
from compose.errors import DataError
from compose.heads.decide import thresholds_of
from compose.runtime.load import load
from compose.runtime.model import ComposedModel

Strategy = Literal["margin", "entropy", "least"]
STRATEGIES: tuple[str, ...] = ("margin", "entropy", "least")
_EPS = 1e-12


def uncertainty(scores: np.ndarray, kind: str, strategy: str, thresholds: np.ndarray | None = None) -> np.ndarray:
    """How unsure each row's scores are: larger is more informative, for every strategy."""
    if strategy not in STRATEGIES:
        raise DataError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")
    p = np.clip(scores, _EPS, 1.0 - _EPS)
    if kind == "multilabel":
        t = thresholds if thresholds is not None else np.full(p.shape[1], 0.5)
        if strategy == "margin":
            return np.asarray(-np.abs(p - t).min(axis=1))
        binary = -(p * np.log(p) + (1 - p) * np.log(1 - p))
        return np.asarray(binary.sum(axis=1) if strategy == "entropy" else binary.max(axis=1))
    if strategy == "margin":
        top = np.sort(p, axis=1)[:, -2:]
        return np.asarray(-(top[:, -1] - top[:, 0]) if p.shape[1] > 1 else -top[:, -1])
    if strategy == "entropy":
        q = p / p.sum(axis=1, keepdims=True)
        return np.asarray(-(q * np.log(q)).sum(axis=1))
    return np.asarray(1.0 - p.max(axis=1))


@dataclass
class Queue:
    """The ranked rows (`frame`: id, inputs, the empty group column) and their informativeness
    (`scores`: larger first; for `margin` it is minus the margin)."""

    group: str
    strategy: str
    candidates: int
    source: str
    frame: pd.DataFrame
    scores: np.ndarray

    def lines(self, top: int = 10) -> list[str]:
        out = [f"queue for {self.group} ({self.strategy}): {len(self.frame)} of {self.candidates} unannotated "
               f"rows of {self.source}, most informative first"]
        for i in range(min(top, len(self.frame))):
            value = -self.scores[i] if self.strategy == "margin" else self.scores[i]
            out.append(f"  {self.frame['id'].iloc[i]:<20} {self.strategy} {value:.4f}")
        return out


def queue_model(model: ComposedModel, group: str, data: Any, *, n: int = 100, strategy: str = "margin",
                exclude: Sequence[str] = ()) -> Queue:
    """The `n` rows of `data` not annotated for `group` that the live head is least sure about."""
    if group not in model.heads_:
        raise DataError(f"unknown group {group!r}; release {model.release_name} has {model.groups}")
    if n < 1:
        raise DataError(f"--n must be at least 1; got {n}")
    df = as_frame(data)
    schema = model.schema
    inputs = prepare_inputs(df, schema)
    unlabelled = np.ones(len(df), dtype=bool)
    if group in df.columns:
        unlabelled = ~parse_targets(df, schema, [group])[group].labelled
    ids = sample_ids(df, inputs, schema.training.seed)
    if exclude:
        unlabelled &= ~np.isin(np.asarray(ids, dtype=object), list(exclude))
    rows = np.flatnonzero(unlabelled)
    scores = model.predict_scores(inputs.iloc[rows].reset_index(drop=True))[group]
    applied = ~np.isnan(scores).any(axis=1)  # a conditional head gated off on that row
    rows, scores = rows[applied], scores[applied]
    spec = schema.groups[group]
    th = thresholds_of(spec, model.heads_[group].labels) if spec.type == "multilabel" else None
    u = uncertainty(scores, spec.type, strategy, th)
    order = np.argsort(-u, kind="stable")
    _, first = np.unique(np.asarray([ids[r] for r in rows[order]], dtype=object), return_index=True)
    order = order[np.sort(first)][:n]  # a sample (same id: same inputs) is queued once
    picked = rows[order]
    keep = [c for c in df.columns if c not in schema.groups and c != "id"]  # inputs and context, as given
    frame = df.iloc[picked][keep].reset_index(drop=True)
    frame.insert(0, "id", [ids[r] for r in picked])
    frame[group] = ""
    return Queue(group, strategy, len(rows), source_of(df), frame, u[order])


def queue(store: str | Path, group: str, *, data: Any = None, n: int = 100, strategy: str = "margin",
          model: str | None = None) -> Queue:
    """The rows to label next for `group` of the live release in `store`: from `data`, or by
    default from the samples the sample store holds without an annotation for `group` (rows added
    by `compose learn`, `POST /v1/samples` and invocations captured by `compose serve --capture`)."""
    live = load(store, model=model)
    if data is None:
        data = stored_rows(store, model)
    return queue_model(live, group, data, n=n, strategy=strategy)
