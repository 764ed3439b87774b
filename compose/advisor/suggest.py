"""The schema advisor: from a flat tag column to separated label groups, with the evidence.

The algorithm, in four steps:

1. **Co-occurrence graph.** One node per label; an edge joins two labels that appear together in more
   than `tolerance` (default 5%) of the rows of the rarer of the two, and in at least two rows. Rarer
   co-occurrences are taken as annotation noise and reported as violations. `tolerance=0` allows no
   noise: every co-occurrence, even in one row, is an edge.
2. **Partition = colouring.** A set of labels that never share a row is an independent set of the
   graph, so splitting the labels into as few mutually exclusive groups as possible is a minimum
   colouring of it (a clique cover of the exclusion graph). networkx's greedy DSATUR and
   largest-first colourings give an upper bound; an exact DSATUR backtracking search then tries one
   colour fewer until it fails, and a maximum clique gives the lower bound. For graphs up to a few
   dozen labels the search finishes and the number of groups is proven minimal (`optimal` says
   whether it was). When several minimum colourings exist, each label is then moved to the
   compatible group where the evidence of exclusion (expected minus observed co-occurrences under
   independence) is strongest.
3. **Checklist.** A colour class of two or more labels whose exclusivity is significant (they would
   co-occur about E times if independent and do so O <= E times: Poisson P(X <= O) < 0.01) becomes a
   multiclass group; a single label, or labels whose exclusivity could be chance, join one
   multilabel group (tags that co-occur freely). A multiclass group that labels fewer than half of
   the rows it applies to gets a `not_<group>` label for "none of these", filled in by `convert`.
4. **Implications.** A => B when P(B | A) >= 0.98 with at least `min_support` rows of A. A group all
   of whose rows carry one of a proper subset S of another multiclass group's labels (98% again) is
   proposed as conditional: `when: {that_group: S}`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
from scipy.stats import poisson

from compose._defaults import DEFAULT_TOLERANCE, IMPLICATION, MIN_SUPPORT
from compose.advisor.colouring import colour as _colour
from compose.advisor.draft import GroupProposal, Implication, Suggestion, infer_inputs
from compose.advisor.hierarchy import propose_hierarchies
from compose.data.io import as_frame, source_of
from compose.data.tags import tag_lists
from compose.errors import DataError

_SIGNIFICANCE = 0.01
_MIN_COVERAGE = 0.5
_CLOUD_COVERAGE = 0.9
_MIN_OUTSIDE = 0.1
_STRICT = 0.01  # a set whose labels share at most this fraction of the rows chance would give is exclusive by rule


def suggest(data: Any, tags: str = "tags", *, tolerance: float = DEFAULT_TOLERANCE,
            min_support: int = MIN_SUPPORT, implication: float = IMPLICATION) -> Suggestion:
    """Propose mutually exclusive label groups from the flat tag column `tags` of `data`."""
    if not 0.0 <= tolerance < 1.0:
        raise DataError(f"tolerance must be in [0, 1); got {tolerance}")
    df = as_frame(data)
    rows = tag_lists(df, tags)
    tagged = [r for r in rows if r]
    if not tagged:
        raise DataError(f"{source_of(df)}: column {tags!r} holds no tags in {len(df)} rows; "
                        "nothing to group (expected cells like 'red|shirt')")
    inputs, skipped = infer_inputs(df, tags)
    if not inputs:
        raise DataError(f"{source_of(df)}: no column besides {tags!r} to read as an input; a schema needs at "
                        "least one input column (text, number or category)")
    stats = _Counts.of(tagged)
    graph = _graph(stats, tolerance)
    colours, lower, optimal = _colour(graph)
    classes = _refine(colours, graph, stats)
    groups = _classify(classes, stats, tags, {*inputs, tags})
    _measure(groups, tagged)
    _propose_when(groups, tagged, tolerance, min_support, implication)
    groups = _merge_tag_cloud(groups, graph, stats, tagged, {*inputs, tags}, tags)
    _add_none_labels(groups, tagged)
    groups = propose_hierarchies(groups, tagged, implication)
    imps = _implications(stats, min_support, implication)
    return Suggestion(source_of(df), tags, len(df), len(tagged), tolerance, groups, imps, graph,
                      len(classes), lower, optimal, min_support, inputs, skipped, df)


@dataclass(frozen=True)
class _Counts:
    """Rows per label and per pair of labels, over the `n` tagged rows."""

    counts: dict[str, int]
    pairs: dict[tuple[str, str], int]
    n: int

    @classmethod
    def of(cls, rows: Iterable[list[str]]) -> _Counts:
        counts: dict[str, int] = {}
        pairs: dict[tuple[str, str], int] = {}
        n = 0
        for labels in rows:
            n += 1
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
            for a, b in itertools.combinations(sorted(labels), 2):
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
        return cls(counts, pairs, n)

    def pair(self, a: str, b: str) -> int:
        return self.pairs.get((a, b) if a < b else (b, a), 0)

    def expected(self, a: str, b: str) -> float:
        """Rows a and b would share if they were independent."""
        return self.counts[a] * self.counts[b] / self.n

    def by_frequency(self, labels: Iterable[str]) -> list[str]:
        return sorted(labels, key=lambda x: (-self.counts[x], x))


def _graph(stats: _Counts, tolerance: float) -> nx.Graph:
    """Labels, most frequent first; an edge where they co-occur beyond the tolerance."""
    graph = nx.Graph()
    graph.add_nodes_from(stats.by_frequency(stats.counts))
    floor = 1 if tolerance > 0 else 0  # with any tolerance, one shared row is noise
    for (a, b), k in stats.pairs.items():
        if k > max(floor, tolerance * min(stats.counts[a], stats.counts[b])):
            graph.add_edge(a, b, weight=k)
    return graph


def _exclusion(stats: _Counts, label: str, members: set[str]) -> float:
    """Evidence that `label` excludes `members`: co-occurrences expected if independent, minus observed."""
    return sum(stats.expected(label, b) - stats.pair(label, b) for b in members if b != label)


def _refine(classes: list[set[str]], graph: nx.Graph, stats: _Counts) -> list[set[str]]:
    """Move each label to the compatible class with the strongest evidence of exclusion."""
    classes = [set(c) for c in classes]
    for _ in range(10):
        moved = False
        for label in sorted(stats.counts, key=lambda x: (stats.counts[x], x)):
            home = next(i for i, c in enumerate(classes) if label in c)
            score = {i: _exclusion(stats, label, c) for i, c in enumerate(classes)
                     if i == home or not any(graph.has_edge(label, b) for b in c)}
            best = max((i for i in score if i != home), key=score.__getitem__, default=None)
            if best is not None and score[best] > score[home] + 1e-9:
                classes[home].discard(label)
                classes[best].add(label)
                moved = True
        classes = [c for c in classes if c]
        if not moved:
            break
    return classes


def _classify(classes: list[set[str]], stats: _Counts, column: str, taken: set[str]) -> list[GroupProposal]:
    """Significantly exclusive classes of two or more labels become multiclass; the rest, one multilabel."""
    exclusive: list[GroupProposal] = []
    loose: list[str] = []
    counts, n = stats.counts, stats.n
    for members in classes:
        labels = stats.by_frequency(members)
        expected = sum(stats.expected(a, b) for a, b in itertools.combinations(labels, 2))
        observed = sum(stats.pair(a, b) for a, b in itertools.combinations(labels, 2))
        if len(labels) >= 2 and poisson.cdf(observed, expected) < _SIGNIFICANCE:
            rows = sum(counts[x] for x in labels) - observed  # exact when no row has three; recounted later
            exclusive.append(GroupProposal(
                "", "multiclass", labels, {x: counts[x] for x in labels}, rows, n, observed, expected,
                "labels that (almost) never share a row -> one multiclass group"))
        else:
            loose.extend(labels)
    exclusive.sort(key=lambda g: (-g.rows, g.labels[0]))
    for i, g in enumerate(exclusive, start=1):
        g.name = _safe_name(f"group_{i}", taken)
        taken.add(g.name)
    out = list(exclusive)
    if loose:
        labels = stats.by_frequency(loose)
        name = _cloud_name(column, taken)
        observed = sum(stats.pair(a, b) for a, b in itertools.combinations(labels, 2))
        out.append(GroupProposal(
            name, "multilabel", labels, {x: counts[x] for x in labels}, 0, n, observed, 0.0,
            "labels that share rows freely (or too rare to tell) -> one multilabel group"))
    return out


def _cloud_name(column: str, taken: set[str]) -> str:
    """The multilabel group's name: `<column>_labels`, never the tag column's own name (the schema's `tags`
    key names that column, and a group may not share it)."""
    return _safe_name(f"{column}_labels", taken | {column})


def _safe_name(column: str, taken: set[str]) -> str:
    base = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in column).lstrip(".-") or "tags"
    name = base
    while name in taken:
        name = f"{name}_"
    return name


def _implications(stats: _Counts, min_support: int, level: float) -> list[Implication]:
    """Every A => B: B is on at least `level` of A's rows (never two labels of one multiclass group)."""
    counts = stats.counts
    out = [Implication(a, b, counts[a], stats.pair(a, b))
           for a in counts for b in counts
           if a != b and counts[a] >= min_support and stats.pair(a, b) >= level * counts[a]]
    return sorted(out, key=lambda i: (-i.confidence, -i.support, i.a, i.b))


