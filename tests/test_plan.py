"""The planner: node ids, training order, dependents, requirements and rendering."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from _schemas import SHOP_HEADER

from compose.errors import PlanError
from compose.plan import MERGE, Plan, build_plan
from compose.schema.load import parse_schema

SCHEMA = SHOP_HEADER + """\
  sleeve:
    type: multiclass
    labels: [short, long]
    features: [words]
    when: {kind: [shirt, dress]}
  kind:
    type: multiclass
    labels: [shirt, pants, dress]
    features: [words]
  sale:
    type: binary
    features: [meta]
"""


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan(parse_schema(SCHEMA))


def test_node_ids_follow_the_grammar(plan: Plan) -> None:
    assert sorted(plan.graph.nodes) == sorted([
        "input:title", "input:price", "feature:words", "feature:meta", "head:sleeve", "head:kind", "head:sale",
        MERGE])


def test_node_kinds_are_recorded(plan: Plan) -> None:
    kinds = {n: plan.graph.nodes[n]["kind"] for n in plan.graph}
    assert (kinds["input:title"], kinds["feature:words"], kinds["head:kind"], kinds[MERGE]) == (
        "input", "feature", "head", "merge")


def test_edges_run_input_feature_head_merge_plus_when(plan: Plan) -> None:
    edges = {(a, b): d["kind"] for a, b, d in plan.graph.edges(data=True)}
    assert edges == {
        ("input:title", "feature:words"): "reads", ("input:price", "feature:meta"): "reads",
        ("feature:words", "head:sleeve"): "reads", ("feature:words", "head:kind"): "reads",
        ("feature:meta", "head:sale"): "reads", ("head:kind", "head:sleeve"): "when",
        ("head:sleeve", MERGE): "merges", ("head:kind", MERGE): "merges", ("head:sale", MERGE): "merges",
    }


def test_the_graph_is_acyclic(plan: Plan) -> None:
    assert nx.is_directed_acyclic_graph(plan.graph)


def test_training_order_puts_a_gating_head_before_its_conditional_head(plan: Plan) -> None:
    order = plan.training_order()
    assert order.index("head:kind") < order.index("head:sleeve")


def test_training_order_is_features_then_heads_in_declared_order_as_far_as_gates_allow(plan: Plan) -> None:
    assert plan.training_order() == ["feature:words", "feature:meta", "head:kind", "head:sleeve", "head:sale"]


def test_dependents_of_a_feature_are_what_to_retrain(plan: Plan) -> None:
    assert plan.dependents("feature:words") == ["head:kind", "head:sleeve"]


def test_the_readers_of_a_feature_are_the_groups_to_retrain_with_the_heads_they_gate(plan: Plan) -> None:
    assert plan.readers_of("words") == ["kind", "sleeve"]
    assert plan.readers_of("meta") == ["sale"]
    with pytest.raises(PlanError, match="no node 'feature:wrds'"):
        plan.readers_of("wrds")


def test_dependents_of_a_gating_head_include_its_conditional_head(plan: Plan) -> None:
    assert plan.dependents("head:kind") == ["head:sleeve"]


def test_dependents_of_an_input_are_its_features_and_heads(plan: Plan) -> None:
    assert plan.dependents("input:price") == ["feature:meta", "head:sale"]


def test_requirements_of_a_conditional_group_include_its_gate(plan: Plan) -> None:
    assert plan.requirements("sleeve") == ["feature:words", "head:kind", "head:sleeve"]


def test_requirements_of_a_plain_group_are_its_features_and_itself(plan: Plan) -> None:
    assert plan.requirements("sale") == ["feature:meta", "head:sale"]


def test_an_unknown_node_is_a_plan_error_listing_known_nodes(plan: Plan) -> None:
    with pytest.raises(PlanError, match=r"the plan has no node 'feature:wrds'; known nodes: \["):
        plan.dependents("feature:wrds")


def test_requirements_of_an_unknown_group_is_a_plan_error(plan: Plan) -> None:
    with pytest.raises(PlanError, match=r"no node 'head:nope'"):
        plan.requirements("nope")


def test_gates_of_a_conditional_group(plan: Plan) -> None:
    assert plan.gates_of("sleeve") == {"kind": ["shirt", "dress"]}


def test_text_output_lists_features_heads_and_merge(plan: Plan) -> None:
    text = plan.to_text()
    assert text.splitlines()[0] == "plan for 'shop': 2 inputs, 2 features, 3 heads"
    assert "when: kind in ['shirt', 'dress']" in text
    assert text.splitlines()[-1] == "merge: kind, sleeve, sale"


def test_json_output_is_serialisable_with_nodes_edges_and_order(plan: Plan) -> None:
    data = json.loads(json.dumps(plan.to_json()))
    assert (data["name"], len(data["nodes"]), len(data["edges"]), data["training_order"][-1]) == (
        "shop", 8, 9, "head:sale")


def test_dot_output_draws_when_edges_dashed(plan: Plan) -> None:
    dot = plan.to_dot()
    assert dot.startswith('digraph "shop" {')
    assert '"head:kind" -> "head:sleeve" [style=dashed, label="when"];' in dot


def test_a_schema_built_without_validation_with_an_unknown_feature_is_a_plan_error() -> None:
    schema = parse_schema(SCHEMA)
    broken = schema.model_copy(update={"groups": {**schema.groups, "sale": schema.groups["sale"].model_copy(
        update={"features": ["metta"]})}})
    with pytest.raises(PlanError, match=r"group 'sale' reads unknown feature 'metta'"):
        build_plan(broken)


def test_a_when_cycle_that_bypassed_validation_is_a_plan_error() -> None:
    schema = parse_schema(SCHEMA)
    kind = schema.groups["kind"].model_copy(update={"when": {"sleeve": ["short"]}})
    broken = schema.model_copy(update={"groups": {**schema.groups, "kind": kind}})
    with pytest.raises(PlanError, match=r"the graph has a cycle: "):
        build_plan(broken)


def test_the_planner_module_imports_no_runtime_store_or_cli() -> None:
    import ast

    import compose.plan

    tree = ast.parse(Path(compose.plan.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    layers = {m.split(".")[1] for m in imported if m.startswith("compose.")}
    assert layers & {"runtime", "store", "cli", "training"} == set()
