"""A schema's `tags` key: a flat tag column is split into one column per group at training time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.errors import DataError, SchemaError
from compose.schema.load import parse_schema

INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
GROUPS = """\
  species: {type: multiclass, labels: [Adelie, Chinstrap, Gentoo]}
  island: {type: multiclass, labels: [Biscoe, Dream, Torgersen]}
  sex: {type: binary, labels: [female, male]}
tags: tags
"""


def _flat(penguins_frame: pd.DataFrame, path: Path) -> Path:
    df = penguins_frame[INPUTS].copy()
    df["tags"] = [
        "|".join(str(v) for v in row if isinstance(v, str))
        for row in penguins_frame[["species", "island", "sex"]].itertuples(index=False)
    ]
    df.to_csv(path, index=False)
    return path


def test_a_schema_with_tags_trains_on_the_flat_file_as_it_is(
    tmp_path: Path, penguins_frame: pd.DataFrame
) -> None:
    schema = parse_schema(BIRDS_HEADER + GROUPS)
    flat = _flat(penguins_frame, tmp_path / "flat.csv")
    model = compose.train(schema, flat, store=tmp_path / "store", n_jobs=1)
    assert model.groups == ["species", "island", "sex"]
    meta = compose.ModelStore(tmp_path / "store" / "birds").group_meta("sex", 1)
    labelled_sex = int(penguins_frame["sex"].notna().sum())
    assert meta.n_train + meta.n_holdout == labelled_sex  # rows without a sex tag are left out
    report = compose.evaluate(model, flat, split="holdout")
    assert report["groups"]["species"]["accuracy"] > 0.9


def test_the_draft_of_suggest_trains_on_the_flat_file(tmp_path: Path, penguins_frame: pd.DataFrame) -> None:
    flat = _flat(penguins_frame, tmp_path / "flat.csv")
    draft = tmp_path / "draft.yaml"
    draft.write_text(compose.suggest(flat, "tags").draft("flat"), encoding="utf-8")
    model = compose.train(draft, flat, store=tmp_path / "store", n_jobs=1)
    assert len(model.groups) == 3


def test_an_unknown_tag_in_the_flat_column_names_it(tmp_path: Path, penguins_frame: pd.DataFrame) -> None:
    schema = parse_schema(BIRDS_HEADER + GROUPS)
    df = penguins_frame[INPUTS].head(20).copy()
    df["tags"] = "Adelie|Biscoe|female"
    df.loc[df.index[3], "tags"] = "Adelie|Biscoe|penguin"
    df.to_csv(tmp_path / "flat.csv", index=False)
    with pytest.raises(DataError, match="penguin"):
        compose.train(schema, tmp_path / "flat.csv", store=tmp_path / "store", n_jobs=1)


def test_a_tag_column_named_like_an_input_is_refused() -> None:
    with pytest.raises(SchemaError, match=r"tags at <string>:\d+: the tag column 'body_mass_g'"):
        parse_schema(BIRDS_HEADER + GROUPS.replace("tags: tags", "tags: body_mass_g"))
