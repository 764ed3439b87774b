"""Between a flat tag column (`Adelie|Biscoe|male`) and one column per group, as a schema declares.

`convert` routes every label of the flat column to the group that declares it:

- a multiclass or binary cell gets its one label; a row with two labels of one such group (an
  exclusivity violation) gets an EMPTY cell, so it is left out of that group only, and is counted;
- a multilabel cell gets its labels joined by `|`, or `[]` ("none of these") when the row has tags
  but none of this group's; a row with no tags at all gets empty cells (not annotated);
- a label named `not_<group>` stands for "none of this group's labels": a tagged row with no label
  of such a group gets it (only where the group's `when` gate holds, if it has one);
- a label that no group declares is an error that names it, its rows and the close matches.

`to_flat` joins the group columns back into one tag column (and leaves the `not_<group>` labels out),
so `convert(to_flat(df))` gives back `df` for every row that has at least one tag.
"""

from __future__ import annotations

import difflib
from typing import Any

import pandas as pd

from compose.data.cells import is_missing, split_multilabel
from compose.data.hierarchy import collapse_columns
from compose.data.io import as_frame, source_of
from compose.errors import DataError
from compose.schema.models import Schema

_SHOWN = 5


def tag_lists(df: pd.DataFrame, column: str) -> list[list[str] | None]:
    """The labels of each row of a flat tag column (`a|b` or a JSON list); None for an empty cell."""
    if column not in df.columns:
        close = difflib.get_close_matches(column, [str(c) for c in df.columns], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"{source_of(df)}: no column {column!r} for the tags.{hint} "
                        f"The file has {[str(c) for c in df.columns][:20]}; pass the tag column with --tags.")
    out: list[list[str] | None] = []
    for r, value in enumerate(df[column].tolist()):
        try:
            parts = split_multilabel(value)
        except ValueError as exc:
            raise DataError(f"{source_of(df)}, column {column!r}, row {r + 1}: {exc}; write the tags as "
                            "a|b or a JSON list") from exc
        out.append(None if parts is None else list(dict.fromkeys(parts)))
    return out


def label_owners(schema: Schema) -> dict[str, list[str]]:
    """Which groups declare each label (a label declared by two groups is ambiguous in a flat column)."""
    owners: dict[str, list[str]] = {}
    for group in schema.groups:
        for label in schema.labels_of(group):
            owners.setdefault(label, []).append(group)
    return owners


def none_label(schema: Schema, group: str) -> str | None:
    """The label that means "none of this group's labels" (`not_<group>`), if the group declares it."""
    name = f"not_{group}"
    return name if name in schema.labels_of(group) and schema.groups[group].type != "multilabel" else None


def convert(schema: Schema, data: Any, *, tags: str = "tags", keep: bool = False) -> pd.DataFrame:
    """One column per group from the flat tag column `tags`; other columns are kept as they are.

    The tag column is dropped unless `keep`. Rows with two labels of one multiclass or binary group
    get an empty cell for that group; `df.attrs["conflicts"]` counts them per group.
    """
    df = as_frame(data)
    rows = tag_lists(df, tags)
    owners = label_owners(schema)
    _refuse_ambiguous(schema, owners, tags)
    unknown: dict[str, list[int]] = {}
    cells: dict[str, list[Any]] = {g: [None] * len(rows) for g in schema.groups}
    conflicts: dict[str, int] = {}
    for r, labels in enumerate(rows):
        if labels is None:
            continue
        per_group: dict[str, list[str]] = {}
        for label in labels:
            if label not in owners:
                unknown.setdefault(label, []).append(r)
                continue
            per_group.setdefault(owners[label][0], []).append(label)
        for group, spec in schema.groups.items():
            found = per_group.get(group, [])
            if spec.type == "multilabel":
                cells[group][r] = "|".join(found) if found else "[]"
            elif len(found) == 1:
                cells[group][r] = found[0]
            elif len(found) > 1:
                conflicts[group] = conflicts.get(group, 0) + 1
    if unknown:
        raise DataError(_unknown_message(df, tags, unknown, list(owners)))
    _fill_none_labels(schema, rows, cells)
    out = df.drop(columns=[] if keep else [tags]).copy()
    for group, values in cells.items():
        if group in out.columns and group != tags:
            raise DataError(f"{source_of(df)}: the data already has a column {group!r}, the name of a group; "
                            "rename the column or the group")
        out[group] = pd.Series(values, index=out.index, dtype=object)
    out, tree_conflicts = collapse_columns(out, schema)  # a hierarchy's heads: one column, the deepest node
    out.attrs = {"source": source_of(df), "conflicts": {**conflicts, **tree_conflicts}}
    return out


def _refuse_ambiguous(schema: Schema, owners: dict[str, list[str]], tags: str) -> None:
    shared = {label: groups for label, groups in owners.items() if len(groups) > 1
              and not all(none_label(schema, g) == label for g in groups)}
    if shared:
        label, groups = next(iter(shared.items()))
        raise DataError(f"label {label!r} is declared by groups {groups}, so a flat column {tags!r} cannot say "
                        f"which group it belongs to ({len(shared)} such label{'s' if len(shared) > 1 else ''}); "
                        "rename the label in one group")


def _unknown_message(df: pd.DataFrame, tags: str, unknown: dict[str, list[int]], declared: list[str]) -> str:
    shown = []
    for label, where in list(unknown.items())[:_SHOWN]:
        close = difflib.get_close_matches(label, declared, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        rows = ", ".join(str(r + 1) for r in where[:3]) + (" ..." if len(where) > 3 else "")
        shown.append(f"{label!r}{hint} in {len(where)} row{'s' if len(where) > 1 else ''} ({rows})")
    more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
    return (f"{source_of(df)}, column {tags!r}: {len(unknown)} label{'s' if len(unknown) > 1 else ''} that no group "
            f"of the schema declares: {'; '.join(shown)}{more}. Add them to a group, or fix the cells "
            "(`compose check` lists them all).")


def _fill_none_labels(schema: Schema, rows: list[list[str] | None], cells: dict[str, list[Any]]) -> None:
    """Give `not_<group>` to tagged rows without a label of that group, where its gate holds."""
    for group, spec in schema.groups.items():
        empty = none_label(schema, group)
        if empty is None:
            continue
        for r, labels in enumerate(rows):
            if labels is None or cells[group][r] is not None:
                continue
            gated = all(cells.get(gate, [None] * len(rows))[r] in wanted for gate, wanted in (spec.when or {}).items())
            if gated:
                cells[group][r] = empty


def to_flat(schema: Schema, data: Any, *, tags: str = "tags") -> pd.DataFrame:
    """One tag column `tags` joined from the group columns (in schema order); the group columns go."""
    df = as_frame(data)
    present = [g for g in schema.groups if g in df.columns]
    if not present:
        raise DataError(f"{source_of(df)}: no group column to join; expected one of {list(schema.groups)}")
    if tags in df.columns and tags not in present:
        raise DataError(f"{source_of(df)}: the data already has a column {tags!r}; pick another name with --tags")
    joined: list[str | None] = []
    for _, row in df[present].iterrows():
        labels: list[str] = []
        for group in present:
            value = row[group]
            if is_missing(value):
                continue
            parts = split_multilabel(value) if schema.groups[group].type == "multilabel" else [str(value).strip()]
            labels.extend(p for p in parts or [] if p != none_label(schema, group))
        joined.append("|".join(dict.fromkeys(labels)) if labels else None)
    out = df.drop(columns=present).copy()
    out[tags] = pd.Series(joined, index=out.index, dtype=object)
    out.attrs = {"source": source_of(df)}
    return out
