"""compose serve as the ML backend of a real Label Studio (1.23) on 127.0.0.1 with SQLite: `make e2e`.

Label Studio pins older numpy, pyarrow and python-dateutil than compose, so it lives in its own venv
(`make e2e` makes `.e2e-venv` and sets LABEL_STUDIO_BIN to its `label-studio`; tests/_labelstudio.py).
Without one this test is skipped and says so.

One run, as a labelling team would go: a project with the config of `compose labelstudio config`,
`compose serve` connected as its ML backend (Basic auth), the 40 penguins the model was not trained
on imported as tasks, their predictions retrieved as pre-annotations, then annotations submitted
with the SDK (one of them cancelled). The species group, and only it, retrains and its new release
pre-annotates in Label Studio. Last, the project exported as JSON, JSON_MIN and CSV (SDK), each
imported with `compose samples --import`: the same samples the webhook stored, with their labels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _labelstudio import LS_BIN, label_studio, ok, project, sdk
from _serve import HELD_BACK, Server, rows_of_frame, trained_on_head

import compose
from compose.cli.main import main

pytestmark = pytest.mark.skipif(LS_BIN is None, reason="no label-studio executable: run `make e2e` (it installs "
                                                       "label-studio==1.23.* into .e2e-venv and sets LABEL_STUDIO_BIN)")


def connect(ls: httpx.Client, srv: Server, pid: int) -> None:
    """compose serve as the project's ML backend, and the token on the webhook Label Studio makes for it."""
    assert srv.token is not None
    ok(ls.post("/api/ml/", json={"project": pid, "url": f"{srv.url}/labelstudio", "title": "compose",
                                 "auth_method": "BASIC_AUTH", "basic_auth_user": "labelstudio",
                                 "basic_auth_pass": srv.token}))
    hooks = ok(ls.get("/api/webhooks/", params={"project": pid}))
    hook = next(h for h in hooks if h["url"] == f"{srv.url}/labelstudio/webhook")
    ok(ls.patch(f"/api/webhooks/{hook['id']}/", json={"headers": {"Authorization": f"Bearer {srv.token}"}}))


def predictions_of(ls: httpx.Client, pid: int, task_id: int) -> list[dict[str, Any]]:
    ok(ls.post("/api/dm/actions", params={"id": "retrieve_tasks_predictions", "project": pid},
               json={"selectedItems": {"all": False, "included": [task_id]}}))
    found: list[dict[str, Any]] = ok(ls.get(f"/api/tasks/{task_id}/"))["predictions"]
    return found


def chosen(prediction: dict[str, Any]) -> dict[str, list[str]]:
    return {r["from_name"]: r["value"]["choices"] for r in prediction["result"]}


def wait(check: Any, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout:.0f}s")


