"""`model: auto`: the portfolio search, its budget, its record in meta.json and `compose versions`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _schemas import BIRDS_HEADER, SHOP_HEADER

from compose.cli.main import main
from compose.errors import SchemaError
from compose.heads.auto import portfolio_for, search
from compose.schema.load import parse_schema
from compose.schema.models import GroupSpec
from compose.training.run import fit_and_release

AUTO_BIRDS = BIRDS_HEADER + """\
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
    model: {estimator: auto, budget_s: 2}
  sex:
    type: binary
    labels: [female, male]
    model: {estimator: auto, budget_s: 2, candidates: [logistic_regression, random_forest]}
"""


class StepClock:
    """A fake clock: every reading advances it by `step` seconds, so a search's length is exact."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _birds(penguins_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    df = penguins_frame.dropna(subset=["bill_length_mm", "sex"])
    x = df[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]].to_numpy()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, (df["species"].map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2})).to_numpy()


def _spec(**model: Any) -> GroupSpec:
    return GroupSpec.model_validate({"type": "multiclass", "labels": ["a", "b", "c"],
                                     "model": {"estimator": "auto", **model}})


def test_the_search_stops_within_its_budget_on_the_clock_it_is_given(penguins_frame: pd.DataFrame) -> None:
    x, y = _birds(penguins_frame)
    clock = StepClock(0.05)
    result = search("species", _spec(), ["a", "b", "c"], x, y, budget_s=2.0, clock=clock)
    # phase 1 tried the defaults, cheapest first, the default head first of all
    assert result.trials[0].estimator == "logistic_regression" and result.trials[0].params == {}
    assert result.seconds <= 2.0 * 1.2
    assert len(result.trials) < 20  # the budget, not the grid, ended the search
    best = max((t for t in result.trials if t.score is not None), key=lambda t: t.score or 0.0)
    default = result.trials[0]
    assert default.score is not None and best.score is not None
    noise = (default.score * (1 - default.score) / len(y)) ** 0.5
    chosen = best if best.score - default.score > noise else default  # the one-standard-error rule
    assert (result.estimator, result.params, result.score) == (chosen.estimator, chosen.params, chosen.score)


def test_a_search_with_max_trials_is_reproducible(penguins_frame: pd.DataFrame) -> None:
    x, y = _birds(penguins_frame)
    spec = _spec(max_trials=5, candidates=["logistic_regression", "linear_svc"])
    a = search("species", spec, ["a", "b", "c"], x, y, budget_s=600, seed=3)
    b = search("species", spec, ["a", "b", "c"], x, y, budget_s=600, seed=3)
    strip = [(t.estimator, t.params, t.score, t.status) for t in a.trials]
    assert strip == [(t.estimator, t.params, t.score, t.status) for t in b.trials]
    assert len(a.trials) == 5 and (a.estimator, a.params) == (b.estimator, b.params)
    assert [t.estimator for t in a.trials[:2]] == ["logistic_regression", "linear_svc"]


def test_the_portfolio_fits_the_features() -> None:
    import scipy.sparse as sp

    text = sp.random(20, 50, density=0.1, format="csr", random_state=0)
    assert portfolio_for(text) == ["logistic_regression", "complement_nb", "linear_svc"]
    assert "complement_nb" not in portfolio_for(-text)  # not non-negative
    assert portfolio_for(np.zeros((3, 2))) == ["logistic_regression", "linear_svc", "hist_gradient_boosting",
                                               "random_forest"]


def test_no_candidate_in_budget_falls_back_to_the_default_head(penguins_frame: pd.DataFrame) -> None:
    x, y = _birds(penguins_frame)
    result = search("species", _spec(), ["a", "b", "c"], x, y, budget_s=0.01, clock=StepClock(1.0))
    assert (result.estimator, result.params, result.score) == ("logistic_regression", {}, None)


def test_train_records_the_search_fitted_on_training_rows_only(tmp_path: Path, penguins_frame: pd.DataFrame) -> None:
    schema = parse_schema(AUTO_BIRDS)
    report = fit_and_release(schema, penguins_frame, tmp_path, budget_s=None)
    meta = json.loads((tmp_path / "birds" / "groups" / "sex" / "v0001" / "meta.json").read_text())
    search_record = meta["search"]
    assert search_record["budget_s"] == 2 and search_record["portfolio"] == ["logistic_regression", "random_forest"]
    assert {t["estimator"] for t in search_record["trials"]} <= {"logistic_regression", "random_forest"}
    assert search_record["n_rows"] == meta["n_train"] == report.groups["sex"].n_train  # never the holdout
    assert search_record["seconds"] <= 2 * 1.5 + 1  # the budget (generous: CI machines are shared)
    assert "metrics" in meta and meta["metrics"]["n"] == meta["n_holdout"]
    assert meta["spec"]["model"]["estimator"] == "auto"


