"""Hierarchy groups (issue 25): the label tree in the schema, one head per parent node, paths with
confidence that stop where the model is unsure, and hierarchical metrics, on the emoji subset
(category -> subcategory, a real two-level tree; People & Body has subcategories in that subset)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.data.targets import parse_targets
from compose.errors import DataError, SchemaError
from compose.heads.hierarchy import decode, node_scores
from compose.metrics import hierarchical_metrics, stopped_shares
from compose.plan import build_plan
from compose.schema.hierarchy import parse_tree
from compose.schema.load import parse_schema, schema_from_dict

EMOJI = Path(__file__).resolve().parents[1] / "fixtures" / "emoji"
SCHEMA = EMOJI / "hierarchy.yaml"
PEOPLE = "People & Body"
HEAD = f"emoji/{PEOPLE}"

MARITAL = """
schema_version: 1
name: census
inputs: {age: {type: number}}
features: {person: {type: tabular, inputs: [age]}}
groups:
  marital:
    type: hierarchy
    labels:
      Married: [Married-civ-spouse, Married-spouse-absent, Married-AF-spouse]
      Not married: [Never-married, Divorced, {Separated: [Legally, Informally]}, Widowed]
      Other: [Unknown]
    features: [person]
    decision: {min_confidence: 0.6}
