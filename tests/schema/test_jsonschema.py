"""The JSON Schema in schemas/ is generated from compose.schema.models and kept in sync by this test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compose.schema import jsonschema as jsonschema_gen
from compose.schema.document import read_yaml
from compose.schema.load import json_schema

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "compose.schema.json"


def test_the_committed_json_schema_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == jsonschema_gen.render(), (
        "schemas/compose.schema.json is out of date; regenerate it with: python -m compose.schema.jsonschema")


def test_the_json_schema_declares_its_dialect_and_id() -> None:
    data = json_schema()
    assert (data["$schema"], data["$id"].endswith("compose.schema.json")) == (
        "https://json-schema.org/draft/2020-12/schema", True)


def test_the_json_schema_refuses_unknown_top_level_keys() -> None:
    assert json_schema()["additionalProperties"] is False


def test_the_json_schema_requires_the_top_level_keys() -> None:
    assert set(json_schema()["required"]) == {"schema_version", "name", "inputs", "features", "groups"}


def test_the_json_schema_lists_the_group_types() -> None:
    group = json_schema()["$defs"]["GroupSpec"]
    assert group["properties"]["type"]["enum"] == ["multiclass", "binary", "multilabel", "hierarchy"]


@pytest.mark.parametrize("name", ["movies.yaml", "penguins.yaml"])
def test_example_schemas_use_only_keys_the_json_schema_declares(name: str) -> None:
    data = read_yaml(COMMITTED.parent / name).data
    schema = json_schema()
    groups = schema["$defs"]["GroupSpec"]["properties"]
    assert set(data) <= set(schema["properties"])
    assert all(set(spec) <= set(groups) for spec in data["groups"].values())


def test_write_puts_the_schema_where_asked(tmp_path: Path) -> None:
    target = jsonschema_gen.write(tmp_path / "s.json")
    assert json.loads(target.read_text(encoding="utf-8")) == json_schema()
