"""The zero-shot cold start (compose.heads.zero_shot), on real data: emoji names -> category (Google
Noto, MIT) and films -> genre (Wikidata sample, CC0), embedded by wordllama offline."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

import compose
from compose.errors import DataError, GateRefusedError, SchemaError
from compose.heads.zero_shot import ZeroShotHead, label_texts
from compose.runtime.model import ComposedModel
from compose.schema.load import parse_schema
from compose.store.lifecycle import list_versions

pytest.importorskip("wordllama")

DATA = Path(__file__).resolve().parents[1] / "fixtures"
CATEGORIES = ["Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
              "Activities", "Objects", "Symbols", "Flags"]
EMOJI = f"""\
schema_version: 1
name: emoji_names
inputs:
  name: {{type: text}}
features:
  meaning: {{type: embedding, inputs: [name]}}
groups:
  category:
    type: multiclass
    labels: {json.dumps(CATEGORIES)}
    gate: {{metric: balanced_accuracy}}
"""


@pytest.fixture(scope="module")
def emoji() -> pd.DataFrame:
    df = pd.read_csv(DATA / "emoji" / "emoji.csv")
    return pd.DataFrame({"name": df["name"].str.lower(), "category": df["category"]})


@pytest.fixture(scope="module")
def cold(emoji: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> ComposedModel:
    """A release trained on the emoji names without a single label."""
    store = tmp_path_factory.mktemp("cold")
    return compose.train(parse_schema(EMOJI), emoji[["name"]], store=store)


def _categories(results: Any, group: str = "category") -> list[Any]:
    return [r["groups"][group]["label"] for r in results]


def test_a_group_without_a_single_label_is_released_and_answers_zero_shot(cold: ComposedModel,
                                                                           emoji: pd.DataFrame) -> None:
    assert isinstance(cold.heads_["category"], ZeroShotHead)
    results = cold.predict(emoji[["name"]])
    assert {r["groups"]["category"]["source"] for r in results} == {"zero-shot"}
    # 9 categories (chance 0.11): the names alone answer about as well as a head trained on 1 label each
    assert balanced_accuracy_score(emoji["category"], _categories(results)) > 0.33
    assert cold.store is not None
    meta = cold.store.group_meta("category", cold.version_of("category"))
    assert (meta.source, meta.n_train) == ("zero-shot", 0)
    assert [v["estimator"] for v in list_versions(str(cold.store.path.parent), group="category")] == ["zero-shot"]


def test_every_output_path_says_zero_shot_alike(cold: ComposedModel, emoji: pd.DataFrame) -> None:
    rows = [{"name": name} for name in emoji["name"]]
    batch = cold.predict(emoji[["name"]])  # > 64 rows: the columnar builder
    assert [cold.predict_one(r) for r in rows[:5]] == batch.to_list()[:5] == cold.predict(rows[:5]).to_list()
    out = io.BytesIO()
    batch.to_jsonl(out)
    assert [json.loads(line) for line in out.getvalue().decode().splitlines()] == batch.to_list()
    first = batch[0]["groups"]["category"]
    assert list(first)[:5] == ["label", "confidence", "scores", "version", "source"]
    frame = batch.to_frame()
    assert frame["category_source"].astype(str).unique().tolist() == ["zero-shot"]
    assert frame["category"].astype(str).tolist() == _categories(batch)


def test_the_fused_path_scores_the_zero_shot_head_as_its_own_scores(cold: ComposedModel,
                                                                     emoji: pd.DataFrame) -> None:
    assert cold.fused_groups == ("category",)
    plain = ComposedModel(cold.schema, cold.features_, cold.heads_, cold.release, fuse=False)
    fused, own = cold.predict_scores(emoji[["name"]])["category"], plain.predict_scores(emoji[["name"]])["category"]
    np.testing.assert_allclose(fused, own, atol=1e-9)
    assert np.allclose(own.sum(axis=1), 1.0)


def test_the_scores_are_a_softmax_of_the_scaled_similarity_with_the_label_texts(cold: ComposedModel,
                                                                                  emoji: pd.DataFrame) -> None:
    embed = cold.features_["meaning"]
    x = embed.transform(emoji[["name"]].head(20))
    labels = embed.transform(pd.DataFrame({"name": CATEGORIES}))
    z = 15.0 * x @ labels.T
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cold.predict_scores(emoji[["name"]].head(20))["category"], expected, atol=1e-9)


def test_learn_replaces_the_zero_shot_head_by_a_trained_one_through_the_gate(
        emoji: pd.DataFrame, tmp_path: Path) -> None:
    compose.train(parse_schema(EMOJI), emoji[["name"]], store=tmp_path)
    report = compose.learn(tmp_path, emoji)
    gate = report.train.groups["category"].gate if report.train is not None else None
    assert gate is not None and gate.live is not None and gate.candidate is not None
    assert gate.passed and gate.candidate >= gate.live > 0.2  # compared with the zero-shot head on the same rows
    model = compose.load(tmp_path)
    assert not isinstance(model.heads_["category"], ZeroShotHead)
    result = model.predict_one({"name": "grinning face"})["groups"]["category"]
    assert "source" not in result and result["version"] == 2


def test_a_trained_candidate_worse_than_the_zero_shot_head_is_refused(emoji: pd.DataFrame, tmp_path: Path) -> None:
    # a head regularised into the majority label: balanced accuracy 1/9, below the label names' reading
    weak = EMOJI.replace("    gate: {metric: balanced_accuracy}",
                         "    gate: {metric: balanced_accuracy}\n    model: {params: {C: 0.000001}}")
    compose.train(parse_schema(weak), emoji[["name"]], store=tmp_path)
    with pytest.raises(GateRefusedError, match=r"balanced_accuracy .* < live v0001") as refused:
        compose.learn(tmp_path, emoji)
    report = refused.value.report
    assert report.train is not None
    gate = report.train.groups["category"].gate
    assert gate is not None and gate.live is not None and gate.candidate is not None
    assert not gate.passed and gate.candidate < gate.live
    assert isinstance(compose.load(tmp_path).heads_["category"], ZeroShotHead)


def test_one_label_short_of_min_per_label_keeps_the_group_zero_shot(emoji: pd.DataFrame, tmp_path: Path) -> None:
    some = emoji.copy()
    one = some.index[some["category"] == "Flags"][1:]
    some.loc[one, "category"] = None  # one labelled flag: below min_per_label 2
    model = compose.train(parse_schema(EMOJI), some, store=tmp_path)
    assert isinstance(model.heads_["category"], ZeroShotHead)
    off = parse_schema(EMOJI.replace("    gate:", "    cold_start: {min_per_label: 1}\n    gate:"))
    model = compose.train(off, some, store=tmp_path / "one")
    assert not isinstance(model.heads_["category"], ZeroShotHead)
    assert "source" not in model.predict_one({"name": "grinning face"})["groups"]["category"]


def test_without_a_cold_start_a_group_with_no_labels_is_not_trained(emoji: pd.DataFrame, tmp_path: Path) -> None:
    off = parse_schema(EMOJI.replace("    gate:", "    cold_start: {min_per_label: 0}\n    gate:"))
    with pytest.raises(DataError, match="no group column found"):
        compose.train(off, emoji[["name"]], store=tmp_path)


def test_descriptions_replace_the_label_names(emoji: pd.DataFrame, tmp_path: Path) -> None:
    schema = parse_schema(EMOJI.replace("    gate:", '    descriptions: {Flags: "flag of a country"}\n    gate:'))
    assert label_texts(schema, "category")[-1] == "flag of a country"
    model = compose.train(schema, emoji[["name"]], store=tmp_path)
    head = model.heads_["category"]
    assert isinstance(head, ZeroShotHead) and head.label_texts[-1] == "flag of a country"
    flags = emoji[emoji["category"] == "Flags"][["name"]]
    plain = compose.load(tmp_path)  # the same store, loaded back: the description is kept in the head
    assert _categories(plain.predict(flags)) == _categories(model.predict(flags))


def test_a_binary_group_reads_its_two_descriptions(emoji: pd.DataFrame, tmp_path: Path) -> None:
    schema = parse_schema("""\
