"""The fit executors' workers: killing `compose train` (SIGTERM or SIGKILL) while its fits run leaves
no worker process behind, and a failed fit stops the other fits of its run at once.

Processes are listed from /proc (no psutil): the descendants of the trainer are recorded while it
fits, then, after the kill, every one of them must be gone (or a zombie waiting to be reaped).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from compose.errors import TrainingError
from compose.training.executor import FitJob, ProcessExecutor

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="lists processes from /proc")

# Fits that run for minutes, so a worker that ignored its parent's death would still be busy.
SLOW = """\
schema_version: 1
name: slow-penguins
inputs:
  bill_length_mm: {type: number}
  bill_depth_mm: {type: number}
  flipper_length_mm: {type: number}
  body_mass_g: {type: number}
features:
  body: {type: tabular, inputs: [bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g]}
groups:
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
    model: {estimator: random_forest, params: {n_estimators: 200000}}
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    model: {estimator: random_forest, params: {n_estimators: 200000}}
"""


def _parents() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(pid: int) -> set[int]:
    parents = _parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_train_leaves_no_worker_behind(sig: signal.Signals, penguins_csv: Path, tmp_path: Path) -> None:
    schema = tmp_path / "slow.yaml"
    schema.write_text(SLOW, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "compose", "train", str(schema), "--data", str(penguins_csv),
         "--store", str(tmp_path / "store"), "--jobs", "2"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    workers: set[int] = set()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "worker process" in line:
                break
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers |= _descendants(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the trainer never started its worker processes"
        time.sleep(1.0)  # the fits are under way
        workers |= _descendants(proc.pid)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in workers if _alive(p)] == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_a_failed_fit_terminates_the_workers_still_fitting() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    slow = FitJob(RandomForestClassifier(n_estimators=200_000, n_jobs=1), {}, x, np.arange(200) % 2, "slow")
    failing = FitJob(LogisticRegression(), {}, x, np.zeros(200, dtype=int), "group 'one'")
    before = {p.pid for p in multiprocessing.active_children()}
    started = time.monotonic()
    with pytest.raises(TrainingError, match="group 'one'"):
        ProcessExecutor(2).map([slow, failing])
    seconds = time.monotonic() - started
    deadline = time.monotonic() + 10
    while (left := [p for p in multiprocessing.active_children() if p.pid not in before]) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert (seconds < 60, left) == (True, [])  # the slow fit (minutes) was stopped, not waited for