def _propose_when(groups: list[GroupProposal], rows: list[list[str]], tolerance: float, min_support: int,
                  level: float) -> None:
    """Make a group conditional on another when its rows nearly all carry a proper subset of its labels."""
    gates = nx.DiGraph()
    members = [(g, set(g.labels)) for g in groups]
    for group, own in members:
        mine = [r for r in rows if own.intersection(r)]
        if len(mine) < min_support:
            continue
        options: list[tuple[int, str, list[str], int]] = []
        for gate, theirs in members:
            if gate is group or gate.type != "multiclass":
                continue
            seen = {label: sum(1 for r in mine if label in r) for label in gate.labels}
            # the group applies to a gate label unless it is on at most `tolerance` of that label's rows
            subset = [label for label, k in seen.items() if k > tolerance * gate.counts[label]]
            held = sum(1 for r in mine if theirs.intersection(r) & set(subset))
            outside = [label for label in gate.labels if label not in subset]
            out_rows = sum(gate.counts[label] for label in outside)
            # the labels left out must be common enough that the group's absence from them is no chance
            expected = out_rows * len(mine) / len(rows)
            significant = poisson.cdf(sum(seen[label] for label in outside), expected) < _SIGNIFICANCE
            if (subset and outside and held >= level * len(mine) and significant
                    and out_rows >= _MIN_OUTSIDE * sum(gate.counts.values())):
                width = sum(gate.counts[label] for label in subset)
                options.append((width, gate.name, subset, held))
        for width, gate_name, subset, held in sorted(options):
            gates.add_edge(gate_name, group.name)
            if not nx.is_directed_acyclic_graph(gates):
                gates.remove_edge(gate_name, group.name)
                continue
            group.when = {gate_name: subset}
            group.when_rows = (held, len(mine), width)
            break


