"""What a learning job does, in the worker process: `compose learn` on the stored samples, gated.

`retrain_group` runs in a process of its own (started with `spawn`), so a fit never blocks the
server's requests and a crash of the fit never takes the server down. It calls `compose.learn` on
the model folder with no new data: every group whose annotations changed since its live version
(the job's group, and any other one changed meanwhile) is retrained on all its stored samples, on
the live features, and gated against its live head on the same held-out rows; the ones that pass
are released. It returns the job's record filled in (the verdict of the job's group, the release made)
and the server swaps that release in.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from compose.api import learn
from compose.errors import ComposeError, GateRefusedError
from compose.serve.messages import Job
from compose.store.store import ModelStore
from compose.training.learn import LearnReport
from compose.training.warm import preload


def warm_up() -> int:
    """The worker's process id: submitted once at start, so that the worker has imported scikit-learn and
    what a job runs (training, the estimators, the featurizers) before the first job, and the learner
    knows which process to stop in the middle of a fit."""
    preload()
    return os.getpid()


def _outcome(report: LearnReport, group: str) -> dict[str, Any]:
    """The fields of the job's record that the learning run fills in (validated by `Job.updated`)."""
    out: dict[str, Any] = {"release": report.release, "retrained": list(report.groups)}
    g = report.groups.get(group)
    trained = report.train.groups.get(group) if report.train is not None else None
    if g is None or trained is None:
        return {**out, "status": "unchanged",
                "error": f"group {group!r} has no annotation newer than its live version: nothing to retrain"}
    out.update(status="released" if g.released else "refused", version=g.version, n_train=g.rows_after,
               n_holdout=trained.n_holdout, samples=g.rows_after + trained.n_holdout,
               metrics={k: v for k, v in trained.metrics.items() if isinstance(v, int | float) or v is None},
               gate=None if trained.gate is None else trained.gate.model_dump(mode="json", exclude_none=True,
                                                                               exclude={"live_metrics"}))
    if g.reason and not g.released:
        out["error"] = g.reason
    return out


def retrain_group(model_dir: str, job: Job) -> Job:
    """Learn the stored annotations of the model folder `model_dir` for `job.group`; the job filled in
    (released, refused, unchanged or failed). Never raises a ComposeError."""
    t0 = time.perf_counter()
    base: dict[str, Any] = {}
    try:
        folder = Path(model_dir)
        base["from_release"] = ModelStore(folder).current_name()
        try:
            report = learn(folder, None, n_jobs=1)
        except GateRefusedError as exc:
            if not isinstance(exc.report, LearnReport):
                raise
            report = exc.report
        outcome = {**base, **_outcome(report, job.group)}
    except ComposeError as exc:
        outcome = {**base, "status": "failed", "error": str(exc)}
    return job.updated(**outcome, seconds=time.perf_counter() - t0)
