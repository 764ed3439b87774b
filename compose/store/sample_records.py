"""The records of the sample store, and how an annotation is written in it.

An annotation is one text per (sample, group): a multiclass or binary group stores the label; a
multilabel group stores a JSON list of the present labels when every label is known
(`["red", "blue"]`, `[]` for none) or a JSON object of the known labels when only some are
(`{"red": true, "blue": false}`: the others are unknown). Labels are written in the schema's order,
so one annotation has one text and a change is a change of text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from compose.data.targets import GroupTargets
from compose.errors import DataError

#: What a cell of a multilabel group says: the present labels (all others absent) or per-label truth.
Cell = str | list[str] | dict[str, bool]

TRAIN, HOLDOUT = "train", "holdout"


def encode_row(kind: str, labels: list[str], t: GroupTargets, r: int) -> str:
    """The annotation text of row `r` of parsed targets (the row must be labelled)."""
    if kind != "multilabel":
        return labels[int(t.y[r])]
    if t.known is None or bool(t.known[r].all()):
        return json.dumps([label for j, label in enumerate(labels) if t.y[r, j]], ensure_ascii=False)
    return json.dumps({label: bool(t.y[r, j]) for j, label in enumerate(labels) if t.known[r, j]}, ensure_ascii=False)


def decode(kind: str, value: str) -> Cell:
    """An annotation text as a label, a list of present labels, or a mapping of per-label truth."""
    if kind != "multilabel":
        return value
    parsed = json.loads(value)
    if isinstance(parsed, dict):
        return {str(k): bool(v) for k, v in parsed.items()}
    return [str(v) for v in parsed]


def truths(cell: Cell, labels: list[str]) -> dict[str, bool]:
    """The known labels of a multilabel cell, label -> present."""
    if isinstance(cell, dict):
        return dict(cell)
    present = set(cell if isinstance(cell, list) else [cell])
    return {label: label in present for label in labels}


def encode_truths(known: dict[str, bool], labels: list[str]) -> str:
    """A multilabel annotation text from per-label truth: a list when every label is known."""
    if all(label in known for label in labels):
        return json.dumps([label for label in labels if known[label]], ensure_ascii=False)
    return json.dumps({label: known[label] for label in labels if label in known}, ensure_ascii=False)


def merge(kind: str, labels: list[str], stored: str | None, given: str) -> str:
    """The annotation after `given` is applied to `stored`: a per-label cell changes only the labels
    it names; any other cell replaces the stored one."""
    if kind != "multilabel" or stored is None or not given.startswith("{"):
        return given
    known = truths(decode(kind, stored), labels)
    known.update(truths(decode(kind, given), labels))
    return encode_truths(known, labels)


def contradiction(kind: str, labels: list[str], a: str, b: str) -> str | None:
    """Why two annotations of one sample disagree, or None when they agree (per-label cells agree
    when no label named by both is given two truths)."""
    if a == b:
        return None
    if kind != "multilabel":
        return f"{a!r} vs {b!r}"
    ta, tb = truths(decode(kind, a), labels), truths(decode(kind, b), labels)
    if not (a.startswith("{") or b.startswith("{")):
        return f"{a} vs {b}"
    clash = [label for label in labels if label in ta and label in tb and ta[label] != tb[label]]
    if not clash:
        return None
    return "; ".join(f"label {label!r} {'present' if ta[label] else 'absent'} vs "
                     f"{'present' if tb[label] else 'absent'}" for label in clash)


def targets_from(kind: str, group: str, labels: list[str], values: list[str | None]) -> GroupTargets:
    """GroupTargets from annotation texts (None: not annotated), decoding each distinct text once."""
    n = len(values)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    labelled = codes >= 0
    if kind != "multilabel":
        index = {label: i for i, label in enumerate(labels)}
        table = np.array([index.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
        single: np.ndarray = table[codes]  # code -1 picks the trailing -1
        labelled &= single >= 0
        return GroupTargets(group, labels, labelled, single)
    k = len(labels)
    present = np.zeros((len(uniques) + 1, k), dtype=np.int8)
    known = np.zeros((len(uniques) + 1, k), dtype=bool)
    for u, text in enumerate(uniques):
        cell = truths(decode(kind, str(text)), labels)
        for j, label in enumerate(labels):
            if label in cell:
                known[u, j] = True
                present[u, j] = int(cell[label])
    y, mask = present[codes], known[codes]
    labelled &= mask.any(axis=1)
    mask &= labelled[:, None]
    if n == 0 or bool(mask[labelled].all()):
        return GroupTargets(group, labels, labelled, y)
    return GroupTargets(group, labels, labelled, y, mask)


@dataclass(frozen=True)
class Sample:
    """One stored sample: its inputs (as first seen), split, origin and current annotations."""

    id: str
    split: str
    source: str
    added: str
    revision: int
    inputs: dict[str, Any]
    annotations: dict[str, Cell]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "split": self.split, "source": self.source, "added": self.added,
                "revision": self.revision, "inputs": self.inputs, "annotations": self.annotations}


@dataclass(frozen=True)
class SamplePage:
    """One page of a sample query; pass `next_after` as `after` for the next page (None: the last)."""

    samples: list[Sample]
    next_after: int | None


@dataclass(frozen=True)
class Change:
    """One entry of an annotation's history: at `revision` (`at`, from `source`), `value` (None: removed)."""

    group: str
    revision: int
    at: str
    source: str
    value: Cell | None


