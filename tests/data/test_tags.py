"""`convert` and `to_flat`: a flat tag column to one column per group and back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.data.io import read_table, write_table
from compose.data.tags import convert, to_flat
from compose.schema.load import parse_schema

GROUPS = ["species", "island", "sex"]


@pytest.fixture(scope="module")
def schema(penguins_schema_path: Path) -> compose.Schema:
    return compose.load_schema(penguins_schema_path)


@pytest.fixture
def flat(penguins_frame: pd.DataFrame) -> pd.DataFrame:
    tags = ["|".join(v for v in row if isinstance(v, str)) for row in penguins_frame[GROUPS].itertuples(index=False)]
    return penguins_frame.drop(columns=GROUPS).assign(tags=tags)


def test_convert_splits_tags_into_the_original_group_columns(schema: compose.Schema, flat: pd.DataFrame,
                                                              penguins_frame: pd.DataFrame) -> None:
    out = convert(schema, flat)

    assert "tags" not in out.columns
    for group in GROUPS:
        assert out[group].tolist() == [v if isinstance(v, str) else None for v in penguins_frame[group]]


def test_round_trip_through_files_gives_the_same_tags(schema: compose.Schema, flat: pd.DataFrame,
                                                      tmp_path: Path) -> None:
    path = write_table(convert(schema, flat), tmp_path / "groups.csv")

    back = to_flat(schema, read_table(path))

    assert back["tags"].tolist() == flat["tags"].tolist()
    assert list(back.columns) == list(flat.columns)


def test_two_labels_of_one_group_leave_that_cell_empty_and_are_counted(schema: compose.Schema,
                                                                       flat: pd.DataFrame) -> None:
    flat.loc[0, "tags"] = "Adelie|Gentoo|Torgersen|male"

    out = convert(schema, flat)

    assert out.loc[0, "species"] is None and out.loc[0, "island"] == "Torgersen"
    assert out.attrs["conflicts"] == {"species": 1}


def test_an_undeclared_tag_is_an_error_naming_it_and_its_rows(schema: compose.Schema, flat: pd.DataFrame) -> None:
    flat.loc[[3, 7], "tags"] = "Adelie|Torgersen|mail"
    with pytest.raises(compose.DataError, match=r"'mail' \(did you mean 'male'\?\) in 2 rows \(4, 8\)"):
        convert(schema, flat)


def test_multilabel_cells_and_none_labels_follow_the_flat_rules() -> None:
    schema = parse_schema("""
schema_version: 1
name: shop
inputs: {title: {type: text}}
features: {words: {type: tfidf, inputs: [title]}}
groups:
  kind: {type: multiclass, labels: [shirt, pants]}
  sleeve: {type: multiclass, labels: [short, long, not_sleeve], when: {kind: [shirt]}}
  colors: {type: multilabel, labels: [red, blue]}
  sale: {type: binary}
""")
    df = pd.DataFrame({"title": ["a", "b", "c", "d"], "tags": ["shirt|red|blue|sale", "shirt", "pants", None]})

    out = convert(schema, df)

    assert out["colors"].tolist() == ["red|blue", "[]", "[]", None]
    assert out["sleeve"].tolist() == ["not_sleeve", "not_sleeve", None, None]  # not_ only where `when` holds
    assert out["sale"].tolist() == ["sale", "not_sale", "not_sale", None]
    assert to_flat(schema, out)["tags"].tolist() == ["shirt|red|blue|sale", "shirt", "pants", None]


def test_a_label_declared_by_two_groups_cannot_be_routed() -> None:
    schema = parse_schema("""
schema_version: 1
name: two
inputs: {x: {type: number}}
features: {t: {type: tabular, inputs: [x]}}
groups:
  a: {type: multiclass, labels: [other, one]}
  b: {type: multiclass, labels: [other, two]}
""")
    with pytest.raises(compose.DataError, match="label 'other' is declared by groups"):
        convert(schema, pd.DataFrame({"x": [1], "tags": ["one|two"]}))
