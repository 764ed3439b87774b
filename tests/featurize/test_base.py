"""Featurizers: tfidf over several text columns; tabular imputes, scales and one-hot encodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from compose.data.targets import prepare_inputs
from compose.featurize.base import build_featurizer, feature_width, fit_transform_rows, hstack
from compose.schema.load import parse_schema
from compose.schema.models import Schema

SCHEMA = """\
schema_version: 1
name: shop
inputs:
  title: {type: text}
  notes: {type: text, required: false}
  price: {type: number}
  brand: {type: category}
features:
  words: {type: tfidf, inputs: [title, notes], params: {ngram_range: [1, 1]}}
  meta: {type: tabular, inputs: [price, brand]}
groups:
  kind: {type: multiclass, labels: [a, b]}
"""

FRAME = pd.DataFrame({
    "title": ["red shirt", "blue pants", "red dress", None],
    "notes": ["cotton", None, "silk evening", "wool"],
    "price": [10.0, None, 30.0, 20.0],
    "brand": ["acme", "zeta", None, "acme"],
})


@pytest.fixture(scope="module")
def schema() -> Schema:
    return parse_schema(SCHEMA)


@pytest.fixture(scope="module")
def inputs(schema: Schema) -> pd.DataFrame:
    return prepare_inputs(FRAME, schema)


def test_tfidf_reads_every_text_column(schema: Schema, inputs: pd.DataFrame) -> None:
    words = build_featurizer(schema, "words").fit(inputs)
    vocabulary = set(words[-1].get_feature_names_out())
    assert {"shirt", "cotton", "silk", "wool"} <= vocabulary


def test_tfidf_gives_a_sparse_row_per_input_row(schema: Schema, inputs: pd.DataFrame) -> None:
    x = build_featurizer(schema, "words").fit(inputs).transform(inputs)
    assert (sp.issparse(x), x.shape[0]) == (True, 4)


def test_tfidf_takes_list_params_as_tuples(schema: Schema) -> None:
    assert build_featurizer(schema, "words")[-1].ngram_range == (1, 1)


def test_tfidf_of_a_row_with_all_text_missing_is_an_empty_row(schema: Schema, inputs: pd.DataFrame) -> None:
    words = build_featurizer(schema, "words").fit(inputs)
    empty = prepare_inputs(pd.DataFrame({"title": [None], "price": [1.0], "brand": ["acme"]}), schema)
    assert words.transform(empty).nnz == 0


def test_tabular_imputes_missing_numbers(schema: Schema, inputs: pd.DataFrame) -> None:
    x = build_featurizer(schema, "meta").fit(inputs).transform(inputs)
    assert not np.isnan(x).any()


def test_tabular_adds_a_missing_indicator_and_one_hot_columns(schema: Schema, inputs: pd.DataFrame) -> None:
    meta = build_featurizer(schema, "meta").fit(inputs)
    # price scaled + price-was-missing indicator + brand one-hot (acme, zeta, <missing>)
    assert feature_width(meta) == 5


def test_tabular_scales_numbers(schema: Schema, inputs: pd.DataFrame) -> None:
    x = build_featurizer(schema, "meta").fit(inputs).transform(inputs)
    assert abs(float(x[:, 0].mean())) < 1e-9


def test_tabular_one_hot_encodes_categories(schema: Schema, inputs: pd.DataFrame) -> None:
    x = build_featurizer(schema, "meta").fit(inputs).transform(inputs)
    assert np.array_equal(x[:, -3:].sum(axis=1), np.ones(4))


def test_tabular_tolerates_an_unknown_category_at_transform_time(schema: Schema, inputs: pd.DataFrame) -> None:
    meta = build_featurizer(schema, "meta").fit(inputs)
    new = prepare_inputs(pd.DataFrame({"title": ["x"], "price": [15.0], "brand": ["never-seen"]}), schema)
    assert meta.transform(new)[0, -3:].tolist() == [0.0, 0.0, 0.0]


def test_a_featurizer_is_a_new_object_each_time(schema: Schema) -> None:
    assert build_featurizer(schema, "meta") is not build_featurizer(schema, "meta")


def test_hstack_of_a_sparse_and_a_dense_block_is_sparse() -> None:
    out = hstack([sp.csr_matrix(np.eye(2)), np.ones((2, 3))])
    assert (sp.issparse(out), out.shape) == (True, (2, 5))


def test_hstack_of_dense_blocks_is_dense() -> None:
    out = hstack([np.eye(2), np.ones((2, 1))])
    assert (isinstance(out, np.ndarray), out.shape) == (True, (2, 3))


@pytest.mark.parametrize("name", ["words", "meta"])
def test_fit_transform_rows_equals_fit_then_transform(name: str) -> None:
    schema = parse_schema(_FIT_ROWS_SCHEMA)
    inputs = pd.DataFrame({"title": ["red shirt", "blue pants", "red dress", "blue shirt", "green hat", "red hat"],
                           "price": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0], "brand": ["a", "b", "a", None, "b", "a"]})
    rows = np.array([0, 2, 3, 5])
    got = fit_transform_rows(build_featurizer(schema, name), inputs, rows)
    want = build_featurizer(schema, name).fit(inputs.iloc[rows]).transform(inputs)
    np.testing.assert_allclose(_dense(got), _dense(want), rtol=0, atol=1e-15)


def _dense(m: object) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)  # type: ignore[attr-defined]


_FIT_ROWS_SCHEMA = """\
schema_version: 1
name: rows
inputs:
  title: {type: text}
  price: {type: number}
  brand: {type: category}
features:
  words: {type: tfidf, inputs: [title]}
  meta: {type: tabular, inputs: [price, brand]}
groups:
  kind: {type: multiclass, labels: [a, b]}
"""
