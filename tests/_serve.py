"""A real `compose serve` for the tests: uvicorn in a subprocess on 127.0.0.1 at a free port, and its stores.

`Server` starts `python -m compose serve ...` in its own process group, waits (bounded) for
`/readyz` (or `/healthz` when asked), and on exit stops the whole group: SIGTERM, then SIGKILL
after a grace period, so no process outlives the test.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pandas as pd

import compose

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT = 90.0  # the first import of scikit-learn on a busy 2-core machine is slow


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`with Server(store) as srv:` gives `srv.url`, `srv.client()` and `srv.auth` (the bearer header)."""

    def __init__(self, store: Path, *args: str, token: str | None = TOKEN, ready: bool = True,
                 poll_interval: float = 0.1, log: Path | None = None) -> None:
        self.store, self.args, self.token, self.ready = store, list(args), token, ready
        self.poll_interval = poll_interval
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log or store.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.left_behind = False  # a process of the server's group outlived a graceful stop

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if k != "COMPOSE_SERVE_TOKEN"}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if self.token:
            env["COMPOSE_SERVE_TOKEN"] = self.token
        cmd = [sys.executable, "-m", "compose", "serve", "--store", str(self.store), "--port", str(self.port),
               "--poll-interval", str(self.poll_interval), *self.args]
        with self.log_path.open("ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                         start_new_session=True)
        self.wait_until("/readyz" if self.ready else "/healthz")
        return self

    def wait_until(self, path: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"compose serve exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"compose serve did not answer {path} within {timeout:.0f}s:\n{self.log()}")

    def kill9(self) -> None:
        """SIGKILL the whole process group (the server and any worker it started) and reap it."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
            deadline = time.monotonic() + 5  # the worker and resource tracker end with the server
            while self._group_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.left_behind = self._group_alive()
        with contextlib.suppress(ProcessLookupError):  # anything left behind by the server
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def _group_alive(self) -> bool:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def __enter__(self) -> Server:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def rows_of(csv: Path) -> list[dict[str, Any]]:
    """The input rows of a CSV as JSON values (an empty cell is null), as a client would send them."""
    frame = pd.read_csv(csv)
    inputs = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame[inputs].to_dict(orient="records")]


# The penguins helpers of the learning tests (tests/serve/test_learning.py, tests/labelstudio/).
HELD_BACK = 40
INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def trained_on_head(schema: Path, penguins_csv: Path, root: Path) -> pd.DataFrame:
    """Train `schema` on all but the last HELD_BACK penguins into the store `root` (its sample store
    then holds those rows); return the rows held back."""
    frame = pd.read_csv(penguins_csv)
    compose.train(schema, frame.iloc[:-HELD_BACK].reset_index(drop=True), store=root, n_jobs=1)
    return frame.iloc[-HELD_BACK:].reset_index(drop=True)


def rows_of_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in frame[INPUTS].to_dict(orient="records")]


def wait_for_job(c: httpx.Client, group: str, timeout: float = 120.0, done: bool = True) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = c.get("/v1/jobs", params={"group": group}).json()["jobs"]
        if jobs and (not done or jobs[0]["status"] in ("released", "refused", "failed")):
            return jobs[0]
        time.sleep(0.02 if not done else 0.1)
    raise AssertionError(f"no {'finished ' if done else ''}job for {group} within {timeout:.0f}s")
