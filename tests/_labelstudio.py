"""A real Label Studio (1.23) for the end-to-end test and the export fixtures: started on a free
loopback port with SQLite under a given folder, in its own process group, stopped (the group) on exit.

Label Studio pins older numpy, pyarrow and python-dateutil than compose, so it lives in its own venv
(`make e2e` makes `.e2e-venv`): LABEL_STUDIO_BIN is its `label-studio` executable, LABEL_STUDIO_PYTHON
its Python (default: the `python` beside LABEL_STUDIO_BIN), which runs the SDK calls
(tests/labelstudio/sdk_ops.py). A first start migrates a new SQLite database: about two minutes on
2 cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _serve import free_port

LS_BIN = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
LS_PYTHON = os.environ.get("LABEL_STUDIO_PYTHON") or (str(Path(LS_BIN).with_name("python")) if LS_BIN else None)
LS_TOKEN = "0123456789abcdef0123456789abcdef01234567"
LS_START_TIMEOUT = 300.0
SDK_OPS = Path(__file__).resolve().parent / "labelstudio" / "sdk_ops.py"


@contextlib.contextmanager
def label_studio(data_dir: Path) -> Iterator[httpx.Client]:
    """A client of a running Label Studio (its legacy token set), whose data lives in `data_dir`."""
    assert LS_BIN is not None, "set LABEL_STUDIO_BIN to a label-studio executable"
    data_dir.mkdir(parents=True, exist_ok=True)
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


def sdk(ls: httpx.Client, ops: list[dict[str, Any]]) -> list[Any]:
    """Run SDK operations (tests/labelstudio/sdk_ops.py) with Label Studio's own Python."""
    assert LS_PYTHON is not None and Path(LS_PYTHON).exists(), f"no Python of Label Studio's venv at {LS_PYTHON}"
    done = subprocess.run([LS_PYTHON, str(SDK_OPS), str(ls.base_url).rstrip("/"), LS_TOKEN], input=json.dumps(ops),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"sdk_ops.py failed ({done.returncode}):\n{done.stderr[-3000:]}"
    results: list[Any] = json.loads(done.stdout)
    return results


def project(ls: httpx.Client, title: str, config: str, rows: list[dict[str, Any]]) -> tuple[int, list[int]]:
    """A new project with `config` and one task per row; its id and the tasks' ids (in row order)."""
    made = ok(ls.post("/api/projects/", json={"title": title, "label_config": config}))
    ok(ls.post(f"/api/projects/{made['id']}/import", json=[{"data": r} for r in rows]))
    tasks = ok(ls.get("/api/tasks/", params={"project": made["id"], "page_size": 1000}))
    tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
    return int(made["id"]), sorted(int(t["id"]) for t in tasks)