@dataclass
class UpsertReport:
    """What one upsert did: rows read, samples added, annotations added / changed per group.

    `ids[r]` is the sample id of row r (0-based).
    """

    revision: int | None
    rows: int
    new_samples: int
    known_samples: int
    added: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: annotation changes matched to a sample by the order of rows among equal inputs (no id column)
    ambiguous: int = 0

    def warn_ambiguous(self, where: str) -> None:
        """Add the warning about the annotation changes matched by row order (`ambiguous`), if any."""
        if self.ambiguous:
            self.warnings.append(
                f"{where}: {self.ambiguous} annotation change{'s' * (self.ambiguous > 1)} landed on samples "
                "whose inputs other stored samples repeat; rows without an id are matched to those samples by "
                "their order among rows with equal inputs, so to correct one sample exactly give the data an "
                "`id` column (compose samples --export FILE writes every sample's id)")

    @property
    def groups_changed(self) -> list[str]:
        """The groups whose annotations this upsert added or changed."""
        return sorted(g for g in set(self.added) | set(self.changed) if self.added.get(g) or self.changed.get(g))


@dataclass(frozen=True)
class LabelCounts:
    """Samples per label: present, absent (annotated without it), unknown; present ones by split."""

    present: int
    absent: int
    unknown: int
    present_train: int
    present_holdout: int


@dataclass(frozen=True)
class GroupCounts:
    """Annotated and unknown samples of one group, by split, and per label."""

    kind: str
    annotated: int
    unknown: int
    train: int
    holdout: int
    last_revision: int
    labels: dict[str, LabelCounts]


@dataclass(frozen=True)
class SampleCounts:
    """The counts of a sample store (`compose samples`)."""

    samples: int
    train: int
    holdout: int
    revision: int
    sources: dict[str, int]
    groups: dict[str, GroupCounts]

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "train": self.train, "holdout": self.holdout, "revision": self.revision,
                "sources": self.sources,
                "groups": {g: {"kind": c.kind, "annotated": c.annotated, "unknown": c.unknown, "train": c.train,
                               "holdout": c.holdout, "last_revision": c.last_revision,
                               "labels": {label: vars(lc) for label, lc in c.labels.items()}}
                           for g, c in self.groups.items()}}


@dataclass
class SampleSet:
    """Stored samples ready for training: prepared inputs, per-group targets and the fixed split.

    `sids` are the store's row keys (what `SampleStore.record_fit` takes), `hashes` the inputs'
    row hashes, `holdout` the samples whose split is holdout, `revision` the store revision read.
    """

    inputs: pd.DataFrame
    targets: dict[str, GroupTargets]
    holdout: np.ndarray
    hashes: np.ndarray
    sids: np.ndarray
    ids: list[str]
    revision: int


def group_counts(kind: str, labels: list[str], rows: list[tuple[Any, ...]], total: int, last: int) -> GroupCounts:
    annotated = train = holdout = 0
    present = dict.fromkeys(labels, 0)
    known = dict.fromkeys(labels, 0)
    by_split = {label: [0, 0] for label in labels}
    for value, held, count in rows:
        n = int(count)
        annotated += n
        holdout += n * int(held)
        train += n * (1 - int(held))
        cell = truths(decode(kind, str(value)), labels) if kind == "multilabel" else {str(value): True}
        for label, is_present in cell.items():
            if label not in present:
                continue
            if kind == "multilabel":
                known[label] += n
            if is_present:
                present[label] += n
                by_split[label][int(held)] += n
    counts = {}
    for label in labels:
        seen = known[label] if kind == "multilabel" else annotated
        counts[label] = LabelCounts(present[label], seen - present[label], total - seen, by_split[label][0],
                                    by_split[label][1])
    return GroupCounts(kind, annotated, total - annotated, train, holdout, last, counts)


def describe_counts(counts: SampleCounts, group: str | None = None) -> list[str]:
    """`compose samples` as text lines."""
    lines = [f"{counts.samples} samples ({counts.train} train, {counts.holdout} holdout), revision {counts.revision}"]
    if counts.sources:
        lines.append("sources: " + "; ".join(f"{name} ({n})" for name, n in counts.sources.items()))
    for name, c in counts.groups.items():
        if group is not None and name != group:
            continue
        lines.append(f"group {name} ({c.kind}): {c.annotated} annotated ({c.train} train / {c.holdout} holdout), "
                     f"{c.unknown} unknown; last change at revision {c.last_revision}")
        width = max([len(label) for label in c.labels] + [5])
        if c.kind == "multilabel":
            lines.append(f"  {'label':<{width}}  {'present':>8}  {'absent':>8}  {'unknown':>8}  {'train':>7}  "
                         f"{'holdout':>7}")
            lines.extend(f"  {label:<{width}}  {lc.present:>8}  {lc.absent:>8}  {lc.unknown:>8}  "
                         f"{lc.present_train:>7}  {lc.present_holdout:>7}" for label, lc in c.labels.items())
        else:
            lines.append(f"  {'label':<{width}}  {'samples':>8}  {'train':>7}  {'holdout':>7}")
            lines.extend(f"  {label:<{width}}  {lc.present:>8}  {lc.present_train:>7}  {lc.present_holdout:>7}"
                         for label, lc in c.labels.items())
    if group is not None and group not in counts.groups:
        raise DataError(f"unknown group {group!r}; the sample store knows {sorted(counts.groups)}")
    return lines
