"""compose serve as the ML backend of a real Label Studio (1.23) on 127.0.0.1 with SQLite.

Label Studio pins older numpy, pyarrow and python-dateutil than compose, so it lives in its own venv:
set LABEL_STUDIO_BIN to its `label-studio` executable (or put one on PATH). Without one this test is
skipped and says so. A first start migrates a new SQLite database: about two minutes on 2 cores.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _serve import Server, free_port, rows_of_frame, trained_on_head

import compose
from compose.labelstudio import label_config

LS_BIN = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
LS_TOKEN = "0123456789abcdef0123456789abcdef01234567"
LS_START_TIMEOUT = 300.0
pytestmark = pytest.mark.skipif(LS_BIN is None, reason="no label-studio executable: install label-studio==1.23.* "
                                                       "into its own venv and set LABEL_STUDIO_BIN to its "
                                                       "bin/label-studio")


@contextlib.contextmanager
def label_studio(data_dir: Path) -> Iterator[httpx.Client]:
    """A real Label Studio in its own process group on a free loopback port; stopped (the group) on exit."""
    assert LS_BIN is not None
    port = free_port()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir), "SSRF_PROTECTION_ENABLED": "false",
           "ML_BLOCK_LOCAL_IP": "false", "COLLECT_ANALYTICS": "0", "WEBHOOK_TIMEOUT": "10"}
    log = data_dir / "label-studio.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen([LS_BIN, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                                 "--username", "admin@example.com", "--password", "compose-e2e-pass",
                                 "--enable-legacy-api-token", "--user-token", LS_TOKEN],
                                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + LS_START_TIMEOUT
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"Label Studio did not start in {LS_START_TIMEOUT:.0f}s"
            time.sleep(1)
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {LS_TOKEN}"}, timeout=60) as client:
            yield client
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text[:500]}"
    return response.json() if response.content else None


def test_label_studio_pre_annotates_with_compose_and_its_annotations_reach_the_sample_store(
    linear_penguins_schema: Path, penguins_csv: Path, tmp_path: Path
) -> None:
    held: pd.DataFrame = trained_on_head(linear_penguins_schema, penguins_csv, tmp_path / "store")
    config = label_config(compose.load_schema(linear_penguins_schema))
    (tmp_path / "ls").mkdir()
    with Server(tmp_path / "store", "--debounce", "0.2") as srv, label_studio(tmp_path / "ls") as ls:
        assert srv.token is not None
        project = ok(ls.post("/api/projects/", json={"title": "penguins", "label_config": config}))
        ok(ls.post("/api/ml/", json={"project": project["id"], "url": f"{srv.url}/labelstudio", "title": "compose",
                                     "auth_method": "BASIC_AUTH", "basic_auth_user": "labelstudio",
                                     "basic_auth_pass": srv.token}))
        hooks = ok(ls.get("/api/webhooks/", params={"project": project["id"]}))
        hook = next(h for h in hooks if h["url"] == f"{srv.url}/labelstudio/webhook")
        ok(ls.patch(f"/api/webhooks/{hook['id']}/", json={"headers": {"Authorization": f"Bearer {srv.token}"}}))
        ok(ls.post(f"/api/projects/{project['id']}/import", json=[{"data": r} for r in rows_of_frame(held.head(3))]))
        tasks = ok(ls.get("/api/tasks/", params={"project": project["id"]}))
        tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
        ok(ls.post("/api/dm/actions", params={"id": "retrieve_tasks_predictions", "project": project["id"]},
                   json={"selectedItems": {"all": True, "excluded": []}}))
        task = ok(ls.get(f"/api/tasks/{tasks[0]['id']}/"))
        expected = compose.load(tmp_path / "store" / "penguins").predict(rows_of_frame(held.head(1)))[0]
        predicted = {r["from_name"]: r["value"]["choices"] for r in task["predictions"][0]["result"]}
        assert predicted == {g: [a["label"]] for g, a in expected["groups"].items() if a.get("label")}
        assert task["predictions"][0]["model_version"] == "r0001"

        ok(ls.post(f"/api/tasks/{task['id']}/annotations/", json={"result": [
            {"from_name": "species", "to_name": "bill_length_mm", "type": "choices",
             "value": {"choices": [str(held["species"][0])]}}]}))
        with srv.client(headers=srv.auth) as c:
            deadline = time.monotonic() + 30
            while c.get(f"/v1/samples/ls-{task['id']}").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            stored = ok(c.get(f"/v1/samples/ls-{task['id']}"))
            assert stored["annotations"] == {"species": held["species"][0]}
            basic = "Basic " + base64.b64encode(f"x:{srv.token}".encode()).decode()
            assert c.get("/labelstudio/health", headers={"Authorization": basic}).status_code == 200
