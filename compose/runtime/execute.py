"""The execution core: gating, decisions, hierarchy paths and merged results over one `Scorer`.

A model plugs in only its scoring. A `Scorer` is bound to one batch and answers one question:
the scores of a group's head on some of the batch's rows. Everything else runs here, the same
for every model: the groups in plan order, each conditional group on the rows its `when` allows
(`compose.data.targets.in_when`, the one test of a condition), the decision of every group
(`compose.heads.decide`), and the merged results (`compose.runtime.predictions.Predictions`,
which reads a hierarchy's heads as one path). `ComposedModel` scores with its fitted (and fused)
heads, the ONNX runner (`compose.export.onnx`) with onnxruntime, and a test with a
`MockScorer`, in the spirit of httpx's `BaseTransport` and `MockTransport`::

    scorer = MockScorer(lambda group, rows: np.tile([0.2, 0.8], (len(rows), 1)), n=3)
    results = predict(model, scorer, 3)     # the merged results of 3 rows

`model` is any `Runnable`: the schema, the heads' labels, the plan order and the release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

from compose.data.targets import in_when
from compose.heads.decide import decide
from compose.runtime.outputs import GroupOutput, ModelView, gate_answer, missing_gate
from compose.runtime.predictions import Predictions


class Scorer(Protocol):
    """The scores of a group's head on a batch: what a model plugs into the core."""

    def scores(self, group: str, rows: np.ndarray | None) -> np.ndarray:
        """Scores of shape (len(rows), n_labels) in the order of the head's labels; `rows` are
        indices into the batch, None for all its rows."""
        ...


class MockScorer:
    """A `Scorer` that asks `handler(group, rows)` (rows: the batch's indices, never None): for tests."""

    def __init__(self, handler: Callable[[str, np.ndarray], np.ndarray], n: int) -> None:
        self.handler = handler
        self.n = n
        self.calls: list[tuple[str, int]] = []  # (group, rows scored), in the order the core asked

    def scores(self, group: str, rows: np.ndarray | None) -> np.ndarray:
        picked = np.arange(self.n) if rows is None else rows
        self.calls.append((group, len(picked)))
        return np.asarray(self.handler(group, picked), dtype=np.float64)


class Runnable(ModelView, Protocol):
    """What the core reads of a model: `ModelView` (merging's) plus the groups in plan order."""

    @property
    def groups(self) -> list[str]: ...


def gate(model: Runnable, group: str, n: int, outputs: Mapping[str, GroupOutput]
         ) -> tuple[np.ndarray, list[str | None]]:
    """The rows `group` runs on (its `when` against the gates' decided labels) and, for each row it
    does not run on, the gate's answer (`skipped`): `<gate> is <label>`, `undecided`, or a gate
    that is not in this release."""
    applied = np.ones(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    for gate_group, wanted in (model.schema.groups[group].when or {}).items():
        if gate_group not in outputs:
            applied[:] = False
            reasons = [missing_gate(gate_group)] * n
            continue
        gate_labels = model.heads_[gate_group].labels
        chosen = outputs[gate_group].decided.chosen
        ok = in_when(gate_labels, chosen, wanted)
        for r in np.flatnonzero(applied & ~ok).tolist():
            reasons[r] = gate_answer(gate_group, gate_labels[chosen[r]] if chosen[r] >= 0 else None)
        applied &= ok
    return applied, reasons


def execute(model: Runnable, scorer: Scorer, n: int) -> dict[str, GroupOutput]:
    """Every group's output for a batch of n rows, in plan order: gated, scored, decided.

    A group's head is scored once, on the rows its gates allow (all rows: `rows=None`); the other
    rows get NaN scores and no decision.
    """
    outputs: dict[str, GroupOutput] = {}
    for group in model.groups:
        labels = model.heads_[group].labels
        applied, reasons = gate(model, group, n, outputs)
        rows = np.flatnonzero(applied)
        full = len(rows) == n
        if full and n:
            scores = scorer.scores(group, None)
        else:
            scores = np.full((n, len(labels)), np.nan)
            if len(rows):
                scores[rows] = scorer.scores(group, rows)
        decided = decide(model.schema.groups[group], labels, scores if full else np.nan_to_num(scores, nan=0.0))
        outputs[group] = GroupOutput(group, applied, scores, decided, reasons)
    return outputs


def predict(model: Runnable, scorer: Scorer, n: int) -> Predictions:
    """The merged results of a batch of n rows scored by `scorer`."""
    return Predictions(model, execute(model, scorer, n))
