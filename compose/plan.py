"""The plan: a networkx DiGraph of a schema's submodels, and the questions the system asks of it.

Nodes are `input:<name>`, `feature:<name>`, `head:<group>` and `merge`. Edges run input -> feature
-> head -> merge, plus `when` edges from a gating head to its conditional head. The planner only
declares; it never imports the runtime, the store or the command line.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx

from compose.errors import PlanError
from compose.schema.models import Schema

MERGE = "merge"


def input_node(name: str) -> str:
    return f"input:{name}"


def feature_node(name: str) -> str:
    return f"feature:{name}"


def head_node(group: str) -> str:
    return f"head:{group}"


def node_name(node: str) -> str:
    """`feature:words` -> `words`."""
    return node.split(":", 1)[1] if ":" in node else node


class Plan:
    """The graph of one schema. Build it with `build_plan`."""

    def __init__(self, schema: Schema, graph: nx.DiGraph) -> None:
        self.schema = schema
        self.graph = graph

    # --- the questions -----------------------------------------------------------------------

    def order(self) -> list[str]:
        """Every node in an order where each comes after what it reads (ties broken by name)."""
        return list(nx.lexicographical_topological_sort(self.graph, key=self._declared))

    def _declared(self, node: str) -> tuple[int, int, str]:
        """Sort key: inputs, features, heads, merge; each in the schema's order of declaration."""
        kind, _, name = node.partition(":")
        order = {"input": list(self.schema.inputs), "feature": list(self.schema.features),
                 "head": list(self.schema.groups)}.get(kind, [])
        rank = {"input": 0, "feature": 1, "head": 2}.get(kind, 3)
        return (rank, order.index(name) if name in order else len(order), node)

    def training_order(self) -> list[str]:
        """Features, then heads, in an order where a gating head comes before its conditional heads."""
        return [n for n in self.order() if n.startswith(("feature:", "head:"))]

    def dependents(self, node: str) -> list[str]:
        """What must be retrained when `node` changes: its descendants, features and heads only."""
        self._require(node)
        return [n for n in self.order() if n in nx.descendants(self.graph, node) and n != MERGE
                and not n.startswith("input:")]

    def requirements(self, group: str) -> list[str]:
        """What must run, in order, to predict `group`: its ancestor features and heads, then it."""
        node = head_node(group)
        self._require(node)
        needed = nx.ancestors(self.graph, node) | {node}
        return [n for n in self.order() if n in needed and not n.startswith("input:")]

    def readers_of(self, feature: str) -> list[str]:
        """The groups whose heads read `feature`, in training order, with the heads they gate: every
        group that must be retrained when the feature is refitted."""
        return [node_name(n) for n in self.dependents(feature_node(feature)) if n.startswith("head:")]

    def groups_in_order(self) -> list[str]:
        return [node_name(n) for n in self.order() if n.startswith("head:")]

    def features_in_order(self) -> list[str]:
        return [node_name(n) for n in self.order() if n.startswith("feature:")]

    def gates_of(self, group: str) -> dict[str, list[str]]:
        return dict(self.schema.groups[group].when or {})

    def _require(self, node: str) -> None:
        if node not in self.graph:
            known = sorted(n for n in self.graph if n != MERGE)
            raise PlanError(f"the plan has no node {node!r}; known nodes: {known}")

    # --- rendering ---------------------------------------------------------------------------

    def to_text(self) -> str:
        s = self.schema
        lines = [f"plan for {s.name!r}: {len(s.inputs)} inputs, {len(s.features)} features, "
                 f"{len(s.groups)} heads"]
        lines.append("features (each fitted once, shared by the heads that read it):")
        for f in self.features_in_order():
            spec = s.features[f]
            readers = [node_name(n) for n in self.graph.successors(feature_node(f)) if n.startswith("head:")]
            lines.append(f"  {f:<16} {spec.type:<8} reads {', '.join(spec.inputs)}  -> heads: {', '.join(readers)}")
        lines.append("heads (in training order):")
        for g in self.groups_in_order():
            group = s.groups[g]
            line = (f"  {g:<16} {group.type:<10} {len(s.labels_of(g))} labels  "
                    f"features: {', '.join(s.features_of(g))}  model: {group.model.estimator}")
            if group.when:
                cond = "; ".join(f"{k} in {v}" for k, v in group.when.items())
                line += f"  when: {cond}"
            lines.append(line)
        lines.append("merge: " + ", ".join(self.groups_in_order()))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.schema.name,
            "nodes": [{"id": n, **self.graph.nodes[n]} for n in self.order()],
            "edges": [{"from": a, "to": b, **d} for a, b, d in self.graph.edges(data=True)],
            "training_order": self.training_order(),
        }

    def to_dot(self) -> str:
        shapes = {"input": "plaintext", "feature": "box", "head": "ellipse", "merge": "doublecircle"}
        out = [f"digraph {json.dumps(self.schema.name)} {{", "  rankdir=LR;"]
        for n in self.order():
            kind = self.graph.nodes[n]["kind"]
            out.append(f"  {json.dumps(n)} [shape={shapes[kind]}];")
        for a, b, d in self.graph.edges(data=True):
            style = " [style=dashed, label=\"when\"]" if d.get("kind") == "when" else ""
            out.append(f"  {json.dumps(a)} -> {json.dumps(b)}{style};")
        out.append("}")
        return "\n".join(out)


def build_plan(schema: Schema) -> Plan:
    """The graph of `schema`; raise PlanError on an unknown reference or a cycle."""
    g = nx.DiGraph()
    g.add_node(MERGE, kind="merge")
    for name, spec in schema.inputs.items():
        g.add_node(input_node(name), kind="input", type=spec.type)
    problems: list[str] = []
    for fname, fspec in schema.features.items():
        g.add_node(feature_node(fname), kind="feature", type=fspec.type)
        for col in fspec.inputs:
            if col not in schema.inputs:
                problems.append(f"feature {fname!r} reads unknown input {col!r}")
            g.add_edge(input_node(col), feature_node(fname), kind="reads")
    for gname, gspec in schema.groups.items():
        g.add_node(head_node(gname), kind="head", type=gspec.type)
        g.add_edge(head_node(gname), MERGE, kind="merges")
        for f in schema.features_of(gname):
            if f not in schema.features:
                problems.append(f"group {gname!r} reads unknown feature {f!r}")
            g.add_edge(feature_node(f), head_node(gname), kind="reads")
        for gate in gspec.when or {}:
            if gate not in schema.groups:
                problems.append(f"group {gname!r} is conditional on unknown group {gate!r}")
            g.add_edge(head_node(gate), head_node(gname), kind="when")
    if problems:
        raise PlanError("cannot plan the schema: " + "; ".join(problems))
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return Plan(schema, g)
    path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
    raise PlanError(f"cannot plan the schema: the graph has a cycle: {path}")
