"""Every path that builds a result follows `compose.typing.GroupResult` and `MergedResult` field by field.

One batch, scored by a fake scorer through the execution core, gives every field of the result
types: every outcome of every kind of group, a zero-shot head, a hierarchy that stops, a `when`
that gates rows off, a row sent to review. Then the row path (`compose.runtime.merge`), the
column-wise dicts and JSON Lines (`compose.runtime.columnar`), the flat table
(`compose.runtime.columns.FRAME_COLUMNS`) and the HTTP response models (`compose.serve.messages`)
are checked against the declarations. A field added to the TypedDicts and not to one of these fails
here.
"""

from __future__ import annotations

import io
import json
from typing import Any, NotRequired, get_type_hints

import numpy as np
import pytest
from _fake import FakeModel
from pydantic import TypeAdapter
from typing_extensions import TypedDict

from compose.heads.zero_shot import ZeroShotHead
from compose.runtime.columns import FRAME_COLUMNS
from compose.runtime.execute import MockScorer, predict
from compose.runtime.predictions import ROW_PATH_ROWS, Predictions
from compose.schema.load import parse_schema
from compose.typing import GroupResult, MergedResult

SCHEMA = """
schema_version: 1
name: shop
inputs: {title: {type: text}}
features: {words: {type: tfidf, inputs: [title]}}
groups:
  kind: {type: multiclass, labels: [shirt, shoe, hat], decision: {min_confidence: 0.5}}
  size: {type: binary, labels: [small, large], when: {kind: [shoe]}}
  tags: {type: multilabel, labels: [red, blue, eco]}
  pick: {type: multiclass, labels: [a, b, c], decision: {policy: top_k, k: 2}}
  zone: {type: multiclass, labels: [x, y, z], decision: {policy: zones, accept: 0.8, review: 0.5}}
  cold: {type: multiclass, labels: [warm, chilly]}
  tree:
    type: hierarchy
    labels: {Married: [Civil, Absent], Single: [Never, Divorced]}
    decision: {min_confidence: 0.6}
    when: {kind: [shirt, hat]}
"""
N = ROW_PATH_ROWS + 26  # more rows than the row path takes: the batch is built column-wise


def _scores(n: int, width: int, seed: int, multilabel: bool) -> np.ndarray:
    raw = np.random.default_rng(seed).random((n, width)) ** 2
    return raw if multilabel else raw / raw.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def preds() -> Predictions:
    schema = parse_schema(SCHEMA)
    zero_shot = ZeroShotHead("cold", "multiclass", ["warm", "chilly"], ["words"])
    model = FakeModel(schema, special={"cold": zero_shot})
    table = {g: _scores(N, len(model.heads_[g].labels), seed, schema.groups[g].type == "multilabel")
             for seed, g in enumerate(model.groups)}
    return predict(model, MockScorer(lambda group, rows: table[group][rows], N), N)


@pytest.fixture(scope="module")
def results(preds: Predictions) -> list[MergedResult]:
    return preds.to_list()


def _ordered(x: Any) -> Any:
    """A value with every dict turned into its (key, value) pairs: equal only with the same key order."""
    if isinstance(x, dict):
        return [(k, _ordered(v)) for k, v in x.items()]
    if isinstance(x, list):
        return [_ordered(v) for v in x]
    return x


def test_the_batch_gives_every_field_of_the_result_types_and_no_other(results: list[MergedResult]) -> None:
    group_keys = {k for r in results for g in r["groups"].values() for k in g}
    assert group_keys == set(GroupResult.__annotations__)
    assert {k for r in results for k in r} == set(MergedResult.__annotations__)
    for r in results:
        assert set(r) >= MergedResult.__required_keys__
        assert all(set(g) >= GroupResult.__required_keys__ for g in r["groups"].values())


def _twin(typed: Any, replace: dict[str, Any]) -> Any:
    """The TypedDict `typed` as pydantic validates one on Python 3.11 (typing_extensions' TypedDict)."""
    hints = {**get_type_hints(typed), **replace}
    fields = {k: t if k in typed.__required_keys__ else NotRequired[t] for k, t in hints.items()}
    return TypedDict(typed.__name__, fields)  # type: ignore[operator]


def test_every_result_has_the_declared_types(results: list[MergedResult]) -> None:
    group = _twin(GroupResult, {})
    merged = _twin(MergedResult, {"groups": dict[str, group]})  # type: ignore[valid-type]
    validated = TypeAdapter(list[merged]).validate_python(results, strict=True)  # type: ignore[valid-type]
    assert validated == results


def test_every_outcome_of_every_kind_of_group_is_in_the_batch(results: list[MergedResult]) -> None:
    outcomes = {(g, res["outcome"]) for r in results for g, res in r["groups"].items()}
    assert {("kind", "abstained"), ("size", "skipped"), ("tags", "below_threshold"), ("zone", "review"),
            ("zone", "rejected"), ("tree", "stopped"), ("tree", "abstained"), ("tree", "skipped")} <= outcomes
    assert {res.get("source") for r in results for g, res in r["groups"].items() if g == "cold"} == {"zero-shot"}


def test_the_row_path_gives_the_same_results_with_the_same_key_order(preds: Predictions,
                                                                     results: list[MergedResult]) -> None:
    half = N // 2
    row_by_row = preds[:half].to_list() + preds[half:].to_list()  # at most ROW_PATH_ROWS rows: row by row
    assert half <= ROW_PATH_ROWS < N
    assert _ordered(row_by_row) == _ordered(results)


def test_json_lines_are_the_dicts_dumped_key_for_key(preds: Predictions, results: list[MergedResult]) -> None:
    buf = io.BytesIO()
    preds.to_jsonl(buf, ids=("id", list(range(N))))
    lines = buf.getvalue().decode("utf-8").splitlines()
    expected = [json.dumps({"id": i, **r}, ensure_ascii=False, separators=(",", ":")) for i, r in enumerate(results)]
    assert lines == expected


def test_the_flat_table_has_a_column_for_every_field_it_tables(preds: Predictions,
                                                              results: list[MergedResult]) -> None:
    assert set(FRAME_COLUMNS) == set(GroupResult.__annotations__)
    frame = preds.to_frame()
    schema = parse_schema(SCHEMA)
    for group in results[0]["groups"]:
        kind = schema.declared_groups[group].type
        fields = {k for r in results for k in r["groups"][group]}
        for name in fields:
            suffix = FRAME_COLUMNS[name].get(kind)
            if suffix is not None:
                column = group + suffix
                assert any(c == column or (suffix.endswith("_") and c.startswith(column)) for c in frame.columns), (
                    group, name)


def _optional(t: Any) -> Any:
    return t | None


def test_the_serve_response_models_declare_every_field_with_its_type(results: list[MergedResult]) -> None:
    from compose.serve import messages

    for typed, model in ((GroupResult, messages.GroupResult), (MergedResult, messages.MergedResult)):
        hints = get_type_hints(typed)
        assert list(model.model_fields) == list(hints)  # the same fields, in the same order
        for name, t in hints.items():
            if name == "groups":
                continue  # dict[str, GroupResult]: the pydantic model in the response, the TypedDict here
            expected = t if name in typed.__required_keys__ else _optional(t)
            assert model.model_fields[name].annotation == expected, name
            assert model.model_fields[name].is_required() == (name in typed.__required_keys__), name
    answer = messages.PredictResponse.model_validate({"results": results})  # extra="forbid": no undeclared key
    assert answer.model_dump(exclude_unset=True)["results"] == results
