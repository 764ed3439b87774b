"""Decision policies on known scores, and their schema checks (key path and line in every message)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from compose.errors import SchemaError
from compose.heads.decide import decide, explain, raw_predictions
from compose.schema.load import parse_schema
from compose.schema.models import GroupSpec

LABELS = ["red", "blue", "green", "white"]


def _spec(kind: str, decision: dict[str, Any], labels: list[str] | None = LABELS) -> GroupSpec:
    return GroupSpec.model_validate({"type": kind, "labels": labels, "decision": decision})


def _schema_text(decision: str, kind: str = "multiclass") -> str:
    return f"""schema_version: 1
name: t
inputs: {{x: {{type: number}}}}
features: {{f: {{type: tabular, inputs: [x]}}}}
groups:
  color:
    type: {kind}
    labels: [red, blue, green]
    decision: {decision}
"""


def test_cumulative_takes_labels_until_their_sum_reaches_p() -> None:
    scores = np.array([[0.5, 0.3, 0.15, 0.05],
                       [0.03, 0.95, 0.01, 0.01],
                       [0.25, 0.25, 0.25, 0.25],
                       [0.1, 0.2, 0.3, 0.4]])
    decided = decide(_spec("multiclass", {"policy": "cumulative", "p": 0.8}), LABELS, scores)
    assert decided.selected is not None
    assert decided.selected.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 1]]
    assert decided.chosen.tolist() == [0, 1, 0, 3]  # the best label stays `chosen`, for metrics


def test_cumulative_is_capped_by_k_and_abstains_below_min_confidence() -> None:
    scores = np.array([[0.25, 0.25, 0.25, 0.25], [0.6, 0.3, 0.1, 0.0]])
    spec = _spec("multiclass", {"policy": "cumulative", "p": 0.9, "k": 2, "min_confidence": 0.3})
    decided = decide(spec, LABELS, scores)
    assert decided.selected is not None
    assert decided.selected.tolist() == [[0, 0, 0, 0], [1, 1, 0, 0]]
    assert decided.chosen.tolist() == [-1, 0]
    assert decided.abstained.tolist() == [True, False]


def test_top_k_takes_the_k_best_labels_but_never_one_scoring_zero() -> None:
    scores = np.array([[0.1, 0.6, 0.3, 0.0], [1.0, 0.0, 0.0, 0.0]])
    decided = decide(_spec("multiclass", {"policy": "top_k", "k": 2}), LABELS, scores)
    assert decided.selected is not None
    assert decided.selected.tolist() == [[0, 1, 1, 0], [1, 0, 0, 0]]


def test_zones_accept_review_and_reject() -> None:
    scores = np.array([[0.9, 0.1, 0, 0], [0.6, 0.4, 0, 0], [0.4, 0.3, 0.3, 0]])
    spec = _spec("multiclass", {"policy": "zones", "accept": 0.8, "review": 0.5})
    decided = decide(spec, LABELS, scores)
    assert decided.chosen.tolist() == [0, -1, -1]
    assert decided.review is not None
    assert decided.review.tolist() == [False, True, False]
    assert decided.abstained.tolist() == [False, False, True]
    assert [explain(spec, LABELS, scores, decided, r)[0] for r in range(3)] == ["labelled", "review", "rejected"]
    assert "below accept 0.8 and at or above review 0.5" in str(explain(spec, LABELS, scores, decided, 1)[1])


def test_the_existing_min_confidence_form_still_abstains() -> None:
    scores = np.array([[0.45, 0.35, 0.2, 0.0], [0.7, 0.1, 0.1, 0.1]])
    spec = _spec("multiclass", {"min_confidence": 0.5})
    decided = decide(spec, LABELS, scores)
    assert decided.chosen.tolist() == [-1, 0]
    assert explain(spec, LABELS, scores, decided, 0) == (
        "abstained", "confidence 0.45 of 'red' is below min_confidence 0.5")
    assert raw_predictions(spec, LABELS, scores).tolist() == [0, 0]


def test_multilabel_per_label_thresholds_then_min_and_max_labels() -> None:
    scores = np.array([[0.9, 0.8, 0.75, 0.1], [0.2, 0.3, 0.1, 0.0], [0.6, 0.1, 0.1, 0.1]])
    spec = _spec("multilabel", {"threshold": 0.7, "thresholds": {"green": 0.8}, "max_labels": 2})
    assert decide(spec, LABELS, scores).chosen.tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    at_least_one = _spec("multilabel", {"threshold": 0.7, "min_labels": 1})
    assert decide(at_least_one, LABELS, scores).chosen.tolist() == [[1, 1, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]
    decided = decide(spec, LABELS, scores)
    outcome, reason = explain(spec, LABELS, scores, decided, 1)
    assert outcome == "below_threshold"
    assert reason == "no label reached its threshold; the closest is 'blue' with 0.30 < 0.7"


def test_binary_threshold() -> None:
    scores = np.array([[0.35, 0.65], [0.25, 0.75]])
    spec = _spec("binary", {"threshold": 0.7}, ["no", "yes"])
    assert decide(spec, ["no", "yes"], scores).chosen.tolist() == [0, 1]
    assert raw_predictions(spec, ["no", "yes"], scores).tolist() == [0, 1]


@pytest.mark.parametrize("decision", [
    "{min_confidence: 0.5}", "{policy: argmax}", "{policy: top_k, k: 2}", "{policy: cumulative, p: 0.9}",
    "{policy: cumulative, p: 0.9, k: 2, min_confidence: 0.2}", "{policy: zones, accept: 0.8, review: 0.5}",
])
def test_multiclass_policies_validate(decision: str) -> None:
    parse_schema(_schema_text(decision))


def test_existing_multilabel_form_validates() -> None:
    schema = parse_schema(_schema_text("{threshold: 0.7, thresholds: {green: 0.8}, min_labels: 1, max_labels: 2}",
                                       "multilabel"))
    assert schema.groups["color"].decision.policy_of("multilabel") == "threshold"


@pytest.mark.parametrize(("decision", "kind", "where", "message"), [
    ("{k: 2}", "multiclass", "groups.color.decision.k", "'k' is not a parameter of policy 'argmax'; it belongs to "
                                                          "['top_k', 'cumulative']. Write `policy: top_k`"),
    ("{policy: top_k}", "multiclass", "groups.color.decision.k", "policy 'top_k' needs 'k'; add it"),
    ("{policy: top_k, k: 4}", "multiclass", "groups.color.decision.k", "k 4 is more than the 3 declared labels"),
    ("{policy: zones, accept: 0.5, review: 0.8}", "multiclass", "groups.color.decision.review",
     "review 0.8 is above accept 0.5"),
    ("{policy: zones, accept: 0.5}", "multiclass", "groups.color.decision.review", "policy 'zones' needs 'review'"),
    ("{policy: top_k}", "multilabel", "groups.color.decision.policy",
     "policy 'top_k' does not apply to a multilabel group; allowed: ['threshold']"),
    ("{threshold: 0.5}", "multiclass", "groups.color.decision.threshold",
     "'threshold' does not apply to a multiclass group"),
    ("{min_labels: 3, max_labels: 2}", "multilabel", "groups.color.decision.min_labels",
     "min_labels 3 is more than max_labels 2"),
    ("{policy: cumulative, p: 1.5}", "multiclass", "groups.color.decision.p", "less than or equal to 1"),
])
def test_a_wrong_decision_names_its_key_and_line(decision: str, kind: str, where: str, message: str) -> None:
    with pytest.raises(SchemaError, match="1 problem") as info:
        parse_schema(_schema_text(decision, kind))
    text = str(info.value)
    assert f"{where} at <string>:9: " in text
    assert message in text
