"""Merged results explain every group: decision version, outcome, and why no label was given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.runtime.model import ComposedModel
from compose.schema.load import parse_schema

SCHEMA = BIRDS_HEADER + """\
  species: {type: multiclass, labels: [Adelie, Chinstrap, Gentoo]}
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    decision: {policy: zones, accept: 0.8, review: 0.5}
  island_set:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    decision: {policy: cumulative, p: 0.9}
  sex:
    type: binary
    labels: [female, male]
    when: {species: [Gentoo]}
"""


@pytest.fixture(scope="module")
def birds(tmp_path_factory: pytest.TempPathFactory) -> tuple[ComposedModel, pd.DataFrame]:
    from palmerpenguins import load_penguins

    df = load_penguins()
    df["island_set"] = df["island"]
    store: Path = tmp_path_factory.mktemp("birds")
    compose.fit_and_release(parse_schema(SCHEMA), df, store)
    return compose.load(store), df


def _results(birds: tuple[ComposedModel, pd.DataFrame]) -> list[dict[str, Any]]:
    model, df = birds
    return model.predict(df)


def test_existing_keys_stay_and_every_group_has_its_decision_version_and_outcome(
    birds: tuple[ComposedModel, pd.DataFrame],
) -> None:
    for result in _results(birds):
        assert {"labels", "groups", "release"} <= set(result)
        for group in result["groups"].values():
            assert {"version", "decision_version", "outcome"} <= set(group)
            assert group["decision_version"] is None
            assert ("reason" in group) == (group["label"] is None)


def test_a_row_sent_to_review_is_marked_with_its_candidate(birds: tuple[ComposedModel, pd.DataFrame]) -> None:
    results = _results(birds)
    review = [r for r in results if r["groups"]["island"]["outcome"] == "review"]
    assert review, "the zones group should send some rows to review"
    for r in review:
        g = r["groups"]["island"]
        assert g["label"] is None and g["review"] is True and g["candidate"] in ("Biscoe", "Dream", "Torgersen")
        assert g["reason"].startswith("sent to review: confidence")
        assert "island" in r["review"]
    rejected = [r["groups"]["island"] for r in results if r["groups"]["island"]["outcome"] == "rejected"]
    assert all(g["abstained"] == g["reason"] and "below review 0.5" in g["reason"] for g in rejected)
    assert all("review" not in r for r in results if r["groups"]["island"]["outcome"] == "labelled")


def test_a_cumulative_group_lists_its_set_in_the_flat_labels(birds: tuple[ComposedModel, pd.DataFrame]) -> None:
    for r in _results(birds):
        g = r["groups"]["island_set"]
        assert g["labels"][0] == g["label"]
        assert sum(g["scores"][x] for x in g["labels"]) >= 0.9 - 1e-3 or len(g["labels"]) == 3
        assert all(label in r["labels"] for label in g["labels"])


def test_a_group_gated_off_by_when_says_so(birds: tuple[ComposedModel, pd.DataFrame]) -> None:
    skipped = [r["groups"]["sex"] for r in _results(birds) if r["groups"]["species"]["label"] != "Gentoo"]
    assert skipped
    for g in skipped:
        assert g["outcome"] == "skipped"
        assert g["reason"] == f"gated off by `when`: {g['skipped']}"
        assert g["skipped"].startswith("species is ")


def test_the_flat_table_has_review_and_set_columns(birds: tuple[ComposedModel, pd.DataFrame]) -> None:
    model, df = birds
    frame = model.predict_frame(df)
    results = model.predict(df)
    assert frame["island_review"].tolist() == [r["groups"]["island"]["outcome"] == "review" for r in results]
    assert frame["island_set_labels"].tolist() == ["|".join(r["groups"]["island_set"]["labels"]) for r in results]
