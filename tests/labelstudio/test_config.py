"""Label Studio: the labelling config of a schema and back, and the ML backend protocol on a real server.

The protocol tests run `compose serve` under a real uvicorn (tests/_serve.py) on a store trained on
the real penguins but the last 40; those 40 are the tasks that Label Studio would send.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _serve import HELD_BACK, Server, rows_of, rows_of_frame, trained_on_head, wait_for_job

import compose
from compose.cli.main import main
from compose.labelstudio import draft_schema, label_config
from compose.schema.load import schema_from_dict

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = [ROOT / "schemas" / "penguins.yaml", ROOT / "schemas" / "movies.yaml",
           ROOT / "examples" / "emoji" / "emoji.yaml"]
GATED = """\
schema_version: 1
name: shop
inputs:
  title: {type: text}
  photo: {type: image}
features:
  words: {type: tfidf, inputs: [title]}
groups:
  kind: {type: multiclass, labels: [shirt, dress, shoe]}
  adult: {type: binary}
  colors: {type: multilabel, labels: [red, blue, black]}
  sleeve:
    type: multiclass
    labels: [short, long]
    when: {kind: [shirt, dress], adult: [adult]}
"""


def _groups(schema: compose.Schema) -> dict[str, Any]:
    return {g: (spec.type, schema.labels_of(g), spec.when) for g, spec in schema.groups.items()}


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_a_schema_round_trips_through_its_labelling_config(path: Path, tmp_path: Path) -> None:
    config, draft = tmp_path / "config.xml", tmp_path / "draft.yaml"
    assert main(["-q", "labelstudio", "config", str(path), "--out", str(config)]) == 0
    assert main(["-q", "labelstudio", "schema", str(config), "--out", str(draft)]) == 0
    original, back = compose.load_schema(path), compose.load_schema(draft)
    assert _groups(back) == _groups(original)
    assert set(back.inputs) == set(original.inputs)


def test_multilabel_binary_and_a_two_gate_when_round_trip(tmp_path: Path) -> None:
    schema = compose.parse_schema(GATED, source="shop.yaml")
    xml = label_config(schema)
    assert '<Image name="photo" value="$photo" />' in xml and 'choice="multiple"' in xml
    assert 'visibleWhen="choice-selected" whenTagName="kind" whenChoiceValue="shirt,dress"' in xml
    back = schema_from_dict(draft_schema(xml, "shop.xml", "shop"), source="draft")
    assert _groups(back) == _groups(schema)
    assert back.inputs["photo"].type == "image" and back.inputs["title"].type == "text"


def test_a_broken_or_empty_config_is_one_sentence_and_exit_2(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<View><Text name='t' value='$t'></View>", encoding="utf-8")
    assert main(["-q", "labelstudio", "schema", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broken.xml" in err and "XML is broken" in err and "Traceback" not in err
    empty = tmp_path / "empty.xml"
    empty.write_text("<View><Text name='t' value='$t'/></View>", encoding="utf-8")
    assert main(["-q", "labelstudio", "schema", str(empty)]) == 2
    assert "no <Choices> control" in capsys.readouterr().err


# --- the ML backend protocol on a real server -------------------------------------------------------

@pytest.fixture(scope="module")
def head_store(linear_penguins_schema: Path, penguins_csv: Path,
               tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("ls") / "store"
    return root, trained_on_head(linear_penguins_schema, penguins_csv, root)


@pytest.fixture()
def backend(head_store: tuple[Path, pd.DataFrame], tmp_path: Path) -> Iterator[tuple[Server, pd.DataFrame]]:
    source, held = head_store
    shutil.copytree(source, tmp_path / "store")
    with Server(tmp_path / "store", "--debounce", "0.2") as srv:
        yield srv, held
    assert not srv.left_behind


def basic(token: str, user: str = "labelstudio") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def tasks_of(held: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"id": 5000 + i, "data": row} for i, row in enumerate(rows_of_frame(held))]


def event(action: str, task: dict[str, Any], annotation_id: int, result: list[dict[str, Any]],
          config: str, **extra: Any) -> dict[str, Any]:
    """A webhook body as Label Studio 1.23 sends it (webhooks/models.py: annotation, task, project)."""
    return {"action": action, "project": {"id": 1, "label_config": config},
            "task": {**task, "project": 1}, "annotation": {"id": annotation_id, "task": task["id"], "result": result,
                                                           "was_cancelled": False, **extra}}


def choice(group: str, *labels: str) -> dict[str, Any]:
    return {"from_name": group, "to_name": "bill_length_mm", "type": "choices", "value": {"choices": list(labels)}}


def test_health_setup_and_auth(backend: tuple[Server, pd.DataFrame]) -> None:
    srv, _ = backend
    assert srv.token is not None
    with srv.client() as c:
        for method, path in [("GET", "/health"), ("POST", "/setup"), ("POST", "/predict"), ("POST", "/webhook")]:
            answer = c.request(method, "/labelstudio" + path, json={})
            assert answer.status_code == 401, path
            assert "Basic" in answer.headers["www-authenticate"] and "Traceback" not in answer.text
        wrong = c.get("/labelstudio/health", headers=basic("not-the-token-at-all"))
        assert wrong.status_code == 401
        assert c.get("/labelstudio/health", headers={"Authorization": "Basic !!"}).status_code == 401
        health = c.get("/labelstudio/health", headers=basic(srv.token))
        assert health.status_code == 200 and health.json()["status"] == "UP"
        assert c.get("/labelstudio/health", headers=srv.auth).json()["status"] == "UP"
        setup = c.post("/labelstudio/setup", headers=basic(srv.token, ""),
                       json={"project": "1.1700000000", "schema": "<View/>"})
        assert setup.json() == {"model_version": "r0001"}


def test_predictions_are_the_labels_of_compose_predict(backend: tuple[Server, pd.DataFrame], penguins_csv: Path,
                                                       linear_penguins_schema: Path, tmp_path: Path) -> None:
    srv, _ = backend
    out = tmp_path / "cli.jsonl"
    assert main(["-q", "predict", "--store", str(srv.store), "--data", str(penguins_csv), "--out", str(out)]) == 0
    expected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    tasks = [{"id": i, "data": row} for i, row in enumerate(rows_of(penguins_csv))]
    config = label_config(compose.load_schema(linear_penguins_schema))
    with srv.client(headers=basic(srv.token or "")) as c:
        answer = c.post("/labelstudio/predict", json={"tasks": tasks, "label_config": config,
                                                      "project": "1.1700000000", "params": {"context": {}}})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert len(results) == len(expected) == 344
    empty = 0
    for got, want in zip(results, expected, strict=True):
        assert got["model_version"] == want["release"] == "r0001"
        chosen = {r["from_name"]: r["value"]["choices"] for r in got["result"]}
        wanted = {g: [a["label"]] for g, a in want["groups"].items() if a.get("label") is not None}
        assert chosen == wanted  # an abstained group (the 2 birds without measurements) gives no choice
        assert all(r["to_name"] == "bill_length_mm" and r["type"] == "choices" for r in got["result"])
        empty += not got["result"]
        confidences = [a["confidence"] for a in want["groups"].values() if a.get("label") is not None]
        assert got["score"] == pytest.approx(min(confidences) if confidences else 0.0)
    assert empty == sum(1 for w in expected if not w["labels"])


def test_annotations_become_samples_and_retrain_only_their_group(backend: tuple[Server, pd.DataFrame],
                                                                  linear_penguins_schema: Path) -> None:
    srv, held = backend
    config = label_config(compose.load_schema(linear_penguins_schema))
    tasks = tasks_of(held)
    with srv.client(headers=basic(srv.token or "")) as c:
        for i, task in enumerate(tasks):
            body = event("ANNOTATION_CREATED", task, 900 + i, [choice("species", str(held["species"][i]))], config)
            answer = c.post("/labelstudio/webhook", json=body)
            assert answer.status_code == 201, answer.text
            assert answer.json()["result"]["annotations"] == {"species": held["species"][i]}
        job = wait_for_job(c, "species")
        assert job["retrained"] == ["species"] and job["status"] in ("released", "refused"), job
        assert {j["group"] for j in c.get("/v1/jobs").json()["jobs"]} == {"species"}
    with srv.client(headers=srv.auth) as c:
        stored = c.get("/v1/samples/ls-5000").json()
        assert stored["annotations"] == {"species": held["species"][0]}
        assert stored["inputs"]["bill_length_mm"] == held["bill_length_mm"][0]
        sources = c.get("/v1/samples", params={"source": "labelstudio", "limit": 500}).json()["samples"]
        assert len(sources) == HELD_BACK


def test_updated_changes_deleted_removes_and_cancelled_is_ignored(backend: tuple[Server, pd.DataFrame],
                                                                  linear_penguins_schema: Path) -> None:
    srv, held = backend
    config = label_config(compose.load_schema(linear_penguins_schema))
    task = tasks_of(held)[0]
    with srv.client(headers=srv.auth) as c:
        created = c.post("/labelstudio/webhook", json=event(
            "ANNOTATION_CREATED", task, 77, [choice("species", "Adelie"), choice("sex", "male"),
                                             choice("comment", "x")], config)).json()["result"]
        assert created["scheduled"] == ["sex", "species"] and created["ignored"] == ["comment"]
        assert c.get("/v1/samples/ls-5000").json()["annotations"] == {"species": "Adelie", "sex": "male"}
        updated = c.post("/labelstudio/webhook", json=event("ANNOTATION_UPDATED", task, 77,
                                                            [choice("species", "Gentoo")], config)).json()["result"]
        assert updated["removed"] == ["sex"] and updated["scheduled"] == ["sex", "species"]
        assert c.get("/v1/samples/ls-5000").json()["annotations"] == {"species": "Gentoo"}
        cancelled = c.post("/labelstudio/webhook", json=event("ANNOTATION_CREATED", task, 78,
                                                              [choice("species", "Chinstrap")], config,
                                                              was_cancelled=True))
        assert cancelled.status_code == 201 and cancelled.json()["result"]["scheduled"] == []
        assert c.get("/v1/samples/ls-5000").json()["annotations"] == {"species": "Gentoo"}
        # Label Studio 1.23 names only the deleted annotations' ids (ANNOTATIONS_DELETED)
        deleted = c.post("/labelstudio/webhook", json={"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 77}],
                                                       "project": {"id": 1, "label_config": config}})
        assert deleted.status_code == 201, deleted.text
        assert deleted.json()["result"] == {"removed": {"ls-5000": ["species"]}, "scheduled": ["species"]}
        assert c.get("/v1/samples/ls-5000").json()["annotations"] == {}
        bad = c.post("/labelstudio/webhook", json=event("ANNOTATION_CREATED", task, 79,
                                                        [choice("species", "Emperor")], config))
        assert bad.status_code == 422 and "'Emperor'" in bad.json()["detail"]
        other = c.post("/labelstudio/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 1}})
        assert other.status_code == 200 and other.json() == {"status": "Unknown event"}
        train = c.post("/labelstudio/webhook", json={"action": "START_TRAINING",
                                                     "project": {"id": 1, "label_config": config}})
        assert sorted(train.json()["result"]["scheduled"]) == ["island", "sex", "species"]
    ledger = sqlite3.connect(srv.store / "penguins" / "labelstudio.sqlite")
    try:
        assert ledger.execute("SELECT sample_id FROM annotations WHERE annotation_id = '77'").fetchone() == ("ls-5000",)
    finally:
        ledger.close()


def test_an_annotation_of_an_exported_task_lands_on_its_sample(backend: tuple[Server, pd.DataFrame],
                                                              linear_penguins_schema: Path) -> None:
    """A task of `compose samples --export F --format labelstudio` names its sample (`compose_id`): the
    webhook annotates that sample, and no `ls-<task id>` sample is made."""
    srv, _ = backend
    config = label_config(compose.load_schema(linear_penguins_schema))
    samples, schema = compose.open_samples(srv.store)
    with samples:
        stored = samples.frame(schema).iloc[0]
    task = {"id": 6000, "data": {**{k: stored[k] for k in schema.inputs}, "compose_id": stored["id"]}}
    task["data"] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in task["data"].items()}
    with srv.client(headers=srv.auth) as c:
        answer = c.post("/labelstudio/webhook", json=event("ANNOTATION_CREATED", task, 90,
                                                           [choice("island", "Torgersen")], config))
        assert answer.status_code == 201, answer.text
        assert answer.json()["result"]["id"] == stored["id"]
        assert c.get(f"/v1/samples/{stored['id']}").json()["annotations"]["island"] == "Torgersen"
        assert c.get("/v1/samples/ls-6000").status_code == 404
