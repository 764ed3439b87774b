"""The fit executors: a failed fit stops the other fits of its run at once (training/executor.py)."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from compose.errors import TrainingError
from compose.training.executor import FitJob, ProcessExecutor


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
