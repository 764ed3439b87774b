"""Minimum colouring of the label co-occurrence graph: greedy bounds, then an exact DSATUR search.

Colour classes are independent sets (labels that never share a row), so the fewest colours is the
fewest mutually exclusive groups. Greedy DSATUR and largest-first give an upper bound k; an exact
backtracking search (DSATUR order, a fresh colour tried once since colours are interchangeable)
then tries k - 1 colours until it fails; a maximum clique is the lower bound. The search has a
step budget: when it runs out, the colouring is kept and reported as not proven minimal.
"""

from __future__ import annotations

import networkx as nx

_SEARCH_BUDGET = 200_000


def colour(graph: nx.Graph) -> tuple[list[set[str]], int, bool]:
    """A colouring with as few colours as found, the clique lower bound, and whether it is optimal."""
    best: dict[str, int] | None = None
    for strategy in ("DSATUR", "largest_first"):
        found = nx.greedy_color(graph, strategy=strategy)
        if best is None or max(found.values(), default=-1) < max(best.values(), default=-1):
            best = found
    assert best is not None
    k = max(best.values(), default=-1) + 1
    lower = _clique_size(graph)
    complete = True
    while k > lower:
        attempt, finished = _exact(graph, k - 1)
        if attempt is None:
            complete = finished
            break
        best, k = attempt, k - 1
    classes: dict[int, set[str]] = {}
    for label, c in best.items():
        classes.setdefault(c, set()).add(label)
    return list(classes.values()), lower, complete or k == lower


def _clique_size(graph: nx.Graph) -> int:
    if graph.number_of_nodes() == 0:
        return 0
    if graph.number_of_nodes() <= 60:
        clique, _ = nx.max_weight_clique(graph, weight=None)
        return len(clique)
    return max((len(c) for c in nx.find_cliques(graph)), default=1)  # pragma: no cover - large graphs


def _exact(graph: nx.Graph, k: int) -> tuple[dict[str, int] | None, bool]:
    """A k-colouring by DSATUR backtracking, or None; the flag says whether the search finished."""
    nodes = list(graph.nodes)
    colour: dict[str, int] = {}
    steps = 0

    def saturation(v: str) -> int:
        return len({colour[u] for u in graph[v] if u in colour})

    def search() -> bool:
        nonlocal steps
        steps += 1
        if steps > _SEARCH_BUDGET:
            raise TimeoutError
        free = [v for v in nodes if v not in colour]
        if not free:
            return True
        v = max(free, key=lambda x: (saturation(x), graph.degree(x)))
        used = {colour[u] for u in graph[v] if u in colour}
        top = max(colour.values(), default=-1)
        for c in range(min(k, top + 2)):  # a fresh colour is tried once: colours are interchangeable
            if c not in used:
                colour[v] = c
                if search():
                    return True
                del colour[v]
        return False

    try:
        return (dict(colour), True) if search() else (None, True)
    except TimeoutError:
        return None, False
