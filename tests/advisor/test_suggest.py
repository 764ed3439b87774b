"""The schema advisor: groups recovered from real flat tag columns, noise, implications, the draft."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose._defaults import DEFAULT_TOLERANCE
from compose.advisor.draft import Suggestion
from compose.advisor.suggest import suggest
from compose.schema.load import parse_schema

PENGUIN_GROUPS = ["species", "island", "sex"]
MOVIE_GROUPS = ["language", "country", "decade"]


def flatten(df: pd.DataFrame, groups: list[str], *, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Drop the label columns, add `tags` = their labels joined by `|`; `noise` of the rows get a
    second label of one of their groups (an annotation slip)."""
    flat = df.drop(columns=groups).copy()
    tags = [[str(v) for v in row if isinstance(v, str) and v] for row in df[groups].itertuples(index=False)]
    rng = np.random.default_rng(seed)
    n_noisy = max(1, round(noise * len(df))) if noise else 0
    for i in rng.choice(len(df), n_noisy, replace=False):
        labelled = [g for g in groups if isinstance(df[g].iloc[i], str)]
        group = labelled[int(rng.integers(len(labelled)))]
        current = df[group].iloc[i]
        others = sorted({str(v) for v in df[group].dropna().unique()} - {str(current)})
        tags[i].append(others[int(rng.integers(len(others)))])
    flat["tags"] = ["|".join(t) for t in tags]
    return flat


def truth(df: pd.DataFrame, groups: list[str]) -> list[set[str]]:
    return [{str(v) for v in df[g].dropna().unique()} for g in groups]


def exclusive_sets(s: Suggestion) -> list[set[str]]:
    return [set(g.labels) for g in s.groups if g.type == "multiclass"]


def same_partition(a: list[set[str]], b: list[set[str]]) -> bool:
    return sorted(sorted(s) for s in a) == sorted(sorted(s) for s in b)


@pytest.fixture(scope="module")
def movies_frame(movies_csv: Path) -> pd.DataFrame:
    df = pd.read_csv(movies_csv, dtype=str, keep_default_na=False, na_values=[""])
    # `other` is a label of both language and country: a flat column needs names unique across groups
    df["language"] = df["language"].replace({"other": "other language"})
    df["country"] = df["country"].replace({"other": "other country"})
    return df.drop(columns=["mpaa"])


def test_suggest_recovers_penguin_groups_despite_noise_and_the_draft_trains(
        penguins_frame: pd.DataFrame, tmp_path: Path) -> None:
    flat = flatten(penguins_frame, PENGUIN_GROUPS, noise=0.003)
    assert sum("|" in t and t.count("|") > 2 for t in flat["tags"]) >= 1  # the noise is there

    s = suggest(flat, "tags")

    assert same_partition(exclusive_sets(s), truth(penguins_frame, PENGUIN_GROUPS))
    assert [g.type for g in s.groups] == ["multiclass"] * 3
    assert s.optimal and s.n_colours == s.lower_bound == 3
    schema = parse_schema(s.draft("penguins-draft"))
    data = compose.convert(schema, flat, tags="tags")
    model = compose.train(schema, data, store=tmp_path / "models")
    results = model.predict(data.head(5))
    assert len(results) == 5 and set(results[0]["groups"]) == set(schema.groups)


def test_suggest_recovers_movie_groups_and_keeps_genres_as_one_multilabel_group(movies_frame: pd.DataFrame) -> None:
    flat = flatten(movies_frame.drop(columns=["genres"]), MOVIE_GROUPS, noise=0.003, seed=1)
    genres = movies_frame["genres"].fillna("")
    flat["tags"] = [f"{t}|{g}" if g else t for t, g in zip(flat["tags"], genres, strict=True)]

    s = suggest(flat, "tags")

    assert same_partition(exclusive_sets(s), truth(movies_frame, MOVIE_GROUPS))
    (tags,) = [g for g in s.groups if g.type == "multilabel"]
    assert {"Drama", "Documentary", "Comedy", "War"} <= set(tags.labels)


def test_default_tolerance_absorbs_noise_that_tolerance_zero_does_not(penguins_frame: pd.DataFrame) -> None:
    flat = flatten(penguins_frame, PENGUIN_GROUPS, noise=0.003)
    expected = truth(penguins_frame, PENGUIN_GROUPS)

    strict = suggest(flat, "tags", tolerance=0.0)

    assert not same_partition(exclusive_sets(strict), expected)
    assert same_partition(exclusive_sets(suggest(flat, "tags", tolerance=DEFAULT_TOLERANCE)), expected)


def test_noise_rows_are_reported_as_violations_of_their_group(penguins_frame: pd.DataFrame) -> None:
    flat = flatten(penguins_frame, PENGUIN_GROUPS, noise=0.02, seed=3)

    s = suggest(flat, "tags")

    assert same_partition(exclusive_sets(s), truth(penguins_frame, PENGUIN_GROUPS))
    assert sum(g.violations for g in s.groups) == round(0.02 * len(flat))


