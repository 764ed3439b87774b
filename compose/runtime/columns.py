"""The columns of one group's predictions, computed once per batch with array operations.

A group's merged result, its flat-table columns and its JSON Lines fragment all read the same
`GroupColumns`: the applied mask, the outcome of every row as a code, the chosen label index (or,
for a set of labels, a code into the distinct sets of the batch), the rounded scores and
confidence, and the reason of every row that got no label. Nothing here loops over rows except
the reasons, which only rows without a label have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from compose.heads.decide import explain_rows
from compose.runtime.outputs import GroupOutput, ModelView, gated_off
from compose.store.records import decision_version

#: Outcome names, indexed by the codes in `GroupColumns.outcome`.
OUTCOMES = ("labelled", "abstained", "review", "rejected", "below_threshold", "skipped")
LABELLED, ABSTAINED, REVIEW, REJECTED, BELOW, SKIPPED = range(len(OUTCOMES))


#: Where each field of a group result (`compose.typing.GroupResult`) goes in the flat table of
#: `Predictions.to_frame()`, by group kind: the column's name after the group's (`_score_`: one
#: column per label). A field with no entry for a kind is no column of it: the table keeps one
#: value per group and row (the JSON results, and `predict_scores` for the scores, have the rest).
FRAME_COLUMNS: dict[str, dict[str, str]] = {
    "label": {"multiclass": "", "binary": "", "hierarchy": ""},
    "labels": {"multiclass": "_labels", "multilabel": ""},
    "confidence": {"multiclass": "_confidence", "binary": "_confidence", "hierarchy": "_confidence"},
    "path": {"hierarchy": "_path"},
    "path_confidence": {"hierarchy": "_path_confidence"},
    "skipped": {},
    "scores": {"multilabel": "_score_"},
    "version": {},
    "versions": {},
    "source": {"multiclass": "_source", "binary": "_source"},
    "abstained": {},
    "review": {"multiclass": "_review"},
    "candidate": {},
    "decision_version": {},
    "outcome": {"multiclass": "_outcome", "binary": "_outcome", "multilabel": "_outcome", "hierarchy": "_outcome"},
    "stopped_at": {"hierarchy": "_stopped_at"},
    "reason": {},
}


def result_keys(kind: str, outcome: int, *, source: bool, sets: bool) -> tuple[str, ...]:
    """The keys of a plain group's result (`compose.typing.GroupResult`) on a row of `outcome`, in order.

    The one key order of the column-wise dicts and JSON text (`compose.runtime.columnar`) and of
    the row path (`compose.runtime.merge`). `source`: a zero-shot head's row it ran on; `sets`: a
    top_k or cumulative group (its `labels`).
    """
    tail = ("decision_version", "outcome") + (() if outcome == LABELLED else ("reason",))
    if kind == "multilabel":
        return ("labels", "skipped" if outcome == SKIPPED else "scores", "version", *tail)
    if outcome == SKIPPED:
        return ("label", "confidence", "skipped", "version", *tail)
    extra = {ABSTAINED: ("abstained",), REJECTED: ("abstained",), REVIEW: ("review", "candidate")}.get(outcome, ())
    return (("label", "confidence", "scores", "version") + (("source",) if source else ())
            + (("labels",) if sets else ()) + extra + tail)


def distinct_sets(members: np.ndarray, labels: list[str], order: np.ndarray | None = None
                  ) -> tuple[np.ndarray, list[list[str]]]:
    """Code every row's set of labels: (codes into `sets`, `sets`), labels in `order` if given.

    `members` is a 0/1 (n_rows, n_labels) matrix; with `order` (each row's label indices, best
    first) a set lists its labels in that order, so two rows with the same labels in a different
    order are two sets.
    """
    n, width = members.shape
    if n == 0:
        return np.zeros(0, dtype=np.int32), []
    if order is None:
        if width <= 62:
            keys = members.astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
            uniq, codes = np.unique(keys, return_inverse=True)
            bits = (uniq[:, None] >> np.arange(width, dtype=np.int64)[None, :]) & 1
            return codes.astype(np.int32), [[labels[j] for j in np.flatnonzero(b)] for b in bits]
        key = members.astype(np.int8)
        uniq_rows, codes = np.unique(key, axis=0, return_inverse=True)
        return codes.reshape(-1).astype(np.int32), [[labels[j] for j in np.flatnonzero(r)] for r in uniq_rows]
    taken = np.take_along_axis(members, order, axis=1).astype(bool)
    key = np.where(taken, order, width)
    uniq_rows, codes = np.unique(key, axis=0, return_inverse=True)
    return codes.reshape(-1).astype(np.int32), [[labels[j] for j in r if j < width] for r in uniq_rows]


@dataclass
class GroupColumns:
    """Everything the outputs of one group read, as arrays over the batch's rows."""

    group: str
    kind: str                       # multiclass, binary or multilabel
    labels: list[str]
    version: int
    decision_version: int | None
    output: GroupOutput
    spec: Any = field(repr=False)   # the group's GroupSpec, with the decision in force
    source: str = "model"           # `zero-shot` for a zero-shot head (compose.heads.zero_shot)

    @classmethod
    def of(cls, model: ModelView, output: GroupOutput) -> GroupColumns:
        group = output.group
        spec = model.schema.groups[group]
        head = model.heads_[group]
        return cls(group, spec.type, list(head.labels), model.version_of(group),
                   decision_version(model.release, group), output, spec, head.source)

    @property
    def n(self) -> int:
        return len(self.output.applied)

    @property
    def applied(self) -> np.ndarray:
        return np.asarray(self.output.applied, dtype=bool)

    @cached_property
    def rounded(self) -> np.ndarray:
        """The scores rounded to 4 places (NaN on rows the head did not run on)."""
        return np.round(self.output.scores, 4)

    @cached_property
    def chosen(self) -> np.ndarray:
        """Multiclass and binary: the chosen label's index per row, -1 for none (or not applied)."""
        return np.where(self.applied, self.output.decided.chosen, -1).astype(np.int32)

    @cached_property
    def confidence(self) -> np.ndarray:
        """Multiclass and binary: the rounded confidence, NaN where not applied or undefined."""
        c = np.asarray(self.output.decided.confidence, dtype=np.float64)
        return np.where(self.applied, np.round(c, 4), np.nan)

    @cached_property
    def outcome(self) -> np.ndarray:
        """The outcome code of every row (see OUTCOMES)."""
        d = self.output.decided
        out = np.full(self.n, LABELLED, dtype=np.int8)
        if self.kind == "multilabel":
            out[~np.asarray(d.chosen, dtype=bool).any(axis=1)] = BELOW
        else:
            none = np.asarray(d.chosen) < 0
            if d.review is not None:
                out[none & np.asarray(d.review, dtype=bool)] = REVIEW
                out[none & ~np.asarray(d.review, dtype=bool)] = REJECTED
            elif self.spec.decision.policy_of(self.kind) == "zones":
                out[none] = REJECTED
            else:
                out[none] = ABSTAINED
        out[~self.applied] = SKIPPED
        return out

    @cached_property
    def reasons(self) -> dict[int, str]:
        """Row -> why it got no label, for every row that got none (worded once for all of them)."""
        skipped = self.output.skipped_reason
        unlabelled = np.flatnonzero(self.outcome != LABELLED)
        gated = self.outcome[unlabelled] == SKIPPED
        decided = unlabelled[~gated]
        out = dict.fromkeys(unlabelled.tolist(), "")
        out.update((r, gated_off(skipped[r])) for r in unlabelled[gated].tolist())
        words = explain_rows(self.spec, self.labels, self.output.scores, self.output.decided, decided)
        out.update(zip(decided.tolist(), words, strict=True))
        return out

    @cached_property
    def sets(self) -> tuple[np.ndarray, list[list[str]]]:
        """Multilabel: every row's chosen labels as a code into distinct sets (-1: not applied).

        Multiclass top_k / cumulative: the chosen set, best first. Other groups: no sets.
        """
        d = self.output.decided
        if self.kind == "multilabel":
            codes, sets = distinct_sets(np.asarray(d.chosen), self.labels)
        elif d.selected is not None:
            scores = np.nan_to_num(self.output.scores, nan=0.0)
            order = np.argsort(-scores, axis=1, kind="stable")
            codes, sets = distinct_sets(np.asarray(d.selected), self.labels, order)
        else:
            return np.full(self.n, -1, dtype=np.int32), []
        return np.where(self.applied, codes, -1).astype(np.int32), sets

    @cached_property
    def candidate(self) -> np.ndarray:
        """The best label's index per row (the candidate of a row sent to review)."""
        scores = np.nan_to_num(self.output.scores, nan=-np.inf)
        return scores.argmax(axis=1) if self.n else np.zeros(0, dtype=np.int64)

    def has_sets(self) -> bool:
        return self.kind == "multilabel" or self.output.decided.selected is not None

    def table(self) -> dict[str, Any]:
        """The flat-table columns of this group: name -> (codes, categories) or a numpy array.

        `<group>`: the label (a multilabel group: its labels joined by '|'), `<group>_confidence`
        (multiclass, binary) or `<group>_score_<label>` (multilabel), `<group>_labels` for a set
        policy, `<group>_review` for zones, `<group>_source` for a zero-shot head (`zero-shot` where it
        ran), `<group>_outcome`. Codes of -1 are missing values.
        """
        g = self.group
        cols: dict[str, Any] = {}
        if self.kind == "multilabel":
            codes, sets = self.sets
            cols[g] = (codes, ["|".join(s) for s in sets])
            for j, label in enumerate(self.labels):
                cols[f"{g}_score_{label}"] = self.rounded[:, j]
        else:
            cols[g] = (self.chosen, self.labels)
            cols[f"{g}_confidence"] = self.confidence
            if self.output.decided.selected is not None:
                codes, sets = self.sets
                cols[f"{g}_labels"] = (codes, ["|".join(s) for s in sets])
            if self.output.decided.review is not None:
                cols[f"{g}_review"] = np.asarray(self.output.decided.review, dtype=bool) & self.applied
            if self.source != "model":
                cols[f"{g}_source"] = (np.where(self.applied, 0, -1).astype(np.int32), [self.source])
        cols[f"{g}_outcome"] = (self.outcome.astype(np.int32), list(OUTCOMES))
        return cols
