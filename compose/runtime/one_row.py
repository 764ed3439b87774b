"""The one-row path end to end: a release's merged result for a row mapping, scalar after the fused product.

`ComposedModel.predict_one` runs the row path of the execution core: one-row arrays through the
batch code (gating over arrays, `decide` per group, `merge.group_result`). That is exact but costs
about 0.25 ms a row, mostly numpy's per-call overhead on arrays of one row. `row_results(model,
rows)` gives the same merged results through a program compiled once per loaded release (`RowPath`):
the row featurizers, the fused logits of the row (`FusedHeads.logits_row`), the scores of every
softmax and sigmoid group together (`_Batch`: one gather, exponential, division and rounding for
all, the same floats as each group alone), the `when` gates on label indices, and the common
decisions (argmax, `min_confidence`, a binary or multilabel threshold) written for one row.
Everything else (other probability programs, other decision policies, heads that are not fused)
takes the batch code on a one-row array, so the result is the same by construction.

It answers None when a row or the release needs the general path: a row `prepare_row` does not
type itself (the pandas path validates it and names the problem), or a release with a hierarchy
group. `tests/serve/test_fast_row.py` and `tests/runtime/test_one_row.py` check it against `predict_one`.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from compose.featurize.base import RowFeature, hstack
from compose.featurize.rows import prepare_row, stack_rows
from compose.heads.decide import Decided, below_min_confidence, below_threshold, decide, thresholds_of
from compose.heads.fused import HeadProgram, Linear
from compose.heads.head import Head
from compose.heads.squash import sigmoid
from compose.runtime.columns import ABSTAINED, BELOW, LABELLED, result_keys
from compose.runtime.merge import group_result, ordered_result, skipped_result
from compose.runtime.outputs import GroupOutput, gate_answer, missing_gate
from compose.schema.models import GroupSpec
from compose.store.records import decision_version
from compose.typing import MergedResult

if TYPE_CHECKING:
    from compose.runtime.model import ComposedModel

#: (gate group, the label indices its `when` accepts, or None: the gate is not in this release)
_Gate = tuple[str, tuple[int, ...] | None, list[str]]


def _softmax(d: np.ndarray) -> np.ndarray:
    """`compose.heads.squash.softmax` of one row, on a 1-d array (the same operations, so the same floats)."""
    e = np.exp(d - np.maximum.reduce(d))
    out: np.ndarray = e / np.add.reduce(e)  # the reductions `.max()` and `.sum()` call, without their wrappers
    return out


@dataclass(frozen=True)
class _Scorer:
    """How one group's scores (n_labels,) come from the row: `softmax`, `sigmoid` or `sigmoids` of its
    fused columns, `program` (the fused program on a one-row array) or `head` (its own `scores`)."""

    how: str
    n_labels: int
    cols: np.ndarray
    where: np.ndarray  # the label index of each computed column
    program: HeadProgram | None
    head: Head | None
    span: slice | None = None  # the columns as a slice when they are one run (a view instead of a copy)
    full: bool = False  # the computed columns are every label in order (no scatter into zeros)

    @classmethod
    def of(cls, head: Head, program: HeadProgram | None) -> _Scorer:
        n = len(head.labels)
        none = np.zeros(0, dtype=np.intp)
        if program is None:
            return cls("head", n, none, none, None, head)
        if program.kind == "multilabel":
            if len(program.sigmoid_labels) == n:
                return cls.computed("sigmoids", n, program.sigmoid_cols, program.sigmoid_labels, program)
            return cls("program", n, none, none, program, None)
        first = program.programs[0]
        where = np.array(program.classes[0], dtype=np.intp)
        if isinstance(first, Linear) and first.how in ("softmax", "sigmoid"):
            return cls.computed(first.how, n, first.cols, where, program)
        return cls("program", n, none, none, program, None)

    @classmethod
    def computed(cls, how: str, n: int, cols: np.ndarray, where: np.ndarray, program: HeadProgram) -> _Scorer:
        run = len(cols) > 0 and bool((np.diff(cols) == 1).all())
        span = slice(int(cols[0]), int(cols[0]) + len(cols)) if run else None
        full = how != "sigmoid" and len(where) == n and bool((where == np.arange(n)).all())
        return cls(how, n, cols, where, program, None, span, full)

    def scores(self, z: np.ndarray | None, features: Mapping[str, RowFeature], widths: Mapping[str, int]) -> np.ndarray:
        if self.how == "head":
            assert self.head is not None
            blocks = [stack_rows([features[f]], widths[f], isinstance(features[f], tuple)) for f in self.head.features]
            return np.asarray(self.head.scores(hstack(blocks))[0])
        assert z is not None and self.program is not None
        if self.how == "program":
            return np.asarray(self.program.scores(z[None, :])[0])
        d = z[self.span] if self.span is not None else z[self.cols]
        if self.how == "sigmoids":
            q = sigmoid(d)
        elif self.how == "softmax":
            q = _softmax(d)
        else:  # one binary estimator: [P(negative), P(positive)]
            p = sigmoid(d[:1])
            q = np.array((1.0 - p[0], p[0]))
        if self.full:
            return q
        out = np.zeros(self.n_labels)
        out[self.where] = q
        return out


@dataclass(frozen=True)
class _Batch:
    """The scores of every group whose labels are a run of fused columns squashed by a softmax or by
    sigmoids, computed together: one gather, one exponential, one division and one rounding for all
    of them instead of a few numpy calls per group. Each group's scores are the same floats as its
    `_Scorer.scores`: the operations are elementwise, and each group's sum is its own reduction."""

    take: np.ndarray  # the fused columns, softmax groups first, then the sigmoid groups
    n_soft: int  # how many of them the softmaxes read
    starts: np.ndarray  # where each softmax group starts in `take`
    owner: np.ndarray  # the softmax group of each of the first `n_soft` positions
    bounds: tuple[tuple[int, int], ...]  # each softmax group's [start, end) in `take`

    @classmethod
    def of(cls, scorers: Sequence[_Scorer]) -> tuple[_Batch | None, list[int]]:
        """The batch of the scorers that can join it, and each scorer's first position in it (-1: not in it)."""
        soft = [i for i, sc in enumerate(scorers) if sc.how == "softmax" and sc.full]
        sig = [i for i, sc in enumerate(scorers) if sc.how == "sigmoids" and sc.full]
        at = [-1] * len(scorers)
        take: list[int] = []
        bounds: list[tuple[int, int]] = []
        for i in soft + sig:
            at[i] = len(take)
            take.extend(int(c) for c in scorers[i].cols)
            if i in soft:
                bounds.append((at[i], len(take)))
        if not take:
            return None, at
        n_soft = bounds[-1][1] if bounds else 0
        owner = np.repeat(np.arange(len(bounds)), [b - a for a, b in bounds])
        return cls(np.array(take, dtype=np.intp), n_soft, np.array([a for a, _ in bounds], dtype=np.intp), owner,
                   tuple(bounds)), at

    def scores(self, z: np.ndarray) -> np.ndarray:
        d = z[self.take]
        out = np.empty(len(d))
        if self.bounds:
            soft = d[:self.n_soft]
            e = np.exp(soft - np.maximum.reduceat(soft, self.starts)[self.owner])
            sums = np.array([np.add.reduce(e[a:b]) for a, b in self.bounds])
            np.divide(e, sums[self.owner], out=out[:self.n_soft])
        if self.n_soft < len(d):
            out[self.n_soft:] = sigmoid(d[self.n_soft:])
        return out