def test_the_cli_budget_overrides_the_schema_and_versions_shows_the_search(
        tmp_path: Path, penguins_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "birds.yaml"
    schema.write_text(AUTO_BIRDS, encoding="utf-8")
    store = tmp_path / "store"
    assert main(["train", str(schema), "--data", str(penguins_csv), "--store", str(store), "--budget", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "auto chose" in out
    meta = json.loads((store / "birds" / "groups" / "species" / "v0001" / "meta.json").read_text())
    assert meta["search"]["budget_s"] == 1.5
    assert main(["versions", "--store", str(store)]) == 0
    listing = capsys.readouterr().out
    assert "search:" in listing and "auto:" in listing and "<-" in listing
    # the gate still applies to an auto head: a retrain is compared with the live version
    assert main(["retrain", str(schema), "--group", "sex", "--data", str(penguins_csv), "--store", str(store),
                 "--budget", "1"]) in (0, 3)
    meta2 = json.loads((store / "birds" / "groups" / "sex" / "v0002" / "meta.json").read_text())
    assert meta2["gate"] is not None and meta2["search"]["budget_s"] == 1


def test_the_cli_refuses_a_budget_that_is_not_positive(tmp_path: Path, penguins_csv: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "x.yaml", "--data", str(penguins_csv), "--store", str(tmp_path), "--budget", "0"])
    assert exc.value.code == 2


def test_a_multilabel_group_is_searched_once_for_all_its_labels(tmp_path: Path, movies_csv: Path) -> None:
    schema = parse_schema(SHOP_HEADER.replace("name: shop", "name: films").replace(
        "price: {type: number}", "runtime: {type: number, required: false}").replace(
        "inputs: [price]", "inputs: [runtime]") + """\
  genres:
    type: multilabel
    labels: [Drama, Comedy, Romance, Action, Crime, Thriller, Horror, Documentary, Sci-Fi, Fantasy,
             Adventure, Musical, Biography, Mystery, War, Family, Animation, Western, Sport, History, Music]
    features: [words]
    model: {estimator: auto, budget_s: 2, max_trials: 4}
""")
    df = pd.read_csv(movies_csv).head(600)
    fit_and_release(schema, df, tmp_path)
    meta = json.loads((tmp_path / "films" / "groups" / "genres" / "v0001" / "meta.json").read_text())
    assert meta["search"]["metric"] == "micro_f1" and len(meta["search"]["trials"]) <= 4
    assert "complement_nb" in meta["search"]["portfolio"]  # sparse non-negative TF-IDF


@pytest.mark.parametrize(("model", "where", "says"), [
    ("{estimator: auto, params: {C: 2}}", "groups.species.model.params", "searches its own parameters"),
    ("{estimator: auto, candidates: [lgbm]}", "groups.species.model.candidates.0", "unknown candidate"),
    ("{estimator: logistic_regression, budget_s: 3}", "groups.species.model.budget_s", "auto` only"),
    ("{estimator: auto, budget_s: 0}", "groups.species.model.budget_s", "greater than 0"),
])
def test_schema_checks_of_auto(model: str, where: str, says: str) -> None:
    text = BIRDS_HEADER + f"  species:\n    type: multiclass\n    labels: [a, b]\n    model: {model}\n"
    with pytest.raises(SchemaError) as exc:
        parse_schema(text)
    assert where in str(exc.value) and says in str(exc.value)


def test_model_auto_shorthand_and_the_budget_leave_the_head_fingerprint_alone() -> None:
    a = parse_schema(BIRDS_HEADER + "  s:\n    type: multiclass\n    labels: [a, b]\n    model: auto\n")
    b = parse_schema(BIRDS_HEADER + "  s:\n    type: multiclass\n    labels: [a, b]\n"
                                    "    model: {estimator: auto, budget_s: 5}\n")
    plain = parse_schema(BIRDS_HEADER + "  s:\n    type: multiclass\n    labels: [a, b]\n")
    assert a.groups["s"].model.estimator == "auto" and a.groups["s"].model.budget_s is None  # 60 s by default
    assert a.group_fingerprint("s") == b.group_fingerprint("s") != plain.group_fingerprint("s")