schema_version: 1
name: food
inputs:
  name: {type: text}
features:
  meaning: {type: embedding, inputs: [name]}
groups:
  food:
    type: binary
    labels: [other, food]
    descriptions: {other: "face person animal place object symbol flag", food: "food and drink"}
""")
    model = compose.train(schema, emoji[["name"]], store=tmp_path)
    truth = np.where(emoji["category"] == "Food & Drink", "food", "other")
    results = model.predict(emoji[["name"]])
    assert {r["groups"]["food"]["source"] for r in results} == {"zero-shot"}
    assert balanced_accuracy_score(truth, _categories(results, "food")) > 0.6
    embed = model.features_["meaning"]
    vectors = embed.transform(pd.DataFrame({"name": label_texts(schema, "food")}))
    z = 15.0 * embed.transform(emoji[["name"]].head(8)) @ vectors.T
    np.testing.assert_allclose(model.predict_scores(emoji[["name"]].head(8))["food"][:, 1],
                               1.0 / (1.0 + np.exp(z[:, 0] - z[:, 1])), atol=1e-9)


MOVIES = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  director: {type: text, required: false}
  writer: {type: text, required: false}
  cast: {type: text, required: false}
features:
  words: {type: tfidf, inputs: [title, director, writer, cast]}
  meaning: {type: embedding, inputs: [title, director, writer, cast]}
groups:
  genre:
    type: multiclass
    labels: [Drama, Documentary, Comedy, Horror, Action]
    descriptions: {Documentary: "documentary film about real people and history"}
"""


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    df = pd.read_csv(DATA / "movies_sample.csv")
    single = df[df["genres"].isin(["Drama", "Documentary", "Comedy", "Horror", "Action"])]
    return single[["title", "director", "writer", "cast"]].assign(genre=single["genres"]).reset_index(drop=True)


