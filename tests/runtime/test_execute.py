"""The execution core (compose.runtime.execute) driven by a fake scorer: no featurizer, no fitted
head, only the schema, the heads' labels and scores chosen by the test. Gating, decisions,
hierarchy paths and merged results are the core's; a model only plugs in its scoring."""

from __future__ import annotations

import numpy as np
import pytest
from _fake import FakeModel

from compose.runtime.execute import MockScorer, execute, predict
from compose.runtime.outputs import gated_off
from compose.schema.load import parse_schema

SHOP = """
schema_version: 1
name: shop
inputs: {title: {type: text}}
features: {words: {type: tfidf, inputs: [title]}}
groups:
  kind: {type: multiclass, labels: [shirt, shoe, hat], decision: {policy: min_confidence, min_confidence: 0.5}}
  size: {type: binary, labels: [small, large], when: {kind: [shoe]}}
  tags: {type: multilabel, labels: [red, blue, eco], decision: {threshold: 0.5}}
"""

MARITAL = """
schema_version: 1
name: census
inputs: {age: {type: number}}
features: {person: {type: tabular, inputs: [age]}}
groups:
  marital:
    type: hierarchy
    labels: {Married: [Civil, Absent], Single: [Never, Divorced]}
    features: [person]
    decision: {min_confidence: 0.6}
"""


#: Per group, the scores of the 4 rows of the shop batch (the scorer hands out the rows asked for).
SCORES = {
    "kind": np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.4, 0.35, 0.25], [0.05, 0.9, 0.05]]),
    "size": np.array([[0.5, 0.5], [0.3, 0.7], [0.5, 0.5], [0.9, 0.1]]),
    "tags": np.array([[0.9, 0.1, 0.6], [0.2, 0.3, 0.1], [0.5, 0.5, 0.5], [0.1, 0.95, 0.2]]),
}


def _scorer(n: int = 4) -> MockScorer:
    return MockScorer(lambda group, rows: SCORES[group][rows], n)


def test_a_conditional_group_is_scored_only_on_the_rows_its_gate_allows() -> None:
    scorer = _scorer()
    outputs = execute(FakeModel(parse_schema(SHOP)), scorer, 4)
    assert scorer.calls == [("kind", 4), ("size", 2), ("tags", 4)]  # plan order; size on the two shoes
    assert outputs["size"].applied.tolist() == [False, True, False, True]
    assert np.isnan(outputs["size"].scores[[0, 2]]).all()
    assert outputs["size"].skipped_reason == ["kind is shirt", None, "kind is undecided", None]


def test_the_core_decides_and_merges_every_group() -> None:
    results = predict(FakeModel(parse_schema(SHOP)), _scorer(), 4).to_list()
    assert [r["labels"] for r in results] == [["shirt", "red", "eco"], ["shoe", "large"], ["red", "blue", "eco"],
                                             ["shoe", "small", "blue"]]
    first = results[0]["groups"]
    assert first["kind"] == {"label": "shirt", "confidence": 0.7, "scores": {"shirt": 0.7, "shoe": 0.2, "hat": 0.1},
                             "version": 3, "decision_version": None, "outcome": "labelled"}
    assert first["size"] == {"label": None, "confidence": None, "skipped": "kind is shirt", "version": 3,
                             "decision_version": None, "outcome": "skipped", "reason": gated_off("kind is shirt")}
    abstained = results[2]["groups"]["kind"]
    assert abstained["outcome"] == "abstained" and abstained["label"] is None
    assert abstained["abstained"] == abstained["reason"] == "confidence 0.40 of 'shirt' is below min_confidence 0.5"
    assert results[2]["groups"]["size"]["reason"] == "gated off by `when`: kind is undecided"
    assert all(r["release"] == "r0007" for r in results)


def test_a_gate_missing_from_the_release_gates_every_row_off_without_scoring() -> None:
    scorer = _scorer()
    results = predict(FakeModel(parse_schema(SHOP), only=["size", "tags"]), scorer, 4).to_list()
    assert [g for g, _ in scorer.calls] == ["tags"]
    assert {r["groups"]["size"]["reason"] for r in results} == {gated_off("kind is not in this release")}


@pytest.mark.parametrize("n", [3, 70])  # the row-by-row merge (a few rows) and the column-wise one
def test_a_hierarchy_answers_one_path_from_the_heads_the_core_ran(n: int) -> None:
    model = FakeModel(parse_schema(MARITAL))
    per_head = {"marital": [0.9, 0.1], "marital/Married": [0.2, 0.8], "marital/Single": [0.5, 0.5]}
    scorer = MockScorer(lambda group, rows: np.tile(per_head[group], (len(rows), 1)), n)
    results = predict(model, scorer, n).to_list()
    assert scorer.calls == [("marital", n), ("marital/Married", n), ("marital/Single", n)]  # every head, every row
    result = results[-1]["groups"]["marital"]
    assert result["path"] == ["Married", "Absent"] and result["label"] == "Absent"
    assert result["path_confidence"] == pytest.approx(0.72)
    assert result["versions"] == {"marital": 3, "marital/Married": 3, "marital/Single": 3}
    assert results[-1]["labels"] == ["Married", "Absent"]