def test_implications_are_found_in_real_data(penguins_frame: pd.DataFrame) -> None:
    s = suggest(flatten(penguins_frame, PENGUIN_GROUPS), "tags")

    found = {(i.a, i.b): i.confidence for i in s.implications}

    # Gentoo live on Biscoe only, Chinstrap on Dream only, Torgersen holds Adelie only
    assert found == {("Gentoo", "Biscoe"): 1.0, ("Chinstrap", "Dream"): 1.0, ("Torgersen", "Adelie"): 1.0}
    assert all(g.when is None for g in s.groups)  # species and islands are not conditional groups


def test_a_group_seen_only_with_some_labels_of_another_becomes_conditional(penguins_frame: pd.DataFrame) -> None:
    df = penguins_frame.copy()
    gentoo = df["species"] == "Gentoo"
    long_bill = df["bill_length_mm"] > df.loc[gentoo, "bill_length_mm"].median()
    df["crest"] = np.where(gentoo, np.where(long_bill, "crest_long", "crest_short"), None)

    s = suggest(flatten(df, [*PENGUIN_GROUPS, "crest"]), "tags")

    by_labels = {frozenset(g.labels) - {f"not_{g.name}"}: g for g in s.groups}
    crest = by_labels[frozenset({"crest_long", "crest_short"})]
    species = by_labels[frozenset({"Adelie", "Chinstrap", "Gentoo"})]
    assert crest.when == {species.name: ["Gentoo"]}
    assert crest.coverage == 1.0
    schema = parse_schema(s.draft())
    assert schema.groups[crest.name].when == {species.name: ["Gentoo"]}
    compose.build_plan(schema)


def test_free_tags_become_one_multilabel_group(penguins_frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    flat = flatten(penguins_frame, PENGUIN_GROUPS)
    extra = [["measured"] * (rng.random() < 0.5) + ["photographed"] * (rng.random() < 0.3) for _ in range(len(flat))]
    flat["tags"] = ["|".join([t, *e]) for t, e in zip(flat["tags"], extra, strict=True)]

    s = suggest(flat, "tags")

    assert same_partition(exclusive_sets(s), truth(penguins_frame, PENGUIN_GROUPS))
    (free,) = [g for g in s.groups if g.type == "multilabel"]
    assert set(free.labels) == {"measured", "photographed"}
    assert free.name == "tags_labels"  # never the tag column's own name, which the schema's `tags` key holds


def test_a_sparse_exclusive_set_gets_a_none_label_and_yaml_keeps_no_and_yes(penguins_frame: pd.DataFrame) -> None:
    flat = flatten(penguins_frame, PENGUIN_GROUPS)
    pick = np.arange(len(flat)) % 7
    answers = ["|yes" if p == 0 else "|no" if p == 1 else "" for p in pick]
    flat["tags"] = [t + a for t, a in zip(flat["tags"], answers, strict=True)]

    s = suggest(flat, "tags")

    (answer,) = [g for g in s.groups if {"yes", "no"} <= set(g.labels)]
    assert answer.type == "multiclass" and answer.labels[-1] == f"not_{answer.name}"
    schema = parse_schema(s.draft())
    assert schema.labels_of(answer.name) == answer.labels  # `no` and `yes` stay strings
    data = compose.convert(schema, flat, tags="tags")
    assert (data[answer.name] == f"not_{answer.name}").sum() == len(flat) - sum(p < 2 for p in pick)


def test_draft_types_inputs_from_the_other_columns(movies_frame: pd.DataFrame) -> None:
    flat = flatten(movies_frame.drop(columns=["genres"]), MOVIE_GROUPS)
    flat["film_id"] = [f"tt{i:07d}" for i in range(len(flat))]
    flat["format"] = ["color", "bw"] * (len(flat) // 2)

    s = suggest(flat, "tags")

    assert s.inputs == {"title": "text", "director": "text", "writer": "text", "cast": "text", "runtime": "number",
                        "format": "category"}
    assert "film_id" in s.skipped
    schema = parse_schema(s.draft())
    assert schema.features["words"].type == "tfidf" and schema.features["table"].inputs == ["runtime", "format"]
    assert "# group_1: multiclass" in s.draft() and "Labels (rows): English" in s.draft()


def test_missing_tag_column_is_one_clear_error(penguins_frame: pd.DataFrame) -> None:
    flat = flatten(penguins_frame, PENGUIN_GROUPS)
    with pytest.raises(compose.DataError, match=r"no column 'tag' for the tags\. Did you mean 'tags'\?"):
        suggest(flat, "tag")


def test_a_tag_column_without_tags_is_an_error() -> None:
    with pytest.raises(compose.DataError, match="holds no tags in 2 rows"):
        suggest(pd.DataFrame({"x": [1.0, 2.0], "tags": [None, ""]}), "tags")


def test_data_without_input_columns_is_an_error() -> None:
    with pytest.raises(compose.DataError, match="no column besides 'tags' to read as an input"):
        suggest(pd.DataFrame({"tags": ["a", "b"]}), "tags")