def _score(x: float) -> float:
    return round(float(x), 4)


@dataclass(frozen=True)
class _Group:
    """One group of the compiled row path: its scorer, gates, decision and the constant parts of its result."""

    name: str
    spec: GroupSpec
    labels: list[str]
    scorer: _Scorer
    gates: tuple[_Gate, ...]
    decision: str  # argmax | binary | multilabel | general (decide, then merge.group_result)
    min_confidence: float | None
    threshold: float
    thresholds: np.ndarray
    version: int
    decision_version: int | None
    source: str
    unscored_choice: int  # the label index `decide` gives a row the head did not run on (read by gates)
    at: int = -1  # where its scores start in the release's `_Batch` (-1: its scorer computes them)

    def gate(self, chosen: Mapping[str, int]) -> str | None:
        """Why `when` rules this row out (as `ComposedModel._gate` says it), or None when the head runs."""
        why: str | None = None
        applied = True
        for gate, ids, gate_labels in self.gates:
            if ids is None:
                applied, why = False, missing_gate(gate)
                continue
            c = chosen[gate]
            if applied and c not in ids:
                why = gate_answer(gate, gate_labels[c] if c >= 0 else None)
                applied = False
        return why

    def skipped(self, why: str) -> dict[str, Any]:
        return cast("dict[str, Any]", skipped_result(self.spec.type, why, self.version, self.decision_version))

    def result(self, model: ComposedModel, p: np.ndarray, rounded: list[float] | None = None
               ) -> tuple[dict[str, Any], int]:
        """The group's result for scores `p` (`rounded`: them to 4 places, if already done) and the label
        index its gates read (-1: none)."""
        labels = self.labels
        if self.decision == "general":
            scores = p[None, :]
            decided = decide(self.spec, labels, scores)
            output = GroupOutput(self.name, np.ones(1, dtype=bool), scores, decided, [None])
            chosen = -1 if self.spec.type == "multilabel" else int(decided.chosen[0])
            return cast("dict[str, Any]", group_result(model, output, 0)), chosen
        board = dict(zip(labels, p.round(4).tolist() if rounded is None else rounded, strict=True))
        if self.decision == "multilabel":
            return self._multilabel(p, board), -1
        reason: str | None = None
        c = (1 if p[1] >= self.threshold else 0) if self.decision == "binary" else int(p.argmax())
        confidence = float(p[c])
        if self.min_confidence is not None and confidence < self.min_confidence:
            reason = below_min_confidence(labels[c], confidence, self.min_confidence)
        score = None if math.isnan(confidence) else _score(confidence)
        if self.source == "model":  # the keys of `result_keys(..., source=False, sets=False)`, written out
            if reason is None:
                return {"label": labels[c], "confidence": score, "scores": board, "version": self.version,
                        "decision_version": self.decision_version, "outcome": "labelled"}, c
            return {"label": None, "confidence": score, "scores": board, "version": self.version, "abstained": reason,
                    "decision_version": self.decision_version, "outcome": "abstained", "reason": reason}, -1
        values = {"label": labels[c] if reason is None else None, "confidence": score, "scores": board,
                  "version": self.version, "source": self.source, "abstained": reason,
                  "decision_version": self.decision_version, "outcome": "labelled" if reason is None else "abstained",
                  "reason": reason}
        keys = result_keys(self.spec.type, LABELLED if reason is None else ABSTAINED, source=True, sets=False)
        return cast("dict[str, Any]", ordered_result(values, keys)), c if reason is None else -1

    def _multilabel(self, p: np.ndarray, board: dict[str, float]) -> dict[str, Any]:
        above = np.flatnonzero(p >= self.thresholds).tolist()
        values: dict[str, Any] = {"labels": [self.labels[j] for j in above], "scores": board,
                                  "version": self.version, "decision_version": self.decision_version,
                                  "outcome": "labelled"}
        if not above:
            j = int(np.argmax(p - self.thresholds))
            values.update(outcome="below_threshold", reason=below_threshold(self.labels[j], p[j], self.thresholds[j]))
        keys = result_keys("multilabel", LABELLED if above else BELOW, source=False, sets=False)
        return cast("dict[str, Any]", ordered_result(values, keys))


