"""Per-label truth cells (`{"red": true, "blue": false}`): a label is trained and scored only where known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _schemas import SHOP_HEADER

import compose
from compose.data.targets import parse_targets
from compose.errors import DataError
from compose.metrics import multilabel_metrics

SCHEMA = SHOP_HEADER + """\
  colors:
    type: multilabel
    labels: [red, blue]
    features: [words]
    model: {estimator: knn, params: {n_neighbors: 1}}
"""


def _frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    titles, cells = [], []
    for i in range(n):
        red, blue = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        titles.append(f"item {i} {'crimson' if red else 'plain'} {'navy' if blue else 'flat'}")
        if i % 3 == 0:
            cells.append(f'{{"red": {str(red).lower()}}}')  # blue unknown
        else:
            cells.append("|".join(c for c, on in (("red", red), ("blue", blue)) if on) or "[]")
    return pd.DataFrame({"title": titles, "price": np.arange(n, dtype=float), "colors": cells})


def test_a_per_label_cell_is_parsed_with_a_known_mask() -> None:
    schema = compose.parse_schema(SCHEMA, source="s.yaml")
    df = pd.DataFrame({"title": ["a"] * 5, "price": [1.0] * 5,
                       "colors": ['{"red": true}', '{"red": false, "blue": true}', "red", "[]", None]})
    t = parse_targets(df, schema)["colors"]
    assert t.labelled.tolist() == [True, True, True, True, False]
    assert t.y.tolist() == [[1, 0], [0, 1], [1, 0], [0, 0], [0, 0]]
    assert t.known is not None
    assert t.known.tolist() == [[True, False], [True, True], [True, True], [True, True], [False, False]]


def test_a_per_label_cell_with_an_undeclared_label_or_a_non_boolean_is_an_error_naming_the_row() -> None:
    schema = compose.parse_schema(SCHEMA, source="s.yaml")
    df = pd.DataFrame({"title": ["a", "b"], "price": [1.0, 2.0], "colors": ['{"red": true}', '{"green": true}']})
    with pytest.raises(DataError, match=r"row 2: 'green'"):
        parse_targets(df, schema)
    df = pd.DataFrame({"title": ["a"], "price": [1.0], "colors": ['{"red": "maybe"}']})
    with pytest.raises(DataError, match=r"row 1: label 'red' is given 'maybe'"):
        parse_targets(df, schema)


def test_each_label_trains_only_on_the_rows_where_it_is_known(tmp_path: Path) -> None:
    schema = compose.parse_schema(SCHEMA, source="s.yaml")
    df = _frame()
    model = compose.train(schema, df, store=tmp_path, n_jobs=1)
    red, blue = model.heads_["colors"].estimators_
    store = compose.ModelStore(tmp_path / "shop")
    n_train = store.group_meta("colors", 1).n_train
    unknown_blue = [i for i in range(len(df)) if i % 3 == 0]
    assert red.n_samples_fit_ == n_train
    held = store.holdout("colors", 1)
    assert held.known is not None
    trained_unknown = len(unknown_blue) - int((~held.known[:, 1]).sum())
    assert blue.n_samples_fit_ == n_train - trained_unknown
    assert blue.n_samples_fit_ < red.n_samples_fit_


def test_metrics_count_only_known_cells() -> None:
    truth = np.array([[1, 0], [0, 1], [1, 0]])
    pred = np.array([[1, 1], [0, 1], [1, 1]])
    known = np.array([[True, False], [True, True], [True, False]])
    m = multilabel_metrics(truth, pred, ["red", "blue"], known=known)
    assert m["micro_f1"] == 1.0 and m["hamming_loss"] == 0.0 and m["subset_accuracy"] == 1.0
    assert m["per_label"]["blue"]["known"] == 1 and m["known_cells"] == 4
    plain = multilabel_metrics(truth, pred, ["red", "blue"])
    assert plain["hamming_loss"] > 0 and "known_cells" not in plain


def test_evaluation_scores_each_label_on_its_known_rows(tmp_path: Path) -> None:
    schema = compose.parse_schema(SCHEMA, source="s.yaml")
    df = _frame()
    model = compose.train(schema, df, store=tmp_path, n_jobs=1)
    report = compose.evaluate(model, df)
    per_label = report["groups"]["colors"]["per_label"]
    assert per_label["red"]["known"] == len(df)
    assert per_label["blue"]["known"] == len(df) - len(range(0, len(df), 3))