"""


def _frame() -> pd.DataFrame:
    """The emoji subset with one hierarchy column: the subcategory, else the category (absolute image paths)."""
    df = pd.read_csv(EMOJI / "emoji.csv")
    out = pd.DataFrame({"image": [str(EMOJI / p) for p in df["image"]], "base": df["base"],
                        "emoji": df["subcategory"].fillna(df["category"])})
    # a few People & Body rows known only as far as the category: they train the root's head alone
    people = np.flatnonzero(df["category"].to_numpy() == PEOPLE)[:6]
    out.loc[people, "emoji"] = PEOPLE
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("emoji-tree") / "emoji.csv"
    _frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    root = tmp_path_factory.mktemp("emoji-store")
    assert main(["-q", "train", str(SCHEMA), "--data", str(data), "--store", str(root)]) == 0
    return root


# --- the schema ------------------------------------------------------------------------------------


def test_the_planner_expands_a_hierarchy_into_one_head_per_parent_node() -> None:
    schema = parse_schema(MARITAL)
    assert list(schema.groups) == ["marital", "marital/Married", "marital/Not married", "marital/Separated"]
    assert schema.groups["marital"].labels == ["Married", "Not married", "Other"]
    assert schema.groups["marital/Separated"].labels == ["Legally", "Informally"]
    assert all(g.type == "multiclass" and g.features == ["person"] for g in schema.groups.values())
    assert all(g.decision.min_confidence is None for g in schema.groups.values())  # it applies to the path
    # `Other` has one child: no head, the child follows with probability 1
    assert schema.hierarchy_of("marital/Separated") == (schema.hierarchies["marital"], "Separated")
    assert build_plan(schema).groups_in_order()[0] == "marital"


def test_a_hierarchy_schema_round_trips_through_its_stored_form() -> None:
    schema = parse_schema(MARITAL)
    stored = schema.to_dict()
    assert list(stored["groups"]) == ["marital"] and stored["groups"]["marital"]["type"] == "hierarchy"
    again = schema_from_dict(json.loads(json.dumps(stored)))
    assert list(again.groups) == list(schema.groups) and again.fingerprint() == schema.fingerprint()


@pytest.mark.parametrize(("labels", "says"), [
    ("{Married: [Civ, Absent], Single: [Never, Civ]}", "label 'Civ' appears twice in the tree (first at "
                                                       "groups.marital.labels.Married.0)"),
    ("[Married]", "the top level of a hierarchy needs at least two labels"),
    ("{Married: [a/b, c], Single: [d]}", "label 'a/b' contains '/'"),
    ("{Married: 3, Single: [d]}", "the children of 'Married' must be a list or a mapping"),
])
def test_a_broken_tree_is_reported_with_its_place(labels: str, says: str) -> None:
    text = MARITAL.replace(MARITAL[MARITAL.index("    labels:"):MARITAL.index("    features: [person]")],
                           f"    labels: {labels}\n")
    with pytest.raises(SchemaError) as info:
        parse_schema(text)
    assert says in str(info.value)
    assert "groups.marital.labels" in str(info.value)


def test_hierarchy_decisions_and_other_group_types_are_checked() -> None:
    with pytest.raises(SchemaError, match=r"'k' does not apply to a hierarchy group; allowed here: \['min_conf"):
        parse_schema(MARITAL.replace("{min_confidence: 0.6}", "{min_confidence: 0.6, k: 2}"))
    with pytest.raises(SchemaError, match="a nested mapping of labels needs `type: hierarchy`"):
        parse_schema(MARITAL.replace("type: hierarchy", "type: multiclass"))


def test_a_cell_may_name_any_node_and_trains_only_the_heads_above_it() -> None:
    schema = parse_schema(MARITAL)
    df = pd.DataFrame({"age": [30, 40, 50, 60, 70, None],
                       "marital": ["Divorced", "Not married", "Informally", "Married", "Unknown", None]})
    targets = parse_targets(df, schema)
    root, single, separated = targets["marital"], targets["marital/Not married"], targets["marital/Separated"]
    assert [root.labels[i] if i >= 0 else None for i in root.y] == \
        ["Not married", "Not married", "Not married", "Married", "Other", None]
    assert single.labelled.tolist() == [True, False, True, False, False, False]
    assert [single.labels[i] for i in single.y[single.labelled]] == ["Divorced", "Separated"]
    assert separated.labelled.tolist() == [False, False, True, False, False, False]
    assert not targets["marital/Married"].labelled.any()  # "Married" is known only that far


def test_a_cell_that_names_no_node_is_an_error_naming_the_row() -> None:
    schema = parse_schema(MARITAL)
    df = pd.DataFrame({"age": [30, 40], "marital": ["Divorced", "Divorcd"]})
    with pytest.raises(DataError, match=r"row 2: 'Divorcd' \(did you mean 'Divorced'\?\)"):
        parse_targets(df, schema)


# --- decoding --------------------------------------------------------------------------------------


def _tree() -> tuple[object, dict[str, np.ndarray]]:
    tree = parse_schema(MARITAL).hierarchies["marital"]
    conditional = {"": np.array([[0.7, 0.2, 0.1], [0.2, 0.75, 0.05]]),
                   "Married": np.array([[0.9, 0.05, 0.05], [0.5, 0.3, 0.2]]),
                   "Not married": np.array([[0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.7, 0.1]]),
                   "Separated": np.array([[0.5, 0.5], [0.95, 0.05]])}
    return tree, conditional


def test_scores_cover_every_node_and_are_coherent_at_any_depth() -> None:
    tree, conditional = _tree()
    scores = node_scores(tree, conditional, 2)  # type: ignore[arg-type]
    at = {n: j for j, n in enumerate(tree.nodes)}  # type: ignore[attr-defined]
    for parent, kids in tree.children.items():  # type: ignore[attr-defined]
        if parent and kids:
            np.testing.assert_allclose(scores[:, [at[k] for k in kids]].sum(axis=1), scores[:, at[parent]])
    np.testing.assert_allclose(scores[:, at["Legally"]], [0.2 * 0.7 * 0.5, 0.75 * 0.7 * 0.95])
    np.testing.assert_allclose(scores[:, at["Unknown"]], scores[:, at["Other"]])  # a single child


def test_the_path_stops_at_the_deepest_node_that_reaches_min_confidence() -> None:
    tree, conditional = _tree()
    paths = decode(tree, conditional, np.array([True, True]), 0.6)  # type: ignore[arg-type]
    nodes = tree.nodes  # type: ignore[attr-defined]
    kept = [[nodes[j] for j in row if j >= 0] for row in paths.path]
    full = [[nodes[j] for j in row if j >= 0] for row in paths.full]
    assert full == [["Married", "Married-civ-spouse"], ["Not married", "Separated", "Legally"]]
    # row 0: 0.7 * 0.9 = 0.63 >= 0.6, a whole path; row 1: 0.75 then 0.525 < 0.6, stopped at Not married
    assert kept == [["Married", "Married-civ-spouse"], ["Not married"]]
    np.testing.assert_allclose(paths.confidence, [0.63, 0.75])
    assert paths.outcome.tolist() == [0, 1]  # labelled, stopped
    low = decode(tree, conditional, np.array([True, True]), 0.8)  # type: ignore[arg-type]
    assert low.outcome.tolist() == [2, 2] and np.isnan(low.confidence).all()  # abstained: no node reaches it


# --- metrics ---------------------------------------------------------------------------------------


def test_hierarchical_metrics_by_hand() -> None:
    true = [["A", "a1"], ["A", "a2"], ["B"]]
    pred = [["A", "a1"], ["A"], ["A", "a1"]]
    m = hierarchical_metrics(true, pred, 2)
    # |P ∩ T| = 2 + 1 + 0 = 3, |P| = 2 + 1 + 2 = 5, |T| = 2 + 2 + 1 = 5
    assert (m["hierarchical_precision"], m["hierarchical_recall"], m["hierarchical_f1"]) == (0.6, 0.6, 0.6)
    assert [lv["accuracy"] for lv in m["levels"]] == [round(2 / 3, 4), 0.5]
    assert stopped_shares(np.array([2, 1, 0]), np.array([2, 2, 2]), 2) == {"0": round(1 / 3, 4), "1": round(1 / 3, 4)}


def test_hierarchical_metrics_agree_with_hiclass() -> None:
    metrics = pytest.importorskip("hiclass.metrics")
    rng = np.random.default_rng(0)
    tree = parse_tree("t", {"A": {"a1": None, "a2": None}, "B": {"b1": None, "b2": None, "b3": None}, "C": None})
    leaves = [n for n in tree.nodes if tree.is_leaf(n)]
    true = [tree.path(leaves[i]) for i in rng.integers(0, len(leaves), 200)]
    pred = [tree.path(leaves[i]) for i in rng.integers(0, len(leaves), 200)]
    t, p = (np.array([q + [""] * (2 - len(q)) for q in paths], dtype=object) for paths in (true, pred))
    ours = hierarchical_metrics(true, pred, 2)
    theirs = {"f1": metrics.f1(t, p), "precision": metrics.precision(t, p), "recall": metrics.recall(t, p)}
    assert {k: ours[f"hierarchical_{k}"] for k in theirs} == {k: round(float(v), 4) for k, v in theirs.items()}


# --- end to end on the emoji subset ---------------------------------------------------------------


def test_each_node_head_is_versioned_and_trained_on_the_rows_through_its_node(store: Path) -> None:
    model = compose.load(store / "emoji-tree")
    assert model.groups == ["emoji", HEAD]
    frame = _frame()
    targets = parse_targets(frame, model.schema)
    # every labelled row trains the root; People & Body's head only the rows with a subcategory
    assert targets["emoji"].n_labelled == len(frame)
    categories = list(model.schema.groups["emoji"].labels or [])
    assert targets[HEAD].n_labelled == int((~frame["emoji"].isin(categories)).sum())
    assert (store / "emoji-tree" / "groups" / "emoji%2FPeople%20%26%20Body" / "v0001" / "meta.json").is_file()


def test_results_carry_the_path_its_confidence_and_the_flat_labels(store: Path, data: Path) -> None:
    model = compose.load(store / "emoji-tree")
    preds = model.predict(pd.read_csv(data))
    seen = set()
    for result in preds:
        g = result["groups"]["emoji"]
        assert set(result["groups"]) == {"emoji"}  # the node heads give one result
        assert result["labels"] == g["path"] and g["label"] == (g["path"][-1] if g["path"] else None)
        scores = g["scores"]
        assert set(scores) == set(model.schema.hierarchies["emoji"].nodes)
        if g["path"]:
            assert g["path_confidence"] == pytest.approx(scores[g["label"]], abs=1e-3)
            assert g["path_confidence"] >= 0.5  # the schema's min_confidence
        seen.add(g["outcome"])
        if g["outcome"] == "stopped":
            assert g["stopped_at"] == g["label"] == PEOPLE and "below min_confidence 0.5" in g["reason"]
        assert g["versions"] == {"emoji": 1, HEAD: 1}
    assert "labelled" in seen and "stopped" in seen


def test_the_row_path_the_batch_path_and_json_lines_agree(store: Path, data: Path, tmp_path: Path) -> None:
    model = compose.load(store / "emoji-tree")
    frame = pd.read_csv(data)
    batch = model.predict(frame).to_list()  # > 64 rows: the columnar builder
    rows = [model.predict(frame.iloc[i:i + 40]).to_list() for i in range(0, len(frame), 40)]  # the row path
    assert [r for part in rows for r in part] == batch
    model.predict(frame).to_jsonl(tmp_path / "out.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines == json.loads(json.dumps(batch))
    table = model.predict_frame(frame)
    assert {"emoji", "emoji_path", "emoji_path_confidence", "emoji_stopped_at", "emoji_outcome"} <= set(table.columns)
    assert table["emoji_path"].astype(object).where(table["emoji_path"].notna(), "").tolist() == \
        ["|".join(r["groups"]["emoji"]["path"]) for r in batch]


def test_retrain_one_node_leaves_the_others_untouched(store: Path, data: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    code = main(["-q", "retrain", str(SCHEMA), "--group", HEAD, "--data", str(data), "--store", str(copy),
                 "--force"])
    assert code == 0
    model = compose.load(copy / "emoji-tree")
    assert (model.version_of("emoji"), model.version_of(HEAD)) == (1, 2)
    assert model.predict_one({"image": str(EMOJI / "img" / "1f600.png")})["groups"]["emoji"]["versions"] == \
        {"emoji": 1, HEAD: 2}
    assert main(["-q", "retrain", str(SCHEMA), "--group", "emoji/Flags", "--data", str(data), "--store",
                 str(copy)]) == 2
    assert "'Flags' is a leaf of hierarchy 'emoji', so it has no head of its own" in capsys.readouterr().err


def test_evaluate_reports_hierarchical_figures(store: Path, data: Path, tmp_path: Path) -> None:
    assert main(["-q", "evaluate", "--store", str(store), "--data", str(data), "--split", "holdout",
                 "--json", str(tmp_path / "ev.json"), "--html", str(tmp_path / "ev.html")]) == 0
    page = (tmp_path / "ev.html").read_text(encoding="utf-8")
    assert 'alt="emoji accuracy per node" src="data:image/png;base64,' in page and "hier. F" in page
    h = json.loads((tmp_path / "ev.json").read_text(encoding="utf-8"))["hierarchical"]["emoji"]
    assert [lv["level"] for lv in h["levels"]] == [1, 2]
    assert 0.0 < h["hierarchical_f1"] <= 1.0 and h["levels"][0]["accuracy"] is not None
    assert set(h["stopped"]) == {"0", "1"}
    assert [n["head"] for n in h["nodes"]] == ["emoji", HEAD]


def test_a_label_moved_to_another_branch_clears_the_heads_it_left(tmp_path: Path) -> None:
    from compose.store.sample_access import open_samples

    schema = parse_schema(MARITAL)
    samples, _ = open_samples(tmp_path, schema=schema, create=True)
    samples.upsert(pd.DataFrame({"id": ["a", "b"], "age": [30, 40], "marital": ["Legally", "Divorced"]}), schema)
    report = samples.upsert(pd.DataFrame({"id": ["a", "b"], "age": [30, 40],
                                          "marital": ["Married-civ-spouse", "Not married"]}), schema)
    frame = samples.frame(schema).set_index("id")
    # a moved to Married: its annotations under Not married and Separated are stale and removed
    row_a = frame.loc["a"].to_dict()
    assert (row_a["marital"], row_a["marital/Married"]) == ("Married", "Married-civ-spouse")
    assert pd.isna(row_a["marital/Not married"]) and pd.isna(row_a["marital/Separated"])
    assert report.changed["marital/Not married"] == 1 and report.changed["marital/Separated"] == 1
    # b is now known only as far as Not married, which its finer annotation agrees with: it stays
    assert frame.loc["b", "marital/Not married"] == "Divorced"
    # and the store's frame reads back as the same targets
    again = parse_targets(frame.reset_index(), schema)
    assert again["marital/Separated"].n_labelled == 0 and again["marital/Married"].n_labelled == 1


# --- the advisor ------------------------------------------------------------------------------------


def test_suggest_proposes_a_hierarchy_for_parent_and_child_tags(penguins_frame: pd.DataFrame,
                                                                tmp_path: Path) -> None:
    from compose.advisor.draft import draft_yaml
    from compose.advisor.suggest import suggest

    df = penguins_frame.dropna(subset=["bill_length_mm"]).reset_index(drop=True)
    # child tags under two of the species: short or long bill for its species (the median splits)
    median = df.groupby("species")["bill_length_mm"].transform("median")
    size = np.where(df["bill_length_mm"] > median, "long", "short")
    child = [f"{s.lower()}_{z}" if s != "Chinstrap" else "" for s, z in zip(df["species"], size, strict=True)]
    tags = ["|".join(t for t in (s, c) if t) for s, c in zip(df["species"], child, strict=True)]
    frame = df[["bill_depth_mm", "flipper_length_mm", "body_mass_g"]].assign(tags=tags)
    frame.to_csv(tmp_path / "tags.csv", index=False)
    s = suggest(tmp_path / "tags.csv", "tags")
    (group,) = [g for g in s.groups if g.type == "hierarchy"]
    assert group.tree is not None
    assert {k: sorted(v) for k, v in group.tree.items()} == {
        "Adelie": ["adelie_long", "adelie_short"], "Chinstrap": [], "Gentoo": ["gentoo_long", "gentoo_short"]}
    (tmp_path / "draft.yaml").write_text(draft_yaml(s), encoding="utf-8")
    schema = compose.load_schema(tmp_path / "draft.yaml")
    assert set(schema.groups) == {group.name, f"{group.name}/Adelie", f"{group.name}/Gentoo"}
    # the flat tag column splits into the hierarchy's one column, holding the deepest tag
    targets = parse_targets(pd.read_csv(tmp_path / "tags.csv"), schema)
    assert targets[group.name].n_labelled == len(df)
    assert targets[f"{group.name}/Gentoo"].n_labelled == int((df["species"] == "Gentoo").sum())


def test_child_tags_under_one_parent_tag_stay_a_conditional_group(tmp_path: Path) -> None:
    from compose.advisor.suggest import suggest

    df = pd.read_csv(EMOJI / "emoji.csv")  # subcategories only for People & Body, as examples/emoji/emoji.yaml has
    tags = [c + (f"|{s}" if isinstance(s, str) else "") for c, s in zip(df["category"], df["subcategory"], strict=True)]
    pd.DataFrame({"name": df["name"], "tags": tags}).to_csv(tmp_path / "tags.csv", index=False)
    s = suggest(tmp_path / "tags.csv", "tags")
    assert not [g for g in s.groups if g.type == "hierarchy"]
    assert any(g.when and list(g.when.values()) == [[PEOPLE]] for g in s.groups)


def test_a_flat_tag_row_on_two_branches_is_left_empty() -> None:
    from compose.data.tags import convert

    text = MARITAL.replace("inputs: {age: {type: number}}", "inputs: {age: {type: number}}\ntags: tags")
    schema = parse_schema(text)
    out = convert(schema, pd.DataFrame({"age": [1, 2, 3], "tags": ["Not married|Divorced", "Divorced",
                                                                    "Married|Divorced"]}), tags="tags")
    assert out["marital"].tolist() == ["Divorced", "Divorced", None]
    assert out.attrs["conflicts"] == {"marital": 1}


# --- ONNX export ------------------------------------------------------------------------------------

PENGUIN_TREE = """
schema_version: 1
name: pg
inputs: {bill_depth_mm: {type: number}, flipper_length_mm: {type: number}, body_mass_g: {type: number}}
features: {m: {type: tabular, inputs: [bill_depth_mm, flipper_length_mm, body_mass_g]}}
groups:
  kind:
    type: hierarchy
    labels: {Adelie: [adelie_long, adelie_short], Chinstrap: [], Gentoo: [gentoo_long, gentoo_short]}
    decision: {min_confidence: 0.55}
