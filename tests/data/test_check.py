"""`check`: exclusivity, undeclared labels, coverage, balance, rare labels and unlabelled rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.data.check import check


@pytest.fixture(scope="module")
def schema(penguins_schema_path: Path) -> compose.Schema:
    return compose.load_schema(penguins_schema_path)


def test_clean_real_data_is_ok_with_coverage_and_balance(schema: compose.Schema, penguins_frame: pd.DataFrame) -> None:
    report = check(schema, penguins_frame)

    assert report.ok
    sex = report.groups["sex"]
    assert (sex.labelled, sex.rows) == (333, 344)
    assert sex.counts == {"female": 165, "male": 168}
    assert report.groups["island"].imbalance == pytest.approx(168 / 52)
    assert report.unlabelled_rows == [] and report.missing_columns == []


def test_two_labels_in_a_multiclass_cell_break_exclusivity(schema: compose.Schema,
                                                           penguins_frame: pd.DataFrame) -> None:
    df = penguins_frame.copy()
    df.loc[4, "species"] = "Adelie|Gentoo"

    report = check(schema, df)

    assert not report.ok
    assert report.groups["species"].exclusivity_rows == [5]
    assert any("ERROR exclusivity: 1 rows" in line for line in report.lines())


def test_undeclared_labels_are_listed_with_their_rows(schema: compose.Schema, penguins_frame: pd.DataFrame) -> None:
    df = penguins_frame.copy()
    df.loc[[0, 9], "island"] = "Biscoe Island"

    report = check(schema, df)

    assert report.groups["island"].undeclared == {"Biscoe Island": [1, 10]}
    assert not report.ok


def test_labels_with_too_few_examples_are_warned_about(schema: compose.Schema, penguins_frame: pd.DataFrame) -> None:
    df = penguins_frame[(penguins_frame["species"] != "Chinstrap") | (penguins_frame.index < 130)]

    report = check(schema, df, min_examples=10)

    few = report.groups["species"].too_few(10)
    assert set(few) == {"Chinstrap"} and few["Chinstrap"] < 10
    assert report.ok  # a warning, not a blocker
    assert any("too few examples" in line for line in report.lines())


def test_rows_labelled_for_no_group_are_counted(schema: compose.Schema, penguins_frame: pd.DataFrame) -> None:
    df = penguins_frame.copy()
    df.loc[[2, 3], ["species", "island", "sex"]] = None

    report = check(schema, df)

    assert report.unlabelled_rows == [3, 4]


def test_a_flat_tag_column_is_checked_against_the_schema(schema: compose.Schema,
                                                         penguins_frame: pd.DataFrame) -> None:
    labels = penguins_frame[["species", "island", "sex"]]
    tags = ["|".join(v for v in row if isinstance(v, str)) for row in labels.itertuples(index=False)]
    tags[0] += "|Gentoo"
    tags[1] += "|chick"
    df = penguins_frame.drop(columns=["species", "island", "sex"]).assign(tags=tags)

    report = check(schema, df, tags="tags")

    assert report.groups["species"].exclusivity_rows == [1]
    assert report.undeclared_tags == {"chick": [2]}
    assert report.to_json()["groups"]["sex"]["labelled"] == 333


def test_data_without_any_group_column_is_an_error(schema: compose.Schema) -> None:
    with pytest.raises(compose.DataError, match="no column for any group of the schema"):
        check(schema, pd.DataFrame({"bill_length_mm": [1.0]}))
