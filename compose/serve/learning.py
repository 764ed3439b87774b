"""Real-time learning: annotations schedule a retrain of the groups they touch, in a worker process.

`Learner.touch(groups)` is called after every accepted change of annotations. Each group waits
`debounce` seconds after its last change (at most `max_wait` after its first), so a burst of
annotations makes one job, not one per request. A group has at most one job running; changes that
arrive while it runs schedule the next one. Jobs run one at a time in a worker process (a
`ProcessPoolExecutor` with the `spawn` start method: no fork of a threaded server), which retrains
the group on every stored sample through the gate (`compose.learn`, in
`compose.serve.worker.retrain_group`). A job
whose candidate passes made a new release: the learner asks the release holder to swap it in at
once instead of waiting for the next poll of CURRENT.

Jobs are kept in memory (the last `KEEP_JOBS`); the samples and releases they act on are in the
store, so a server killed in the middle of a job restarts on the previous release with every
accepted sample. The groups waiting for a retrain are written to the sample store (info key
`serve.pending`) whenever they change, and a restarted server schedules them again.

Several replicas on one store and one sample database (PostgreSQL): a job runs under a lease in the
sample database (`retrain:<group>`, taken in one write transaction, renewed every third of
`COMPOSE_SERVE_LEASE` seconds, default 30, while the job runs, dropped when it ends). A replica
whose group is due while another one holds its lease waits for it; a lease nobody renews any more
(its holder was killed) is taken over by the next replica that sees it expired, which runs the
retrain again.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from compose.serve.holder import ReleaseHolder
from compose.serve.worker import retrain_group, warm_up
from compose.store.samples import SampleStore

log = logging.getLogger("compose.serve")
KEEP_JOBS = 500
PENDING = "serve.pending"
LEASE_ENV = "COMPOSE_SERVE_LEASE"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Job:
    """One retrain of one group: scheduled -> running -> released | refused | unchanged | failed."""

    id: str
    group: str
    status: str = "scheduled"
    created: str = field(default_factory=_now)
    started: str | None = None
    finished: str | None = None
    samples: int | None = None
    from_release: str | None = None
    release: str | None = None
    version: int | None = None
    n_train: int | None = None
    n_holdout: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    retrained: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Learner:
    """The scheduler of learning jobs for one model folder (see the module's docstring)."""

    def __init__(self, holder: ReleaseHolder, samples: Callable[[], SampleStore], *, debounce: float = 1.0,
                 max_wait: float = 10.0) -> None:
        self.holder, self.samples = holder, samples
        self.debounce, self.max_wait = debounce, max_wait
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self._due: dict[str, tuple[float, float]] = {}  # group -> (due at, first change at)
        self._running: dict[str, Job] = {}
        self._count = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._executor: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = float(os.environ.get(LEASE_ENV) or 30.0)
        self._next_check = 0.0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            self._executor.submit(warm_up)  # import scikit-learn in the worker now, not in the first job
            self._thread = threading.Thread(target=self._loop, name="compose-serve-learner", daemon=True)
            self._thread.start()
        if self.holder.live is not None:  # a restart: the groups still waiting when the last server stopped
            text = self.samples().info(PENDING)
            waiting = [g for g in (json.loads(text) if text else []) if g in self.holder.live.model.groups]
            if waiting:
                log.info("compose serve: resuming the retrain of %s", ", ".join(waiting))
                self.touch(waiting)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, executor = self._thread, self._executor
            self._thread = self._executor = None
        if thread is not None:
            thread.join(timeout=5)
        if executor is not None:  # a fit in progress is abandoned: its version is never released half-way
            workers = list(getattr(executor, "_processes", {}).values())
            executor.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join(timeout=5)

    # --- scheduling ----------------------------------------------------------------------------

    def touch(self, groups: list[str]) -> list[str]:
        """Schedule a retrain of `groups` after the debounce; return the groups scheduled."""
        now = time.monotonic()
        with self._cond:
            for group in groups:
                first = self._due.get(group, (now, now))[1]
                self._due[group] = (min(now + self.debounce, first + self.max_wait), first)
            self._persist()
            self._cond.notify_all()
        return list(groups)

    def _persist(self) -> None:  # under the condition's lock
        waiting = sorted(set(self._due) | set(self._running))
        try:
            self.samples().set_info(PENDING, json.dumps(waiting))
        except Exception as exc:  # a note for the next start; never a reason to fail the request
            log.warning("compose serve: could not note the groups waiting for a retrain: %s", exc)

    def pending(self) -> list[str]:
        with self._cond:
            return sorted(set(self._due) | set(self._running))

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                if now >= self._next_check:
                    self._next_check = now + self.lease_seconds / 3
                    self._leases(now)
                ready = sorted((due, g) for g, (due, _) in self._due.items() if due <= now)
                if self._running or not ready:  # one job at a time: the fits share two cores and the store lock
                    waits = [due - now for due, _ in self._due.values()] if not self._running else []
                    self._cond.wait(timeout=max(0.01, min([*waits, self._next_check - now])))
                    continue
                group = ready[0][1]
                del self._due[group]
                if not self._lease(group):  # another replica runs it: try again once its lease may be over
                    self._due[group] = (now + self.lease_seconds / 3, now)
                    continue
                self._submit(group)

    def _lease(self, group: str) -> bool:  # under the condition's lock
        """Take (or renew) the lease of `group`'s job; False when another replica holds it."""
        try:
            return self.samples().take_lease(f"retrain:{group}", self.replica, self.lease_seconds)
        except Exception as exc:  # no database: run as the only replica
            log.warning("compose serve: could not take the lease of the retrain of %s: %s", group, exc)
            return True

    def _leases(self, now: float) -> None:  # under the condition's lock
        """Renew the leases of the running jobs; schedule the jobs whose holder died."""
        for group in self._running:
            self._lease(group)
        live = self.holder.live
        try:
            expired = self.samples().expired_leases() if live is not None else {}
        except Exception as exc:
            log.warning("compose serve: could not read the retrain leases: %s", exc)
            return
        for name, holder in expired.items():
            group = name.removeprefix("retrain:")
            if name.startswith("retrain:") and live is not None and group in live.model.groups \
                    and group not in self._due and group not in self._running:
                log.info("compose serve: the retrain of %s by %s stopped (its lease expired); taking it over",
                         group, holder)
                self._due[group] = (now, now)

    def _submit(self, group: str) -> None:  # under the condition's lock
        self._count += 1
        job = Job(f"j{self._count:04d}", group)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP_JOBS:
            self.jobs.popitem(last=False)
        self._running[group] = job
        assert self._executor is not None
        try:
            future = self._executor.submit(retrain_group, str(self.holder.store.path), group)
        except RuntimeError as exc:  # the executor was shut down, or its worker died
            self._finish(job, {"status": "failed", "error": f"the worker process is gone ({exc})"})
            return
        job.status, job.started = "running", _now()
        log.info("compose serve: job %s retrains group %s", job.id, group)
        future.add_done_callback(functools.partial(self._done, job))

    def _done(self, job: Job, future: Future[dict[str, Any]]) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # a crash in the worker (BrokenProcessPool) or a bug: the job failed
            outcome = {"status": "failed", "error": f"the retrain failed ({type(exc).__name__}: {exc})"}
        if outcome.get("status") == "released":
            self.holder.refresh()  # swap the new release in now
        with self._cond:
            self._finish(job, outcome)
            self._cond.notify_all()

    def _finish(self, job: Job, outcome: dict[str, Any]) -> None:  # under the condition's lock
        for key, value in outcome.items():
            if hasattr(job, key):
                setattr(job, key, value)
        job.finished = _now()
        self._running.pop(job.group, None)
        try:
            self.samples().drop_lease(f"retrain:{job.group}", self.replica)
        except Exception as exc:  # it expires on its own
            log.warning("compose serve: could not end the lease of the retrain of %s: %s", job.group, exc)
        self._persist()
        if job.status == "failed" and "BrokenProcessPool" in (job.error or "") and not self._stopping:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        log.info("compose serve: job %s (%s) %s%s", job.id, job.group, job.status,
                 f": release {job.release} is live" if job.release and job.status == "released" else
                 f": {job.error}" if job.error else "")

    def job(self, job_id: str) -> Job | None:
        with self._cond:
            return self.jobs.get(job_id)

    def all_jobs(self, group: str | None = None, status: str | None = None) -> list[Job]:
        with self._cond:
            return [j for j in reversed(self.jobs.values())
                    if (group is None or j.group == group) and (status is None or j.status == status)]