"""


@pytest.fixture(scope="module")
def penguin_tree(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> tuple[Path, pd.DataFrame]:
    """A store of a penguin tree: species, and for Adelie and Gentoo a short or long bill (the median splits)."""
    df = penguins_frame.dropna(subset=["bill_length_mm"]).reset_index(drop=True)
    median = df.groupby("species")["bill_length_mm"].transform("median")
    size = np.where(df["bill_length_mm"] > median, "long", "short")
    df["kind"] = [f"{s.lower()}_{z}" if s != "Chinstrap" else s for s, z in zip(df["species"], size, strict=True)]
    data = df[["bill_depth_mm", "flipper_length_mm", "body_mass_g", "kind"]]
    root = tmp_path_factory.mktemp("penguin-tree")
    compose.train(parse_schema(PENGUIN_TREE), data, store=root)
    return root, data


def test_an_onnx_export_gives_the_same_paths(penguin_tree: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from compose.export.onnx import export_onnx, load

    store, data = penguin_tree
    export_onnx(store, tmp_path / "onnx")
    rows = data.drop(columns=["kind"]).to_dict("records")
    expected = compose.load(store / "pg").predict(rows).to_list()
    got = load(tmp_path / "onnx").predict(rows)
    assert [r["groups"]["kind"]["path"] for r in got] == [r["groups"]["kind"]["path"] for r in expected]
    assert {r["groups"]["kind"]["outcome"] for r in expected} >= {"labelled", "stopped"}


def test_tune_refuses_a_hierarchy_head(penguin_tree: tuple[Path, pd.DataFrame],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = penguin_tree
    assert main(["-q", "tune", "--store", str(store), "--group", "kind/Adelie", "--target", "precision=0.9"]) == 2
    assert "is a head of hierarchy 'kind', whose decision is the path's min_confidence" in capsys.readouterr().err


def test_check_reads_a_hierarchy_column_through_its_heads() -> None:
    from compose.data.check import check

    schema = parse_schema(MARITAL)
    report = check(schema, pd.DataFrame({"age": [1, 2, 3, 4], "marital": ["Divorced", "Legally", "Single", None]}))
    assert report.groups["marital"].counts["Not married"] == 2
    assert report.groups["marital/Not married"].counts == {"Never-married": 0, "Divorced": 1, "Separated": 1,
                                                           "Widowed": 0}
    assert report.groups["marital"].undeclared == {"Single": [3]}  # named with its row, as for any group


def test_the_scikit_learn_estimator_refuses_a_hierarchy(penguin_tree: tuple[Path, pd.DataFrame]) -> None:
    from compose.estimator import ComposedClassifier

    _, data = penguin_tree
    with pytest.raises(DataError, match=r"ComposedClassifier does not take hierarchy groups yet \(\['kind'\]\)"):
        ComposedClassifier(schema=parse_schema(PENGUIN_TREE)).fit(data.drop(columns=["kind"]), data[["kind"]])


def test_compose_is_within_0_01_of_hiclass_on_the_same_split(penguin_tree: tuple[Path, pd.DataFrame]) -> None:
    hiclass = pytest.importorskip("hiclass")
    from sklearn.base import clone

    from compose.data.hierarchy import cell_paths
    from compose.data.targets import holdout_mask, prepare_inputs, split_hashes

    store, data = penguin_tree
    model = compose.load(store / "pg")
    schema = model.schema
    hold = holdout_mask(split_hashes(data, prepare_inputs(data, schema), schema), schema.training.holdout)
    ours = compose.evaluate(model, data, split="holdout")["hierarchical"]["kind"]["hierarchical_f1"]
    x = model.features_["m"].transform(prepare_inputs(data, schema))
    paths = [p or [] for p in cell_paths(data, schema.hierarchies["kind"])]
    y = np.array([p + [""] * (2 - len(p)) for p in paths], dtype=object)
    lcppn = hiclass.LocalClassifierPerParentNode(local_classifier=clone(model.heads_["kind"].estimators_[0]))
    lcppn.fit(x[~hold], y[~hold])
    pred = [[str(v) for v in row if str(v)] for row in lcppn.predict(x[hold])]
    # compose stops below min_confidence 0.55, HiClass never does: compare the full paths too
    theirs = hierarchical_metrics([paths[i] for i in np.flatnonzero(hold)], pred, 2)["hierarchical_f1"]
    full = [[schema.hierarchies["kind"].nodes[j] for j in row if j >= 0]
            for row in decode_full(model, data[hold].drop(columns=["kind"]))]
    whole = hierarchical_metrics([paths[i] for i in np.flatnonzero(hold)], full, 2)["hierarchical_f1"]
    assert whole >= theirs - 0.01, (whole, theirs)
    assert 0.0 < ours <= 1.0


def decode_full(model: compose.ComposedModel, rows: pd.DataFrame) -> np.ndarray:
    """The greedy full paths (before min_confidence) of `rows`."""
    from compose.runtime.hierarchy import hierarchy_columns

    _, outputs = model.run(rows.reset_index(drop=True))
    return hierarchy_columns(model, outputs)["kind"].paths.full
