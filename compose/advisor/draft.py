"""The advisor's proposals and their rendering: input types, the draft schema YAML, the evidence table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from compose.data.cells import is_missing
from compose.schema.document import dump_yaml


@dataclass
class GroupProposal:
    """One proposed group with its evidence."""

    name: str
    type: str
    labels: list[str]
    counts: dict[str, int]
    rows: int
    domain: int
    violations: int
    expected: float
    rule: str
    when: dict[str, list[str]] | None = None
    when_rows: tuple[int, int, int] = (0, 0, 0)  # rows held by the gate, rows of the group, rows of the gate labels
    tree: dict[str, list[str]] | None = None  # a hierarchy: each top-level label's children (compose.advisor.hierarchy)

    @property
    def when_evidence(self) -> str:
        if not self.when:
            return ""
        ((gate, subset),) = self.when.items()
        held, mine, width = self.when_rows
        return f"{held} of its {mine} rows ({held / mine:.1%}) carry {subset} of {gate} ({width} rows)"

    @property
    def coverage(self) -> float:
        return self.rows / self.domain if self.domain else 0.0


@dataclass(frozen=True)
class Implication:
    """A => B: `both` of the `support` rows tagged A are also tagged B."""

    a: str
    b: str
    support: int
    both: int

    @property
    def confidence(self) -> float:
        return self.both / self.support


@dataclass
class Suggestion:
    """What `suggest` found: the groups, the graph and its evidence; `draft()` writes the schema."""

    source: str
    column: str
    n_rows: int
    n_tagged: int
    tolerance: float
    groups: list[GroupProposal]
    implications: list[Implication]
    graph: nx.Graph
    n_colours: int
    lower_bound: int
    optimal: bool
    min_support: int
    inputs: dict[str, str]
    skipped: dict[str, str]
    frame: pd.DataFrame = field(repr=False)

    def partition(self) -> list[set[str]]:
        """The label sets of the groups, for comparisons that ignore names and order."""
        return [set(g.labels) - {f"not_{g.name}"} for g in self.groups]

    def draft(self, name: str | None = None) -> str:
        """The draft schema as YAML text, with the evidence as comments (see compose.advisor.draft)."""
        return draft_yaml(self, name)

    def table(self) -> list[str]:
        """The evidence as printable lines."""
        return evidence_table(self)


_MAX_CATEGORIES = 50
_TEXT_WORDS = 3.0
_TEXT_CHARS = 40.0


def infer_inputs(df: pd.DataFrame, tags: str) -> tuple[dict[str, str], dict[str, str]]:
    """The type of each column but `tags` (number, category or text) and the skipped ones with why.

    All cells parse as numbers -> number; a few distinct short values -> category; long or wordy
    cells -> text; short values that are almost all distinct and have no spaces (ids) are skipped.
    """
    types: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column in df.columns:
        if column == tags:
            continue
        values = [v for v in df[column].tolist() if not is_missing(v)]
        if not values:
            skipped[column] = "every cell is empty"
        elif all(isinstance(v, bool) for v in values):
            types[column] = "category"
        elif pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").notna().all():
            types[column] = "number"
        else:
            text = [str(v) for v in values]
            distinct = len(set(text))
            words = sum(len(t.split()) for t in text) / len(text)
            chars = sum(len(t) for t in text) / len(text)
            if words >= _TEXT_WORDS or chars >= _TEXT_CHARS:
                types[column] = "text"
            elif distinct <= min(_MAX_CATEGORIES, max(2, len(text) // 2)):
                types[column] = "category"
            elif distinct >= 0.95 * len(text) and words <= 1.05:
                skipped[column] = f"looks like an identifier ({distinct} distinct values in {len(text)} cells)"
            else:
                types[column] = "text"
    return types, skipped


def schema_name(source: str) -> str:
    """A schema name (letters, digits, `_.-`) from a file name."""
    stem = Path(source).name.split(".")[0] if source != "the data" else "suggested"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip(".-")
    return name[:100] or "suggested"


def schema_dict(s: Suggestion, name: str | None = None) -> dict[str, Any]:
    """The draft schema as a plain mapping (what `draft_yaml` writes, without the comments)."""
    text = [c for c, t in s.inputs.items() if t == "text"]
    table = [c for c, t in s.inputs.items() if t != "text"]
    features: dict[str, Any] = {}
    if text:
        features["words"] = {"type": "tfidf", "inputs": text}
    if table:
        features["table"] = {"type": "tabular", "inputs": table}
    return {
        "schema_version": 1,
        "name": name or schema_name(s.source),
        "inputs": {c: {"type": t} for c, t in s.inputs.items()},
        "features": features,
        "groups": {g.name: _group_dict(g) for g in s.groups},
        "tags": s.column,
    }


def _group_dict(g: GroupProposal) -> dict[str, Any]:
    out: dict[str, Any] = {"type": g.type, "labels": dict(g.tree) if g.tree is not None else list(g.labels)}
    if g.when:
        out["when"] = {k: list(v) for k, v in g.when.items()}
    return out


def _counts(g: GroupProposal) -> str:
    return ", ".join(f"{label} {g.counts[label]}" for label in g.labels if label in g.counts)


def _group_comments(g: GroupProposal) -> list[str]:
    lines = [f"{g.name}: {g.type}. Rule: {g.rule}.",
             f"Rows: {g.rows} of {g.domain} ({g.coverage:.1%}){' where its `when` holds' if g.when else ''}. "
             f"Labels (rows): {_counts(g)}."]
    if g.type == "multiclass":
        lines.append(f"Exclusivity: {g.violations} co-occurrence{'s' if g.violations != 1 else ''} of two of its "
                     f"labels (annotation noise within the tolerance; `convert` leaves those cells empty); "
                     f"{g.expected:.1f} expected if the labels were independent.")
    else:
        lines.append(f"Co-occurrences among its labels: {g.violations}.")
    if g.when:
        lines.append(f"when: {g.when_evidence}.")
    return lines


def draft_yaml(s: Suggestion, name: str | None = None) -> str:
    """The draft schema with the evidence as comments; `compose validate` accepts it as it is."""
    data = schema_dict(s, name)
    head = [
        f"Draft schema written by `compose suggest` from {s.source}, tag column {s.column!r}:",
        f"{s.n_tagged} tagged rows of {s.n_rows}, {s.graph.number_of_nodes()} labels, "
        f"{s.graph.number_of_edges()} co-occurrence edges (tolerance {s.tolerance:g} of the rarer label's rows).",
        f"{s.n_colours} colour classes (largest clique {s.lower_bound}; "
        f"{'proven minimal' if s.optimal else 'not proven minimal'}). Rename the groups before training.",
        "Inputs were typed from the other columns: " + (", ".join(f"{c} {t}" for c, t in s.inputs.items()) or "none")
        + ".",
    ]
    head += [f"Skipped column {c!r}: {why}." for c, why in s.skipped.items()]
    if s.implications:
        head.append("Implications (A => B, P(B|A) >= 98%): " + "; ".join(
            f"{i.a} => {i.b} {i.both}/{i.support}" for i in s.implications[:12])
            + (f" and {len(s.implications) - 12} more" if len(s.implications) > 12 else "") + ".")
    head.append(f"Next: rename the groups, then compose train draft.yaml --data {Path(s.source).name} --store "
                f"models (`tags: {s.column}` splits the flat column by these labels; `compose convert` "
                "writes the split file if you prefer one column per group)")
    out = [f"# {line}" for line in head]
    top = {k: v for k, v in data.items() if k != "groups"}
    out.append(dump_yaml(top).rstrip("\n"))
    out.append("groups:")
    for g in s.groups:
        out.extend(f"  # {line}" for line in _group_comments(g))
        block = dump_yaml({g.name: data["groups"][g.name]}).rstrip("\n")
        out.extend(f"  {line}" for line in block.splitlines())
    return "\n".join(out) + "\n"


def evidence_table(s: Suggestion) -> list[str]:
    """The proposals and their evidence as printable lines."""
    lines = [
        f"{s.source}, column {s.column!r}: {s.n_rows} rows, {s.n_tagged} tagged, {s.graph.number_of_nodes()} labels",
        f"co-occurrence graph: {s.graph.number_of_edges()} edges (labels sharing two or more rows and over "
        f"{s.tolerance:g} of the rarer label's rows); colouring: {s.n_colours} classes, "
        f"largest clique {s.lower_bound}, {'proven minimal' if s.optimal else 'not proven minimal'}",
        "",
        f"{'group':<14}{'type':<12}{'rows':>6}{'cover':>8}{'shared':>8}{'indep.':>9}  labels (rows)",
    ]
    for g in s.groups:
        expected = f"{g.expected:.1f}" if g.type == "multiclass" else "-"
        lines.append(f"{g.name:<14}{g.type:<12}{g.rows:>6}{g.coverage:>8.1%}{g.violations:>8}{expected:>9}  "
                     f"{_counts(g)}")
        lines.append(f"{'':<14}rule: {g.rule}")
        if g.when:
            lines.append(f"{'':<14}when: {g.when}: {g.when_evidence}")
    lines += ["", "shared: rows holding two labels of the group (for multiclass, noise within the tolerance); "
                  "indep.: shared rows expected if its labels were independent"]
    if s.implications:
        lines += ["", f"implications (A => B, P(B|A) >= 98%, A in at least {s.min_support} rows):"]
        lines += [f"  {i.a} => {i.b}: {i.both} of {i.support} rows ({i.confidence:.1%})" for i in s.implications]
    if s.skipped:
        lines += ["", *(f"skipped column {c!r}: {why}" for c, why in s.skipped.items())]
    return lines

