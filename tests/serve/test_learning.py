"""Real-time learning on a real server: samples in, a retrain in a worker process, the new release out.

The stores are trained on the real penguins but the last 40 (training fills the sample store);
the rows held back are then posted to the server.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _serve import HELD_BACK, Server, rows_of, rows_of_frame, trained_on_head, wait_for_job
from fastapi.testclient import TestClient

import compose
from compose.serve import create_app


@pytest.fixture(scope="module")
def head_store(linear_penguins_schema: Path, penguins_csv: Path,
               tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("learn") / "store"
    return root, trained_on_head(linear_penguins_schema, penguins_csv, root)


def sample_rows(frame: pd.DataFrame, groups: list[str]) -> list[dict[str, Any]]:
    rows = rows_of_frame(frame)
    for row, (_, record) in zip(rows, frame.iterrows(), strict=True):
        for g in groups:
            row[g] = None if pd.isna(record[g]) else record[g]
    return rows


@pytest.fixture()
def learning(head_store: tuple[Path, pd.DataFrame], tmp_path: Path) -> Iterator[tuple[Server, pd.DataFrame]]:
    source, held = head_store
    shutil.copytree(source, tmp_path / "store")
    with Server(tmp_path / "store", "--debounce", "0.2") as srv:
        yield srv, held


def test_posted_samples_retrain_only_their_group_and_the_new_release_answers(
    learning: tuple[Server, pd.DataFrame]
) -> None:
    srv, held = learning
    with srv.client(headers=srv.auth) as c:
        before = c.get("/v1/model").json()
        assert before["release"] == "r0001"
        posted = c.post("/v1/samples", json={"rows": sample_rows(held, ["species"])})
        assert posted.status_code == 200, posted.text
        body = posted.json()
        assert len(body["ids"]) == HELD_BACK and body["new_samples"] == HELD_BACK
        assert body["added"] == {"species": HELD_BACK} and body["scheduled"] == ["species"]
        job = wait_for_job(c, "species")
        assert job["status"] == "released", job
        assert job["gate"]["passed"] is True and job["gate"]["metric"] == "accuracy"
        assert job["version"] == 2 and job["from_release"] == "r0001" and job["retrained"] == ["species"]
        assert job["n_train"] + job["n_holdout"] == 344  # a row is a sample: every labelled penguin
        assert c.get(f"/v1/jobs/{job['id']}").json() == job
        srv.wait_until("/readyz")
        deadline = time.monotonic() + 20
        while c.get("/readyz").json()["release"] != job["release"] and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = c.post("/v1/predict", json={"rows": rows_of_frame(held.head(3))}).json()["results"]
        assert {r["release"] for r in answer} == {job["release"]}
        assert {(r["groups"]["species"]["version"], r["groups"]["island"]["version"], r["groups"]["sex"]["version"])
                for r in answer} == {(2, 1, 1)}  # only the touched group has a new version
        after = c.get("/v1/model").json()
        assert after["groups"]["species"]["n_train"] > before["groups"]["species"]["n_train"]
        assert c.get("/v1/jobs").json()["pending"] == []
    srv.stop()
    assert not srv.left_behind  # SIGTERM ends the worker process and its resource tracker too


def test_samples_conflicts_annotations_and_the_review_list(learning: tuple[Server, pd.DataFrame]) -> None:
    srv, held = learning
    row = rows_of_frame(held.head(1))[0]
    with srv.client() as anonymous:
        assert anonymous.post("/v1/samples", json={"rows": [row]}).status_code == 401
        assert anonymous.get("/v1/samples").status_code == 401
    with srv.client(headers=srv.auth) as c:
        sid = c.post("/v1/samples", json={"rows": [{**row, "species": "Adelie"}]}).json()["ids"][0]
        # a row without an id is a new sample, even with the inputs of a stored one (a Nyckel sample)
        twin = c.post("/v1/samples", json={"rows": [{**row, "species": "Gentoo"}]})
        assert twin.status_code == 200 and twin.json()["ids"] == [sid + "-2"] and twin.json()["new_samples"] == 1
        conflict = c.post("/v1/samples", json={"rows": [{**row, "id": sid, "species": "Gentoo"}]})
        assert conflict.status_code == 409 and conflict.json()["id"] == sid  # a stored id with another label
        assert "Adelie" in conflict.json()["detail"] and "Gentoo" in conflict.json()["detail"]
        extra = c.post("/v1/samples", json={"rows": [{**row, "id": sid, "specis": "Adelie", "score": 3}]})
        assert extra.status_code == 200 and extra.json()["revision"] is None  # nothing new: the same sample
        assert extra.json()["notes"] and "['score', 'specis']" in extra.json()["notes"][0]  # ignored, said so
        bad = c.post("/v1/samples", json={"rows": [{**row, "species": "Emperor"}]})
        assert bad.status_code == 422 and "'Emperor'" in bad.json()["detail"] and "row 1" in bad.json()["detail"]

        changed = c.put(f"/v1/samples/{sid}/annotations/species", json={"value": "Gentoo"})
        assert changed.status_code == 200 and changed.json()["annotation"] == "Gentoo"
        assert changed.json()["scheduled"] == ["species"]
        review = c.get("/v1/samples", params={"group": "species", "disagrees": "true"}).json()["samples"]
        mine = [s for s in review if s["id"] == sid]
        truth = held["species"][0]  # Chinstrap: the live model knows it
        assert mine and mine[0]["prediction"]["label"] == truth and mine[0]["annotations"]["species"] == "Gentoo"
        assert all(s["prediction"]["label"] != s["annotations"]["species"] for s in review)

        removed = c.delete(f"/v1/samples/{sid}/annotations/species")
        assert removed.status_code == 200 and removed.json()["annotation"] is None
        unannotated = c.get("/v1/samples", params={"group": "species", "annotated": "false", "limit": 500}).json()
        assert sid in {s["id"] for s in unannotated["samples"]}
        assert c.get("/v1/samples/nope").status_code == 404
        assert c.put("/v1/samples/nope/annotations/species", json={"value": "Adelie"}).status_code == 404
        assert c.put(f"/v1/samples/{sid}/annotations/colour", json={"value": "x"}).status_code == 404
        assert c.get("/v1/jobs/j9999").status_code == 404


def test_no_learn_refuses_writes_and_capture_stores_predicted_rows(linear_penguins_store: Path, tmp_path: Path,
                                                                   penguins_csv: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(linear_penguins_store, store)
    row = {**rows_of(penguins_csv)[0], "bill_length_mm": 77.7}  # a penguin the store has not seen
    token = "t" * 20
    with TestClient(create_app(store, token=token, learn=False, capture=True)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        refused = client.post("/v1/samples", json={"rows": [{**row, "species": "Adelie"}]}, headers=auth)
        assert refused.status_code == 403 and "--no-learn" in refused.json()["detail"]
        assert client.post("/v1/predict", json={"rows": [row]}).status_code == 200
        deadline = time.monotonic() + 20
        captured: list[dict[str, Any]] = []
        while not captured and time.monotonic() < deadline:
            captured = client.get("/v1/samples", params={"source": "capture"}, headers=auth).json()["samples"]
            time.sleep(0.05)
    assert [s["source"] for s in captured] == ["capture"] and captured[0]["annotations"] == {}
    assert captured[0]["inputs"]["bill_length_mm"] == 77.7


def test_kill_9_during_a_retrain_keeps_the_previous_release_and_every_accepted_sample(
    penguins_schema_path: Path, penguins_csv: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    held = trained_on_head(penguins_schema_path, penguins_csv, store)  # island: a 200-tree forest
    srv = Server(store, "--debounce", "0")
    with srv, srv.client(headers=srv.auth) as c:
        ids = c.post("/v1/samples", json={"rows": sample_rows(held, ["island"])}).json()["ids"]
        job = wait_for_job(c, "island", done=False)
        while job["status"] == "scheduled":
            job = wait_for_job(c, "island", done=False)
        assert job["status"] == "running"
        srv.kill9()  # the server and its worker process, in the middle of the fit
    releases = sorted(p.stem for p in (store / "penguins" / "releases").glob("r*.json"))
    assert releases == ["r0001"], "the job finished before the kill; the test did not hit a retrain"
    restarted = Server(store, "--debounce", "30")  # the resumed job waits: the test reads the state first
    with restarted, restarted.client(headers=restarted.auth) as c:
        assert c.get("/readyz").json()["release"] == "r0001"
        for sid in ids:
            sample = c.get(f"/v1/samples/{sid}")
            assert sample.status_code == 200 and sample.json()["annotations"].get("island"), sid
        assert c.get("/v1/jobs").json()["pending"] == ["island"]  # the interrupted retrain is scheduled again
        predicted = c.post("/v1/predict", json={"rows": rows_of_frame(held.head(2))}).json()["results"]
        assert {r["release"] for r in predicted} == {"r0001"}
    assert (store / "penguins" / "CURRENT").read_text().strip() == "r0001"
    assert compose.verify_store(store).ok  # no half-written version or release was left behind


def test_a_dead_worker_process_fails_its_job_and_the_next_job_runs_in_a_new_one(
    head_store: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    source, held = head_store
    shutil.copytree(source, tmp_path / "store")
    token = "t" * 20
    app = create_app(tmp_path / "store", token=token, debounce=0)
    learner = app.state.compose.learner

    def worker(other_than: int | None = None) -> int:
        deadline = time.monotonic() + 60
        while (pid := learner.worker_pid) in (None, other_than):
            assert time.monotonic() < deadline, "no worker process started within 60s"
            time.sleep(0.05)
        return int(pid)

    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        first = worker()
        os.kill(first, signal.SIGKILL)  # the worker dies between two jobs (an out-of-memory kill, say)
        rows = sample_rows(held, ["species"])
        assert c.post("/v1/samples", json={"rows": rows[:20]}).status_code == 200
        failed = wait_for_job(c, "species")
        assert failed["status"] == "failed" and "worker process" in failed["error"], failed
        second = worker(other_than=first)  # a new worker process, found by the exception's type
        assert c.post("/v1/samples", json={"rows": rows[20:]}).status_code == 200
        deadline = time.monotonic() + 120
        while (job := wait_for_job(c, "species"))["id"] == failed["id"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["status"] == "released", job
        assert learner.worker_pid == second


def test_a_job_record_is_updated_only_with_its_own_fields_and_values() -> None:
    from pydantic import ValidationError

    from compose.serve.messages import Job

    job = Job(id="j0001", group="sex")
    assert (job.updated(status="released", version=2).version, job.status) == (2, "scheduled")
    with pytest.raises(ValidationError, match="statuss"):
        job.updated(statuss="released")
    with pytest.raises(ValidationError, match="status"):
        job.updated(status="done")


def test_the_worker_fills_in_the_job_record_of_a_failed_retrain(tmp_path: Path) -> None:
    from compose.serve.messages import Job
    from compose.serve.worker import retrain_group

    done = retrain_group(str(tmp_path / "nothing"), Job(id="j0001", group="sex"))
    assert (done.id, done.group, done.status, bool(done.error), done.seconds is not None) == (
        "j0001", "sex", "failed", True, True)