def test_films_answer_zero_shot_over_two_features_then_learn_their_genres(films: pd.DataFrame,
                                                                         tmp_path: Path) -> None:
    schema = parse_schema(MOVIES)
    inputs = films.drop(columns="genre")
    cold = compose.train(schema, inputs, store=tmp_path)
    head = cold.heads_["genre"]
    assert isinstance(head, ZeroShotHead) and head.features == ["words", "meaning"]
    results = cold.predict(inputs)
    assert {r["groups"]["genre"]["source"] for r in results} == {"zero-shot"}
    assert balanced_accuracy_score(films["genre"], _categories(results, "genre")) > 0.2  # 5 genres: chance 0.2
    report = compose.learn(tmp_path, films)  # 272 labelled films: the trained head beats the names' reading
    gate = report.train.groups["genre"].gate if report.train is not None else None
    assert gate is not None and gate.live is not None and gate.candidate is not None
    assert gate.passed and gate.candidate > gate.live
    warm = compose.load(tmp_path)
    assert "source" not in warm.predict_one({"title": "Nosferatu", "director": "F. W. Murnau"})["groups"]["genre"]


@pytest.mark.parametrize(("edit", "message"), [
    ('    descriptions: {Flag: "a flag"}\n', "unknown label 'Flag'"),
    ("    cold_start: {min_per_label: -1}\n", "min_per_label"),
])
def test_bad_cold_start_keys_are_refused(edit: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse_schema(EMOJI.replace("    gate:", edit + "    gate:"))


def test_cold_start_needs_an_embedding_feature_and_a_single_label_group() -> None:
    tfidf = EMOJI.replace("type: embedding", "type: tfidf").replace("    gate:", "    cold_start: {}\n    gate:")
    with pytest.raises(SchemaError, match="reads no `type: embedding` feature"):
        parse_schema(tfidf)
    tags = EMOJI.replace("type: multiclass", "type: multilabel").replace("    gate: {metric: balanced_accuracy}\n",
                                                                         "    cold_start: {}\n")
    with pytest.raises(SchemaError, match="multiclass and binary groups only"):
        parse_schema(tags)


def test_the_served_response_model_takes_a_zero_shot_result(cold: ComposedModel) -> None:
    pytest.importorskip("fastapi")
    from compose.serve.messages import MergedResult

    result = cold.predict_one({"name": "red apple"})
    assert MergedResult.model_validate(result).groups["category"].source == "zero-shot"


def test_a_server_answers_zero_shot_then_learns_the_posted_labels(emoji: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _serve import Server

    from compose.serve.messages import ModelInfo, PredictResponse

    store = tmp_path / "store"
    compose.train(parse_schema(EMOJI), emoji[["name"]], store=store)
    with Server(store, "--debounce", "0.2", "--capture") as srv, srv.client(headers=srv.auth) as c:
        answer = c.post("/v1/predict", json={"rows": [{"name": "red apple"}, {"name": "grinning face"}]})
        assert answer.status_code == 200, answer.text
        results = PredictResponse.model_validate(answer.json()).results
        assert [r.groups["category"].source for r in results] == ["zero-shot", "zero-shot"]
        assert ModelInfo.model_validate(c.get("/v1/model").json()).groups["category"].source == "zero-shot"
        rows = [{"id": f"e{i}", "name": n, "category": cat} for i, (n, cat) in enumerate(emoji.itertuples(index=False))]
        posted = c.post("/v1/samples", json={"rows": rows})
        assert posted.status_code == 200, posted.text
        assert posted.json()["scheduled"] == ["category"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = c.get("/v1/jobs", params={"group": "category"}).json()["jobs"]
            if jobs and jobs[0]["status"] in ("released", "refused", "failed"):
                break
            time.sleep(0.1)
        assert jobs[0]["status"] == "released" and jobs[0]["gate"]["passed"], jobs[0]
        while c.get("/readyz").json()["release"] != jobs[0]["release"] and time.monotonic() < deadline:
            time.sleep(0.05)
        after = c.post("/v1/predict", json={"rows": [{"name": "red apple"}]}).json()["results"][0]
        assert after["groups"]["category"]["version"] == 2 and "source" not in after["groups"]["category"]
        assert c.get("/v1/model").json()["groups"]["category"]["source"] == "model"
    assert not srv.left_behind
    from compose.evaluation.monitoring import monitor

    served = monitor(store)["groups"]["category"]["releases"]  # the capture kept each answer's source
    assert served["r0001"]["sources"] == {"zero-shot": 2} and served["r0001"]["drift"]["flagged"] is False


def test_a_zero_shot_head_saves_and_loads_as_skops(cold: ComposedModel, emoji: pd.DataFrame, tmp_path: Path) -> None:
    pytest.importorskip("skops")
    model = compose.train(parse_schema(EMOJI), emoji[["name"]], store=tmp_path, artifact_format="skops")
    loaded = compose.load(tmp_path)
    assert isinstance(loaded.heads_["category"], ZeroShotHead)
    assert loaded.predict(emoji[["name"]].head(30)).to_list() == cold.predict(emoji[["name"]].head(30)).to_list()
    assert model.release.release == "r0001"


def test_the_command_line_trains_unlabelled_names_and_refuses_a_bad_description(
        emoji: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compose.cli.main import main

    (tmp_path / "emoji.yaml").write_text(EMOJI, encoding="utf-8")
    emoji[["name"]].to_csv(tmp_path / "names.csv", index=False)
    code = main(["train", str(tmp_path / "emoji.yaml"), "--data", str(tmp_path / "names.csv"),
                 "--store", str(tmp_path / "models")])
    assert code == 0 and "zero-shot (answers from its label texts)  [released]" in capsys.readouterr().out
    bad = EMOJI.replace("    gate:", '    descriptions: {Flag: "a flag"}\n    gate:')
    (tmp_path / "bad.yaml").write_text(bad, encoding="utf-8")
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 2
    assert "groups.category.descriptions.Flag" in capsys.readouterr().err


def test_new_descriptions_replace_a_zero_shot_head_without_a_held_out_row(emoji: pd.DataFrame,
                                                                          tmp_path: Path) -> None:
    compose.train(parse_schema(EMOJI), emoji[["name"]], store=tmp_path)
    described = parse_schema(EMOJI.replace("    gate:", '    descriptions: {Flags: "flag of a country"}\n    gate:'))
    report = compose.retrain(described, emoji[["name"]], tmp_path, group="category")
    gate = report.groups["category"].gate
    assert gate is not None and gate.passed and gate.n_holdout == 0 and "zero-shot" in str(gate.reason)
    head = compose.load(tmp_path).heads_["category"]
    assert isinstance(head, ZeroShotHead) and head.label_texts[-1] == "flag of a country"
