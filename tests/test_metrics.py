"""Metrics on small arrays whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from compose.metrics import (
    GroupPrediction,
    gate_metric_name,
    group_metrics,
    headline_metric,
    merged_metrics,
    multilabel_metrics,
    one_hot,
    single_label_metrics,
)

LABELS = ["a", "b", "c"]


def test_multiclass_accuracy_counts_an_abstention_as_wrong() -> None:
    m = single_label_metrics(np.array([0, 1, 2, 1]), np.array([0, 2, 2, -1]), LABELS,
                             deliberate_empty=np.array([False, False, False, True]))
    assert m["accuracy"] == 0.5
    assert m["abstain_rate"] == 0.25
    assert m["invalid_combination_rate"] == 0.0


def test_multiclass_balanced_accuracy_is_the_mean_recall_of_present_classes() -> None:
    m = single_label_metrics(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), LABELS)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)


def test_multiclass_per_label_precision_recall_f1_and_support() -> None:
    m = single_label_metrics(np.array([0, 1, 2, 1]), np.array([0, 2, 2, -1]), LABELS)
    assert m["per_label"]["a"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_label"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert m["per_label"]["c"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert m["macro_f1"] == pytest.approx((1 + 0 + 0.6667) / 3, abs=1e-4)


def test_confusion_matrix_has_rows_true_and_columns_predicted_plus_none_and_several() -> None:
    pred = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]])
    m = single_label_metrics(np.array([0, 1, 1, 2]), pred, LABELS)
    cm = m["confusion_matrix"]
    assert cm["columns"] == ["a", "b", "c", "(none)", "(several)"]
    assert cm["matrix"] == [[1, 0, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]]


def test_no_label_without_abstaining_and_several_labels_are_invalid_combinations() -> None:
    pred = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 1, 0]])
    m = single_label_metrics(np.array([0, 1, 1, 1]), pred, LABELS)
    assert m["none_rate"] == 0.25
    assert m["several_rate"] == 0.25
    assert m["invalid_combination_rate"] == 0.5
    assert m["accuracy"] == 0.5


def test_argmax_accuracy_reads_the_scores_not_the_decisions() -> None:
    scores = np.array([[0.4, 0.3, 0.3], [0.2, 0.45, 0.35], [np.nan, np.nan, np.nan]])
    m = single_label_metrics(np.array([0, 1, 2]), np.zeros((3, 3), dtype=np.int8), LABELS, scores=scores)
    assert m["accuracy"] == 0.0
    assert m["argmax_accuracy"] == pytest.approx(2 / 3, abs=1e-4)


def test_binary_metrics_use_the_second_label_as_positive_and_scores_for_auc() -> None:
    y = np.array([0, 0, 1, 1])
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.65, 0.35], [0.2, 0.8]])
    m = group_metrics("binary", y, np.array([0, 1, 0, 1]), ["no", "yes"], scores=scores)
    assert m["positive_label"] == "yes"
    assert (m["precision"], m["recall"], m["f1"]) == (0.5, 0.5, 0.5)
    assert m["roc_auc"] == 0.75
    assert m["average_precision"] == pytest.approx(0.8333, abs=1e-4)


def test_binary_ranking_metrics_are_none_when_one_class_only() -> None:
    m = group_metrics("binary", np.array([1, 1]), np.array([1, 0]), ["no", "yes"], scores=np.full((2, 2), 0.5))
    assert m["roc_auc"] is None
    assert m["average_precision"] is None


def test_multilabel_metrics_by_hand() -> None:
    truth = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    pred = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    m = multilabel_metrics(truth, pred, LABELS)
    assert m["hamming_loss"] == pytest.approx(1 / 9, abs=1e-4)
    assert m["subset_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["jaccard"] == pytest.approx((0.5 + 1 + 1) / 3, abs=1e-4)
    assert m["micro_precision"] == 1.0
    assert m["micro_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["micro_f1"] == 0.8
    assert m["macro_f1"] == pytest.approx((1 + 1 + 0) / 3, abs=1e-4)
    assert m["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_multilabel_macro_scores_from_scores() -> None:
    truth = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[0.9, 0.2], [0.1, 0.7], [0.8, 0.6]])
    m = multilabel_metrics(truth, (scores >= 0.5).astype(np.int8), ["x", "y"], scores=scores)
    assert m["macro_roc_auc"] == 1.0


def test_empty_groups_report_zero_rows() -> None:
    assert group_metrics("multiclass", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), LABELS) == {"n": 0}
    assert group_metrics("multilabel", np.zeros((0, 3)), np.zeros((0, 3)), LABELS) == {"n": 0}


def test_merged_metrics_count_only_the_groups_labelled_in_each_row() -> None:
    truths = {"g": one_hot(np.array([0, 1, 2]), 3), "t": np.array([[1, 0], [0, 0], [1, 1]], dtype=np.int8)}
    preds = {
        "g": GroupPrediction(one_hot(np.array([0, 1, -1]), 3), None, np.array([False, False, True])),
        "t": GroupPrediction(np.array([[1, 0], [1, 0], [1, 1]], dtype=np.int8), None, np.zeros(3, dtype=bool)),
    }
    masks = {"g": np.array([True, True, True]), "t": np.array([True, False, True])}
    m = merged_metrics(truths, preds, masks, {"g": "multiclass", "t": "multilabel"})
    # row 0 right; row 1: t is not labelled, g right; row 2: g abstained -> wrong
    assert m["subset_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["hamming_loss"] == pytest.approx(1 / (3 * 3 + 2 * 2), abs=1e-4)
    assert m["abstain_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["invalid_combination_rate"] == 0.0


def test_merged_invalid_combination_rate_flags_a_row_with_several_labels_in_an_exclusive_group() -> None:
    truths = {"g": one_hot(np.array([0, 1]), 3)}
    preds = {"g": GroupPrediction(np.array([[1, 1, 0], [0, 1, 0]], dtype=np.int8), None, np.zeros(2, dtype=bool))}
    m = merged_metrics(truths, preds, {"g": np.array([True, True])}, {"g": "multiclass"})
    assert m["invalid_combination_rate"] == 0.5


def test_group_metrics_accepts_label_indices_as_training_passes_them() -> None:
    by_index = group_metrics("multiclass", np.array([0, 1, 2]), np.array([0, 1, 1]), LABELS)
    by_matrix = group_metrics("multiclass", np.array([0, 1, 2]), one_hot(np.array([0, 1, 1]), 3), LABELS)
    assert by_index == by_matrix


def test_headline_and_gate_metric_names() -> None:
    assert headline_metric("multiclass") == "accuracy"
    assert headline_metric("binary") == "accuracy"
    assert headline_metric("multilabel") == "micro_f1"
    assert gate_metric_name("multilabel", None) == "micro_f1"
    assert gate_metric_name("binary", "f1") == "f1"
