"""`compose suggest` on tags joined from several real label groups: its draft always validates.

The data sets are the ones shipped in the repository (penguins from its package, the movies sample
and the full movies file); their group columns are joined into one flat tag column by `to_flat`.
An exclusive set with missing cells (MPAA ratings, on about 15% of films) is still its own group.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
MOVIES_FULL = ROOT / "examples" / "movies" / "movies.csv.gz"
MPAA = {"R", "PG", "PG-13", "G", "NC-17"}


def _flat(schema_path: Path, data: pd.DataFrame, groups: list[str], inputs: list[str]) -> pd.DataFrame:
    return compose.to_flat(compose.load_schema(schema_path), data[[*inputs, *groups]])


def _validated_draft(tmp_path: Path, flat: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> compose.Schema:
    data = tmp_path / "flat.csv"
    flat.to_csv(data, index=False)
    draft = tmp_path / "draft.yaml"
    assert main(["suggest", str(data), "--tags", "tags", "--out", str(draft)]) == 0
    capsys.readouterr()
    assert main(["validate", str(draft)]) == 0, capsys.readouterr().err
    schema = compose.load_schema(draft)
    assert "tags" not in schema.groups and schema.tags == "tags"
    return schema


@pytest.mark.parametrize("groups", [["species", "island", "sex"], ["species", "sex"], ["island", "sex"]])
def test_penguin_drafts_validate(tmp_path: Path, penguins_frame: pd.DataFrame, penguins_schema_path: Path,
                                 groups: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    inputs = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    schema = _validated_draft(tmp_path, _flat(penguins_schema_path, penguins_frame, groups, inputs), capsys)
    assert len(schema.groups) >= len(groups) - 1


@pytest.mark.parametrize("groups", [["language", "mpaa", "genres"], ["language", "decade", "genres"],
                                    ["decade", "mpaa"], ["genres"]])
def test_movie_sample_drafts_validate(tmp_path: Path, movies_csv: Path, movies_schema_path: Path,
                                      groups: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    df = compose.read_table(movies_csv)
    _validated_draft(tmp_path, _flat(movies_schema_path, df, groups, ["title", "director", "runtime"]), capsys)


def _mpaa_group(schema: compose.Schema) -> list[str]:
    owners = [g for g in schema.groups if set(schema.labels_of(g)) >= MPAA]
    assert len(owners) == 1, {g: schema.labels_of(g) for g in schema.groups}
    return schema.labels_of(owners[0])


def test_mpaa_ratings_on_15_percent_of_films_are_their_own_group(tmp_path: Path, movies_schema_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    df = compose.read_table(MOVIES_FULL)
    assert 0.1 < df["mpaa"].notna().mean() < 0.2
    schema = _validated_draft(tmp_path, _flat(movies_schema_path, df, ["language", "mpaa", "genres"],
                                              ["title", "director", "runtime"]), capsys)
    labels = _mpaa_group(schema)
    assert set(labels) - MPAA <= {next(iter(set(labels) - MPAA), "")} and len(labels) <= len(MPAA) + 1
    (genres,) = [g for g in schema.groups if schema.groups[g].type == "multilabel"]
    assert {"Drama", "Comedy", "Horror"} <= set(schema.labels_of(genres)) and not MPAA & set(schema.labels_of(genres))
