"""Release swaps under load on a real server: 0 errors, and no response mixes two releases."""

from __future__ import annotations

import json
import random
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serve import Server, rows_of

import compose
from compose.cli.main import main

REQUESTS = 2000
CLIENTS = 8


@pytest.fixture()
def two_releases(linear_penguins_store: Path, linear_penguins_schema: Path, penguins_csv: Path, tmp_path: Path) -> Path:
    """A store whose live release r0002 pins species v0002 (a forced retrain); r0001 pins v0001."""
    store = tmp_path / "store"
    shutil.copytree(linear_penguins_store, store)
    compose.retrain(linear_penguins_schema, penguins_csv, store, group="species", force=True, n_jobs=1)
    return store


def pins(store: Path) -> dict[str, dict[str, int]]:
    folder = store / "penguins" / "releases"
    return {p.stem: {g: pin["version"] for g, pin in json.loads(p.read_text())["groups"].items()}
            for p in folder.glob("r*.json")}


class Load:
    """CLIENTS threads, each with its own httpx client, sending REQUESTS one-row predictions in all."""

    def __init__(self, srv: Server, rows: list[dict[str, Any]]) -> None:
        self.srv, self.rows = srv, rows
        self.seen: list[tuple[str, dict[str, int]]] = []
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.done = 0
        self.lock = threading.Lock()

    def client(self, seed: int) -> None:
        pick = random.Random(seed)
        with self.srv.client() as c:
            for _ in range(REQUESTS // CLIENTS):
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/predict", json={"rows": [pick.choice(self.rows)]})
                    body = r.json()
                except (httpx.HTTPError, ValueError) as exc:
                    with self.lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.done += 1
                    self.latencies.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        self.errors.append(f"{r.status_code}: {r.text[:200]}")
                        continue
                    self.seen.extend((res["release"], {g: d["version"] for g, d in res["groups"].items()})
                                     for res in body["results"])

    def run(self, side: threading.Thread) -> float:
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(CLIENTS)]
        t0 = time.perf_counter()
        for t in [*threads, side]:
            t.start()
        for t in [*threads, side]:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in [*threads, side])
        return time.perf_counter() - t0


def test_a_release_swap_under_load_has_no_errors_and_mixes_no_releases(
    two_releases: Path, penguins_csv: Path
) -> None:
    swapped = threading.Event()
    with Server(two_releases) as srv:
        load = Load(srv, rows_of(penguins_csv))

        def swap() -> None:  # a release made by the CLI, from another thread, a quarter of the way in
            deadline = time.monotonic() + 120
            while load.done < REQUESTS // 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert main(["-q", "rollback", "--store", str(two_releases), "--group", "species", "--to", "v0001"]) == 0
            swapped.set()

        wall = load.run(threading.Thread(target=swap))
        final = srv.client().get("/v1/model").json()["release"]

    assert swapped.is_set()
    assert load.errors == []
    assert len(load.seen) == REQUESTS
    releases = pins(two_releases)
    assert [(name, v) for name, v in load.seen if v != releases[name]] == []  # versions = the named release's pins
    names = [name for name, _ in load.seen]
    assert set(names) == {"r0002", "r0003"} and final == "r0003"
    assert releases["r0002"]["species"] == 2 and releases["r0003"]["species"] == 1
    assert names[names.index("r0003"):].count("r0002") <= CLIENTS  # only requests already in flight finish on r0002
    ms = sorted(x * 1000 for x in load.latencies)
    print(f"\nload test: {REQUESTS} requests, {CLIENTS} clients, {wall:.1f}s ({REQUESTS / wall:.0f} req/s), "
          f"{len(load.errors)} errors, p50 {statistics.median(ms):.1f} ms, p99 {ms[int(0.99 * len(ms)) - 1]:.1f} ms, "
          f"releases {sorted(set(names))}")


def test_a_store_without_a_release_is_not_ready_until_one_appears(linear_penguins_store: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with Server(root, "--model", "penguins", token=None, ready=False) as srv, srv.client() as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "no release" in ready.json()["reason"]
        predict = c.post("/v1/predict", json={"rows": []})
        assert predict.status_code == 503 and predict.headers["retry-after"] == "1"
        refused = c.post("/v1/reload", headers={"Authorization": "Bearer " + "y" * 20})
        assert refused.status_code == 401 and refused.json()["error"] == "read_only"
        shutil.copytree(linear_penguins_store / "penguins", root / "penguins")  # a release appears (as a train would)
        srv.wait_until("/readyz", timeout=30)
        assert c.get("/v1/model").json()["release"] == "r0001"


def rows_ok(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


@pytest.fixture()
def served(two_releases: Path) -> Iterator[Server]:
    with Server(two_releases) as srv:
        yield srv


def test_a_release_made_by_the_cli_is_picked_up_and_old_ones_can_be_pinned(
    served: Server, penguins_csv: Path
) -> None:
    row = rows_of(penguins_csv)[:3]
    with served.client() as c:
        assert {r["release"] for r in rows_ok(c.post("/v1/predict", json={"rows": row}))} == {"r0002"}
        assert main(["-q", "rollback", "--store", str(served.store), "--to-release", "r0001"]) == 0
        deadline = time.monotonic() + 20
        while c.get("/readyz").json()["release"] != "r0001" and time.monotonic() < deadline:
            time.sleep(0.05)
        live = rows_ok(c.post("/v1/predict", json={"rows": row}))
        assert {r["release"] for r in live} == {"r0001"}
        assert {r["groups"]["species"]["version"] for r in live} == {1}
        pinned = rows_ok(c.post("/v1/predict", json={"rows": row, "release": "r0002"}))
        assert {r["release"] for r in pinned} == {"r0002"}
        assert {r["groups"]["species"]["version"] for r in pinned} == {2}
