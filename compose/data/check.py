"""`check`: what a data set holds for a declared schema, before training on it.

Reads one column per group (the training format) or, with `tags=`, a flat tag column routed by the
schema's labels. It lists rows that break exclusivity (two labels in one multiclass or binary cell
or group), labels the schema does not declare, coverage (share of rows labelled) and class balance
per group, labels with fewer than `min_examples` rows, and rows labelled for no group at all.
Exclusivity breaks and undeclared labels block training (`ok` is False); the rest are warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from compose._defaults import MIN_EXAMPLES
from compose.data.cells import is_missing, single_label, split_multilabel
from compose.data.hierarchy import expand_columns
from compose.data.io import as_frame, source_of
from compose.data.tags import label_owners, tag_lists
from compose.errors import DataError
from compose.schema.models import Schema

_SHOWN = 5


@dataclass
class GroupCheck:
    """The findings for one group; rows are 1-based, as a spreadsheet shows them."""

    group: str
    type: str
    rows: int
    labelled: int
    counts: dict[str, int]
    exclusivity_rows: list[int] = field(default_factory=list)
    undeclared: dict[str, list[int]] = field(default_factory=dict)
    gated_rows: int | None = None

    @property
    def coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def imbalance(self) -> float | None:
        """Rows of the most frequent label per row of the rarest (None with fewer than two labels seen)."""
        seen = [c for c in self.counts.values() if c > 0]
        return max(seen) / min(seen) if len(seen) >= 2 else None

    def too_few(self, minimum: int) -> dict[str, int]:
        return {label: c for label, c in self.counts.items() if c < minimum}


@dataclass
class CheckReport:
    """Everything `check` found; `lines()` prints it, `ok` says whether training can go ahead."""

    source: str
    n_rows: int
    min_examples: int
    groups: dict[str, GroupCheck]
    missing_columns: list[str]
    unlabelled_rows: list[int]
    undeclared_tags: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.undeclared_tags and not any(g.exclusivity_rows or g.undeclared for g in self.groups.values())

    def lines(self) -> list[str]:
        out = [f"{self.source}: {self.n_rows} rows, {len(self.groups)} group columns checked"]
        out += [f"  group {g!r}: no column in the data (not checked)" for g in self.missing_columns]
        for g in self.groups.values():
            out.append(f"group {g.group} ({g.type}): {g.labelled} of {g.rows} rows labelled ({g.coverage:.1%})"
                       + (f"; {g.gated_rows} rows where its `when` holds" if g.gated_rows is not None else ""))
            balance = ", ".join(f"{label} {c}" for label, c in g.counts.items())
            ratio = f"; most/least frequent {g.imbalance:.1f}x" if g.imbalance is not None else ""
            out.append(f"  balance: {balance}{ratio}")
            if g.exclusivity_rows:
                out.append(f"  ERROR exclusivity: {len(g.exclusivity_rows)} rows hold two or more of its labels "
                           f"(rows {_rows(g.exclusivity_rows)}); keep one label per row")
            for label, where in g.undeclared.items():
                out.append(f"  ERROR undeclared label {label!r} in {len(where)} rows ({_rows(where)}); declare it "
                           f"in groups.{g.group}.labels or fix the cells")
            few = g.too_few(self.min_examples)
            if few:
                out.append(f"  WARNING too few examples (< {self.min_examples}): "
                           + ", ".join(f"{label} {c}" for label, c in few.items()))
        for label, where in self.undeclared_tags.items():
            out.append(f"ERROR tag {label!r} in {len(where)} rows ({_rows(where)}) is declared by no group; add it "
                       "to a group's labels or fix the cells")
        if self.unlabelled_rows:
            out.append(f"WARNING {len(self.unlabelled_rows)} rows are labelled for no group "
                       f"(rows {_rows(self.unlabelled_rows)}); they train nothing")
        out.append("ok: nothing blocks training" if self.ok else "NOT ok: fix the errors above before training")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "rows": self.n_rows, "ok": self.ok, "min_examples": self.min_examples,
            "missing_columns": self.missing_columns, "unlabelled_rows": self.unlabelled_rows,
            "undeclared_tags": self.undeclared_tags,
            "groups": {name: {"type": g.type, "labelled": g.labelled, "coverage": g.coverage, "counts": g.counts,
                              "imbalance": g.imbalance, "too_few": g.too_few(self.min_examples),
                              "exclusivity_rows": g.exclusivity_rows, "undeclared": g.undeclared,
                              "gated_rows": g.gated_rows}
                       for name, g in self.groups.items()},
        }


def _rows(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:_SHOWN])) + (", ..." if len(rows) > _SHOWN else "")


def check(schema: Schema, data: Any, *, tags: str | None = None, min_examples: int = MIN_EXAMPLES) -> CheckReport:
    """Check `data` against `schema`: one column per group, or the flat tag column `tags`."""
    df = as_frame(data)
    unknown: dict[str, list[int]] = {}
    cells = _flat_cells(schema, df, tags, unknown) if tags is not None else \
        _column_cells(schema, expand_columns(df, schema, strict=False))  # a hierarchy: its heads' columns
    missing = [g for g in schema.groups if g not in cells]
    if not cells:
        raise DataError(f"{source_of(df)}: no column for any group of the schema ({list(schema.groups)}); "
                        "pass --tags COLUMN if the labels are in one flat tag column")
    n = len(df)
    report = CheckReport(source_of(df), n, min_examples, {}, missing, [], unknown)
    labelled_any = [False] * n
    for group, column in cells.items():
        spec = schema.groups[group]
        declared = schema.labels_of(group)
        result = GroupCheck(group, spec.type, n, 0, dict.fromkeys(declared, 0))
        for r, labels in enumerate(column):
            if labels is None:
                continue
            labelled_any[r] = True
            known = [label for label in labels if label in result.counts]
            for label in labels:
                if label not in result.counts:
                    result.undeclared.setdefault(label, []).append(r + 1)
            if spec.type != "multilabel" and len(known) > 1:
                result.exclusivity_rows.append(r + 1)
                continue
            if known or spec.type == "multilabel":
                result.labelled += 1
            for label in known:
                result.counts[label] += 1
        if spec.when:
            result.gated_rows = sum(
                1 for r in range(n)
                if all(set(cells.get(gate, [None] * n)[r] or []) & set(wanted) for gate, wanted in spec.when.items()))
        report.groups[group] = result
    report.unlabelled_rows = [r + 1 for r in range(n) if not labelled_any[r]]
    return report


def _column_cells(schema: Schema, df: pd.DataFrame) -> dict[str, list[list[str] | None]]:
    """Each group column's cells as label lists; `a|b` in a multiclass cell counts as two labels."""
    out: dict[str, list[list[str] | None]] = {}
    for group, spec in schema.groups.items():
        if group not in df.columns:
            continue
        labels = schema.labels_of(group)
        cells: list[list[str] | None] = []
        for value in df[group].tolist():
            if is_missing(value):
                cells.append(None)
                continue
            single = single_label(value, labels, spec.type == "binary" and spec.labels is None)
            if single in labels:
                cells.append([single])
                continue
            try:
                parts = split_multilabel(value)
            except ValueError:
                parts = [str(value)]
            cells.append(list(dict.fromkeys(parts or [])) if spec.type == "multilabel" or parts else None)
        out[group] = cells
    return out


def _flat_cells(schema: Schema, df: pd.DataFrame, tags: str,
                unknown: dict[str, list[int]]) -> dict[str, list[list[str] | None]]:
    """A flat tag column routed to groups; undeclared tags go to `unknown` with their 1-based rows."""
    rows = tag_lists(df, tags)
    owners = label_owners(schema)
    out: dict[str, list[list[str] | None]] = {g: [None] * len(rows) for g in schema.groups}
    for r, labels in enumerate(rows):
        if labels is None:
            continue
        for label in labels:
            for group in owners.get(label, []):
                out[group][r] = [*(out[group][r] or []), label]
            if label not in owners:
                unknown.setdefault(label, []).append(r + 1)
    return out
