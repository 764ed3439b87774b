"""Any YAML text yields a Schema or a ComposeError, never another exception."""

from __future__ import annotations

import yaml
from _schemas import SHOP_HEADER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.errors import ComposeError
from compose.schema.load import parse_schema
from compose.schema.models import Schema

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_KEYS = st.sampled_from([
    "schema_version", "name", "inputs", "features", "groups", "type", "labels", "when", "model", "params",
    "estimator", "decision", "threshold", "thresholds", "min_confidence", "inputs", "title", "text", "tfidf",
    "tabular", "multiclass", "binary", "multilabel", "no", "yes", "on", "off", "[x]", "a.b", "-x", "",
])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), _KEYS,
    st.text(max_size=8),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(_KEYS, st.integers(0, 3), st.booleans()), children, max_size=5),
    ),
    max_leaves=30,
)

_VALID = SHOP_HEADER + """\
  kind: {type: multiclass, labels: [shirt, pants]}
  sale: {type: binary, features: [meta], when: {kind: [shirt]}}
"""


def _schema_or_compose_error(text: str) -> None:
    try:
        result = parse_schema(text, source="h.yaml")
    except ComposeError:
        return
    assert isinstance(result, Schema)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_gives_a_schema_or_a_compose_error(text: str) -> None:
    _schema_or_compose_error(text)


@SETTINGS
@given(_TREES)
def test_any_nested_structure_dumped_to_yaml_gives_a_schema_or_a_compose_error(tree: object) -> None:
    _schema_or_compose_error(yaml.safe_dump(tree))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["schema_version", "name", "inputs", "features", "groups", "training"]),
                       _TREES, max_size=6))
def test_any_top_level_mapping_gives_a_schema_or_a_compose_error(top: dict[str, object]) -> None:
    _schema_or_compose_error(yaml.safe_dump(top))


@SETTINGS
@given(st.integers(0, len(_VALID) - 1), st.integers(0, 20), st.text(alphabet=":-[]{}&*!|>'\" \n\tab01#,?", max_size=6))
def test_any_edit_of_a_valid_schema_gives_a_schema_or_a_compose_error(start: int, length: int, insert: str) -> None:
    _schema_or_compose_error(_VALID[:start] + insert + _VALID[start + length:])


def test_the_valid_schema_used_for_edits_is_valid() -> None:
    assert parse_schema(_VALID).name == "shop"
