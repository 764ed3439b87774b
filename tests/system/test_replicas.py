"""Several `compose serve` replicas on one store and one sample database (a real PostgreSQL server):
a sample posted to one is stored once and answered by the other, its retrain runs once and every
replica swaps to the new release; a replica killed during its job lease is taken over by another."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _serve import Server

import compose

HELD_BACK = 40
INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _rows(frame: pd.DataFrame, groups: list[str]) -> list[dict[str, Any]]:
    return [{str(k): (None if pd.isna(v) else v) for k, v in r.items()}
            for r in frame[[*INPUTS, *groups]].to_dict(orient="records")]


def _job(c: httpx.Client, group: str, timeout: float, statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = c.get("/v1/jobs", params={"group": group}).json()["jobs"]
        if jobs and jobs[0]["status"] in statuses:
            return dict(jobs[0])
        time.sleep(0.05)
    raise AssertionError(f"no job of {group} in {statuses} within {timeout:.0f}s")


@pytest.fixture()
def shared(tmp_path: Path, penguins_csv: Path, postgres_server: Any,
           monkeypatch: pytest.MonkeyPatch) -> tuple[Path, pd.DataFrame]:
    """A store trained on all but the last 40 penguins, its samples in a fresh PostgreSQL database
    (COMPOSE_SAMPLES, which the replicas inherit); the rows held back."""
    monkeypatch.setenv("COMPOSE_SAMPLES", postgres_server.database())
    monkeypatch.setenv("COMPOSE_SERVE_LEASE", "2")  # renewed every 0.7 s; taken over 2 s after its holder died
    frame = pd.read_csv(penguins_csv)
    return tmp_path / "store", frame.iloc[-HELD_BACK:].reset_index(drop=True)


def _train(schema: Path, penguins_csv: Path, store: Path) -> None:
    frame = pd.read_csv(penguins_csv)
    compose.train(schema, frame.iloc[:-HELD_BACK].reset_index(drop=True), store=store, n_jobs=1)


def test_a_post_to_one_replica_is_stored_once_retrained_once_and_answered_by_both(
        shared: tuple[Path, pd.DataFrame], linear_penguins_schema: Path, penguins_csv: Path) -> None:
    store, held = shared
    _train(linear_penguins_schema, penguins_csv, store)
    assert not list(store.rglob("samples.sqlite"))
    with Server(store, "--debounce", "0.2") as a, Server(store, "--debounce", "0.2") as b, \
            a.client(headers=a.auth) as ca, b.client(headers=b.auth) as cb:
        posted_at = time.monotonic()
        body = ca.post("/v1/samples", json={"rows": _rows(held, ["species"])}).json()
        assert body["new_samples"] == HELD_BACK
        assert cb.get(f"/v1/samples/{body['ids'][0]}").json()["annotations"]["species"] == held["species"][0]
        job = _job(ca, "species", 120, ("released", "refused", "failed"))
        assert job["status"] == "released", job
        released = time.monotonic()
        while cb.get("/readyz").json()["release"] != job["release"]:
            assert time.monotonic() - released < 5, "replica B did not swap to the new release within 5 s"
            time.sleep(0.02)
        print(f"post on A -> B answers {job['release']}: {time.monotonic() - posted_at:.2f} s "
              f"(B swapped {time.monotonic() - released:.2f} s after A's job ended)")
        assert cb.get("/v1/jobs", params={"group": "species"}).json()["jobs"] == []  # it ran once, on A
        # a repost of the same rows to B: the same samples, nothing to retrain
        again = cb.post("/v1/samples", json={"rows": [{**r, "id": i} for r, i in
                                                      zip(_rows(held, ["species"]), body["ids"], strict=True)]})
        assert again.json()["new_samples"] == 0
    releases = sorted(p.stem for p in (store / "penguins" / "releases").glob("r*.json"))
    assert releases == ["r0001", "r0002"]


def test_a_replica_killed_during_its_job_lease_is_taken_over(
        shared: tuple[Path, pd.DataFrame], penguins_schema_path: Path, penguins_csv: Path) -> None:
    store, held = shared
    _train(penguins_schema_path, penguins_csv, store)  # island: a 200-tree forest, a fit long enough to kill
    with Server(store, "--debounce", "30") as b, b.client(headers=b.auth) as cb:  # B waits: A posts
        a = Server(store, "--debounce", "0")
        with a, a.client(headers=a.auth) as ca:
            ca.post("/v1/samples", json={"rows": _rows(held, ["island"])}).raise_for_status()
            _job(ca, "island", 60, ("running",))
            a.kill9()  # A and its worker process, in the middle of the fit, holding the lease
        assert sorted(p.stem for p in (store / "penguins" / "releases").glob("r*.json")) == ["r0001"], \
            "the job finished before the kill; the test did not hit a retrain"
        job = _job(cb, "island", 120, ("released", "refused", "failed"))  # B took the expired lease over
        assert job["status"] == "released", job
        assert cb.get("/readyz").json()["release"] == job["release"] == "r0002"
        assert "(its lease expired); taking it over" in b.log()