def _measure(groups: list[GroupProposal], rows: list[list[str]]) -> None:
    """Set each group's rows (those with one of its labels) and domain (rows its `when` lets in)."""
    for g in groups:
        own = set(g.labels)
        domain = rows
        if g.when:
            wanted = set(next(iter(g.when.values())))
            domain = [r for r in rows if wanted.intersection(r)]
        g.domain = len(domain)
        g.rows = sum(1 for r in domain if own.intersection(r))


def _merge_tag_cloud(groups: list[GroupProposal], graph: nx.Graph, stats: _Counts, rows: list[list[str]],
                     taken: set[str], column: str) -> list[GroupProposal]:
    """Fold sparse exclusive sets that co-occur with the free tags (or with each other) into the multilabel group.

    A set of labels that merely happen not to meet (Drama and Documentary among film genres) labels
    few rows and shares rows with other such tags; a real exclusive group labels nearly every row
    it applies to, or is conditional (`when`), or gates another group.
    """
    cloud = next((g for g in groups if g.type == "multilabel"), None)
    gates = {gate for g in groups for gate in (g.when or {})}
    sparse = [g for g in groups if g.type == "multiclass" and not g.when and g.name not in gates
              and g.coverage < _CLOUD_COVERAGE and not _strict(g)]
    pool = (set(cloud.labels) if cloud else set()) | {label for g in sparse for label in g.labels}
    joining = [g for g in sparse if any(graph.has_edge(a, b) for a in g.labels for b in pool - set(g.labels))]
    if not joining:
        return _rename(groups, taken)
    labels = stats.by_frequency((set(cloud.labels) if cloud else set()) | {x for g in joining for x in g.labels})
    merged = GroupProposal(
        cloud.name if cloud else _cloud_name(column, taken), "multilabel", labels,
        {x: stats.counts[x] for x in labels}, 0, 0,
        sum(stats.pair(a, b) for a, b in itertools.combinations(labels, 2)), 0.0,
        "labels that share rows freely, or sparse sets that only happen not to meet -> one multilabel group")
    kept = [g for g in groups if g not in joining and g is not cloud]
    _measure([merged], rows)
    return _rename([*kept, merged], taken)


def _strict(g: GroupProposal) -> bool:
    """Exclusive by rule, not by chance: its labels (almost) never meet though chance would have them
    meet often (MPAA ratings on the 15% of films that have one), so missing cells do not make it a tag cloud."""
    return g.violations <= _STRICT * g.expected and poisson.cdf(g.violations, g.expected) < _SIGNIFICANCE


def _rename(groups: list[GroupProposal], taken: set[str]) -> list[GroupProposal]:
    """Number the multiclass groups group_1, group_2, ... by rows covered, and follow in `when`."""
    exclusive = sorted((g for g in groups if g.type == "multiclass"), key=lambda g: (-g.rows, g.labels[0]))
    names: dict[str, str] = {}
    used = set(taken) | {g.name for g in groups if g.type != "multiclass"}
    for i, g in enumerate(exclusive, start=1):
        names[g.name] = _safe_name(f"group_{i}", used)
        used.add(names[g.name])
    for g in groups:
        g.name = names.get(g.name, g.name)
        if g.when:
            g.when = {names.get(k, k): v for k, v in g.when.items()}
    return [*exclusive, *(g for g in groups if g.type != "multiclass")]


def _add_none_labels(groups: list[GroupProposal], rows: list[list[str]]) -> None:
    """A multiclass group that labels under half of the rows it applies to gets `not_<group>`."""
    _measure(groups, rows)
    for g in groups:
        if g.type == "multiclass" and g.domain and g.coverage < _MIN_COVERAGE:
            g.labels.append(f"not_{g.name}")
            g.rule += f"; it labels only {g.coverage:.0%} of its rows, so `not_{g.name}` stands for none of them"