def _decision(spec: GroupSpec) -> tuple[str, float | None]:
    """Which decision the row path writes out for the group (and its min_confidence), else `general`."""
    d = spec.decision
    if spec.type == "binary":
        return "binary", None
    if spec.type == "multilabel":
        return ("multilabel" if d.max_labels is None and not d.min_labels else "general"), None
    policy = d.policy_of("multiclass")
    if policy == "argmax":
        return "argmax", None
    if policy == "min_confidence":
        return "argmax", d.min_confidence
    return "general", None


def _gates(model: ComposedModel, group: str, before: Sequence[str]) -> tuple[_Gate, ...] | None:
    """The group's `when` as label indices; None when the batch code would refuse it (it then decides)."""
    out: list[_Gate] = []
    for gate, wanted in (model.schema.groups[group].when or {}).items():
        if gate not in before:
            out.append((gate, None, []))
            continue
        labels = model.heads_[gate].labels
        if model.heads_[gate].kind == "multilabel" or any(w not in labels for w in wanted):
            return None
        out.append((gate, tuple(labels.index(w) for w in wanted), labels))
    return tuple(out)


class RowPath:
    """The compiled one-row path of one loaded release (`row_path(model)` makes and keeps it)."""

    def __init__(self, model: ComposedModel, groups: list[_Group]) -> None:
        self.model = model
        self.batch, at = _Batch.of([g.scorer for g in groups])
        self.groups = [dataclasses.replace(g, at=i) for g, i in zip(groups, at, strict=True)]
        self.release = model.release_name
        self.featurizers = [(f, featurize) for f, (featurize, _) in model.row_featurizers_.items()]
        self.fused = model.fused_ if model.fused_.groups else None

    @classmethod
    def compile(cls, model: ComposedModel) -> RowPath | None:
        if model.schema.hierarchies:
            return None  # a hierarchy's heads read as one result: the general path
        groups: list[_Group] = []
        order = model.groups
        for i, name in enumerate(order):
            head, spec = model.heads_[name], model.schema.groups[name]
            gates = _gates(model, name, order[:i])
            if gates is None:
                return None
            how, minimum = _decision(spec)
            thresholds = thresholds_of(spec, head.labels) if spec.type == "multilabel" else np.zeros(0)
            zeros: Decided = decide(spec, head.labels, np.zeros((1, len(head.labels))))
            groups.append(_Group(
                name, spec, head.labels, _Scorer.of(head, model.fused_.programs.get(name)), gates, how, minimum,
                spec.decision.threshold if spec.decision.threshold is not None else 0.5, thresholds,
                model.version_of(name), decision_version(model.release, name), head.source,
                -1 if spec.type == "multilabel" else int(zeros.chosen[0])))
        return cls(model, groups)

    def result(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """The merged result of one row mapping, or None when the row needs the general path."""
        values = prepare_row(self.model.schema, row)
        if values is None:
            return None
        features = {f: featurize(values) for f, featurize in self.featurizers}
        z = self.fused.logits_row(features) if self.fused is not None else None
        batch = rounded = None
        if self.batch is not None:
            assert z is not None
            batch = self.batch.scores(z)
            rounded = batch.round(4).tolist()
        chosen: dict[str, int] = {}
        flat: list[str] = []
        groups: dict[str, dict[str, Any]] = {}
        review: list[str] = []
        for g in self.groups:
            why = g.gate(chosen) if g.gates else None
            if why is not None:
                res, chosen[g.name] = g.skipped(why), g.unscored_choice
            elif g.at >= 0:
                assert batch is not None and rounded is not None
                end = g.at + len(g.labels)
                res, chosen[g.name] = g.result(self.model, batch[g.at:end], rounded[g.at:end])
            else:
                res, chosen[g.name] = g.result(self.model, g.scorer.scores(z, features, self.model.widths_))
            groups[g.name] = res
            if "labels" in res:
                flat.extend(res["labels"])
            elif (label := res.get("label")) is not None:
                flat.append(label)
            if res.get("review"):
                review.append(g.name)
        result: dict[str, Any] = {"labels": flat, "groups": groups, "release": self.release}
        if review:
            result["review"] = review
        return result


_PATHS: weakref.WeakKeyDictionary[ComposedModel, RowPath | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def row_path(model: ComposedModel) -> RowPath | None:
    """The model's compiled row path (compiled on first use, kept as long as the model), or None."""
    with _LOCK:
        if model not in _PATHS:
            _PATHS[model] = RowPath.compile(model)
        return _PATHS[model]


def row_results(model: ComposedModel, rows: Sequence[Mapping[str, Any]]) -> list[MergedResult] | None:
    """The merged results of a few row mappings, the same as `model.predict(rows).to_list()`;
    None when the release or one of the rows needs the general path (which also says what is wrong)."""
    path = row_path(model)
    if path is None:
        return None
    out: list[dict[str, Any]] = []
    for row in rows:
        result = path.result(row)
        if result is None:
            return None
        out.append(result)
    return cast("list[MergedResult]", out)  # the same fields: tests/runtime/test_one_row.py