def test_label_studio_pre_annotates_with_compose_learns_from_its_annotations_and_its_exports_are_samples(
    linear_penguins_schema: Path, penguins_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held: pd.DataFrame = trained_on_head(linear_penguins_schema, penguins_csv, tmp_path / "store")
    config_file = tmp_path / "penguins.xml"
    assert main(["-q", "labelstudio", "config", str(linear_penguins_schema), "--out", str(config_file)]) == 0
    model = compose.load(tmp_path / "store" / "penguins")
    with Server(tmp_path / "store", "--debounce", "4") as srv, label_studio(tmp_path / "ls") as ls:
        pid, tasks = project(ls, "penguins", config_file.read_text(encoding="utf-8"), rows_of_frame(held))
        assert len(tasks) == HELD_BACK
        connect(ls, srv, pid)

        # pre-annotations: what compose predicts for the task's row, from the live release
        expected = model.predict(rows_of_frame(held.head(3))).to_list()
        for task_id, want in zip(tasks[:3], expected, strict=True):
            (pred,) = predictions_of(ls, pid, task_id)
            assert chosen(pred) == {g: [a["label"]] for g, a in want["groups"].items() if a.get("label")}
            assert pred["model_version"] == "r0001" and pred["score"] == pytest.approx(
                min(a["confidence"] for a in want["groups"].values() if a.get("label")), abs=1e-6)

        annotate(ls, srv, tasks, held)
        release = retrained(srv, held)
        # the new release pre-annotates in Label Studio
        fresh = wait(lambda: [p for p in predictions_of(ls, pid, tasks[-1]) if p["model_version"] == release],
                     f"no prediction of {release} in Label Studio", timeout=60)
        assert chosen(fresh[0]) == {g: [a["label"]] for g, a in
                                    compose.load(srv.store / "penguins").predict(rows_of_frame(held.tail(1)))[0]
                                    ["groups"].items() if a.get("label")}
        exports = {f: tmp_path / f"export.{f.lower()}.{'csv' if f == 'CSV' else 'json'}"
                   for f in ("JSON", "JSON_MIN", "CSV")}
        sdk(ls, [{"op": "export", "project": pid, "format": f, "out": str(p)} for f, p in exports.items()])
    assert not srv.left_behind
    imported(exports, tasks, held, tmp_path, linear_penguins_schema, capsys)


def annotate(ls: httpx.Client, srv: Server, tasks: list[int], held: pd.DataFrame) -> None:
    """Every task annotated with its real species through the SDK; the first also cancelled once first."""
    ops: list[dict[str, Any]] = [{"op": "annotate", "task": tasks[0], "result": [], "was_cancelled": True}]
    ops += [{"op": "annotate", "task": t, "result": [
        {"id": f"sp{t}", "from_name": "species", "to_name": "bill_length_mm", "type": "choices", "origin": "manual",
         "value": {"choices": [str(held["species"][i])]}}]} for i, t in enumerate(tasks)]
    made = sdk(ls, ops)
    assert [a["was_cancelled"] for a in made] == [True] + [False] * len(tasks)
    with srv.client(headers=srv.auth) as c:
        def stored() -> bool:
            page = c.get("/v1/samples", params={"source": "labelstudio", "limit": 500}).json()["samples"]
            return len(page) == len(tasks) and all(s["annotations"] for s in page)

        wait(stored, "the webhook did not store every annotated task")
        sample = ok(c.get(f"/v1/samples/ls-{tasks[0]}"))
        assert sample["annotations"] == {"species": held["species"][0]}
        assert sample["inputs"]["bill_length_mm"] == pytest.approx(held["bill_length_mm"][0])


def retrained(srv: Server, held: pd.DataFrame) -> str:
    """The touched group (species) retrains, only it, and the new release answers: its name."""
    with srv.client(headers=srv.auth) as c:
        def idle() -> list[dict[str, Any]] | None:
            body = c.get("/v1/jobs").json()
            done = [j for j in body["jobs"] if j["status"] in ("released", "refused", "failed")]
            return done if done and not body["pending"] and len(done) == len(body["jobs"]) else None

        jobs = wait(idle, "the learner did not finish its jobs", timeout=180)
        assert {g for j in jobs for g in j["retrained"]} == {"species"}, jobs
        released = [j for j in jobs if j["status"] == "released"]
        assert released, jobs
        release = released[0]["release"]
        wait(lambda: c.get("/readyz").json()["release"] == release, f"{release} did not go live", timeout=30)
        answer = c.post("/v1/predict", json={"rows": rows_of_frame(held.head(3))}).json()["results"]
        assert {r["release"] for r in answer} == {release}
        assert {(r["groups"]["species"]["version"], r["groups"]["island"]["version"],
                 r["groups"]["sex"]["version"]) for r in answer} == {(released[0]["version"], 1, 1)}
        return str(release)


def imported(exports: dict[str, Path], tasks: list[int], held: pd.DataFrame, tmp_path: Path, schema: Path,
             capsys: pytest.CaptureFixture[str]) -> None:
    """Each export, imported into a new sample store, gives the tasks as samples with their species;
    imported into the served store, it is what the webhook stored already (nothing new, nothing changed)."""
    want = {f"ls-{t}": {"species": str(held["species"][i])} for i, t in enumerate(tasks)}
    for kind, path in exports.items():
        fresh = tmp_path / f"fresh-{kind}"
        assert main(["samples", "--store", str(fresh), "--schema", str(schema), "--import", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"a Label Studio {kind.replace('_', '-')} export of {len(tasks)} tasks" in out, out
        assert f"mapped (each control to the group it names): species {len(tasks)}" in out, out
        if kind == "JSON":
            assert f"1 cancelled annotation (task {tasks[0]})" in out, out
        samples, _ = compose.open_samples(fresh)
        with samples:
            assert {s.id: s.annotations for s in samples.samples(limit=500).samples} == want
        assert main(["samples", "--store", str(tmp_path / "store"), "--import", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"{len(tasks)} rows, 0 new samples, {len(tasks)} already stored" in out and "; changed" not in out, out
