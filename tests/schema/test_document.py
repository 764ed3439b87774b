"""YAML reading: line numbers of every key, YAML 1.2 booleans, duplicates, recursive aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compose.errors import SchemaError
from compose.schema.document import dump_yaml, parse_yaml, read_yaml
from compose.schema.load import parse_schema

TEXT = """\
top:
  child: 1
  items:
    - a
    - b
other: x
"""


def test_every_key_and_item_remembers_its_line() -> None:
    doc = parse_yaml(TEXT)
    assert [doc.line_of(p) for p in [("top",), ("top", "child"), ("top", "items", 0), ("top", "items", 1),
                                     ("other",)]] == [1, 2, 4, 5, 6]


def test_an_unknown_path_takes_the_line_of_its_closest_ancestor() -> None:
    assert parse_yaml(TEXT).line_of(("top", "items", "nowhere", 3)) == 3


def test_where_names_the_source_and_line() -> None:
    assert parse_yaml(TEXT, source="s.yaml").where(("top", "child")) == "s.yaml:2"


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "y", "n", "NO", "Yes"])
def test_yaml_1_1_boolean_words_are_strings(word: str) -> None:
    assert parse_yaml(f"v: {word}\n").data == {"v": word}


@pytest.mark.parametrize(("word", "value"), [("true", True), ("false", False), ("True", True), ("FALSE", False)])
def test_true_and_false_are_booleans(word: str, value: bool) -> None:
    assert parse_yaml(f"v: {word}\n").data == {"v": value}


def test_duplicate_keys_are_recorded_with_their_path() -> None:
    doc = parse_yaml("a:\n  b: 1\n  b: 2\n")
    assert (doc.duplicates, doc.line_of(("a", "b"))) == ([("a", "b")], 3)


def test_a_syntax_error_raises_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError, match="expected"):
        parse_yaml("a: [1, 2\n")


def test_a_recursive_alias_is_a_yaml_error_not_a_recursion_error() -> None:
    with pytest.raises(yaml.YAMLError, match="recursive alias"):
        parse_yaml("a: &x [1, *x]\n")


def test_a_recursive_alias_in_a_schema_is_a_schema_error_with_its_line() -> None:
    with pytest.raises(SchemaError, match=r"^r\.yaml:2: invalid YAML: .*recursive alias"):
        parse_schema("schema_version: 1\nname: &x {a: *x}\n", source="r.yaml")


def test_a_reused_alias_is_read_twice() -> None:
    assert parse_yaml("a: &x [1]\nb: *x\n").data == {"a": [1], "b": [1]}


def test_dump_quotes_boolean_words_so_they_read_back_as_strings() -> None:
    data = {"labels": ["no", "yes", "on", "off", "true"], "flag": True}
    assert parse_yaml(dump_yaml(data)).data == data


def test_read_yaml_uses_the_path_as_source(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(TEXT, encoding="utf-8")
    assert read_yaml(path).where(("other",)) == f"{path}:6"


def test_an_empty_document_has_no_data() -> None:
    assert parse_yaml("").data is None


def test_an_alias_bomb_is_refused_with_a_line_instead_of_eating_memory() -> None:
    from compose.errors import SchemaError
    from compose.schema.load import parse_schema

    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    with pytest.raises(SchemaError, match=r"expands to more than 100,000 values"):
        parse_schema(bomb, source="bomb.yaml")
