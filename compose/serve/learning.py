"""Real-time learning: annotations schedule a retrain of the groups they touch, in a worker process.

`Learner.touch(groups)` is called after every accepted change of annotations. Each group waits
`debounce` seconds after its last change (at most `max_wait` after its first), so a burst of
annotations makes one job, not one per request. A group has at most one job running; changes that
arrive while it runs schedule the next one. Jobs run one at a time in a worker process (a
`ProcessPoolExecutor` with the `spawn` start method: no fork of a threaded server), which retrains
the group on every stored sample through the gate (`compose.learn`, in
`compose.serve.worker.retrain_group`). A job
whose candidate passes made a new release: the learner asks the release holder to swap it in at
once instead of waiting for the next poll of CURRENT. A worker process that dies (the pool's
`BrokenProcessPool`) fails its job and is replaced by a new one for the next.

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

import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

from compose.serve.holder import ReleaseHolder
from compose.serve.messages import Job
from compose.serve.worker import retrain_group, warm_up
from compose.store.samples import SampleStore

log = logging.getLogger("compose.serve")
KEEP_JOBS = 500
PENDING = "serve.pending"
LEASE_ENV = "COMPOSE_SERVE_LEASE"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Pool:
    """The worker process: a one-process `ProcessPoolExecutor` (spawn) and the id of its process,
    which the worker itself reports (`warm_up`), so that a fit in progress can be stopped."""

    def __init__(self) -> None:
        self.executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.pid: int | None = None
        self.executor.submit(warm_up).add_done_callback(self._started)

    def _started(self, future: Future[int]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.pid = future.result()

    def stop(self, *, abandon: bool) -> None:
        """Stop the worker; `abandon`: kill it in the middle of a fit (its version is never released half-way)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        if abandon and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        self.executor.shutdown(wait=True)  # the executor reaps its process


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
        self._pool: _Pool | None = None
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
            self._pool = _Pool()  # imports scikit-learn in the worker now, not in the first job
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
            thread, pool = self._thread, self._pool
            self._thread = self._pool = None
            fitting = bool(self._running)
        if thread is not None:
            thread.join(timeout=5)
        if pool is not None:
            pool.stop(abandon=fitting)

    @property
    def worker_pid(self) -> int | None:
        """The process id of the worker process, once it has started (None before, or when stopped)."""
        with self._cond:
            return self._pool.pid if self._pool is not None else None

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
        job = Job(id=f"j{self._count:04d}", group=group)
        self.jobs[job.id] = job
        while len(self.jobs) > KEEP_JOBS:
            self.jobs.popitem(last=False)
        self._running[group] = job
        assert self._pool is not None
        job.status, job.started = "running", _now()
        try:
            future = self._pool.executor.submit(retrain_group, str(self.holder.store.path), job.model_copy())
        except BrokenProcessPool as exc:  # the worker died between two jobs
            self._finish(job.updated(status="failed", error=f"the worker process is gone ({exc})"),
                         broken=True)
            return
        except RuntimeError as exc:  # the executor was shut down
            self._finish(job.updated(status="failed", error=f"the worker process is gone ({exc})"))
            return
        log.info("compose serve: job %s retrains group %s", job.id, group)
        future.add_done_callback(functools.partial(self._done, job))

    def _done(self, job: Job, future: Future[Job]) -> None:
        broken = False
        try:
            finished = future.result()
        except BrokenProcessPool as exc:  # the worker process crashed (killed, out of memory)
            broken = True
            finished = job.updated(status="failed", error=f"the worker process crashed ({exc})")
        except Exception as exc:  # a bug in the job: it failed, the worker is fine
            finished = job.updated(status="failed", error=f"the retrain failed ({type(exc).__name__}: {exc})")
        if finished.status == "released":
            self.holder.refresh()  # swap the new release in now
        with self._cond:
            self._finish(finished, broken=broken)
            self._cond.notify_all()

    def _finish(self, job: Job, *, broken: bool = False) -> None:  # under the condition's lock
        job.finished = _now()
        if job.id in self.jobs:
            self.jobs[job.id] = job
        self._running.pop(job.group, None)
        try:
            self.samples().drop_lease(f"retrain:{job.group}", self.replica)
        except Exception as exc:  # it expires on its own
            log.warning("compose serve: could not end the lease of the retrain of %s: %s", job.group, exc)
        log.info("compose serve: job %s (%s) %s%s", job.id, job.group, job.status,
                 f": release {job.release} is live" if job.release and job.status == "released" else
                 f": {job.error}" if job.error else "")
        if self._stopping and job.status == "failed":  # abandoned by stop(): its group stays noted as waiting
            return
        self._persist()
        if broken and not self._stopping:  # a new worker process for the next job; the dead one is reaped apart
            old, self._pool = self._pool, _Pool()
            if old is not None:
                threading.Thread(target=functools.partial(old.stop, abandon=False), name="compose-serve-pool-stop",
                                 daemon=True).start()

    def job(self, job_id: str) -> Job | None:
        with self._cond:
            job = self.jobs.get(job_id)
            return None if job is None else job.model_copy()

    def all_jobs(self, group: str | None = None, status: str | None = None) -> list[Job]:
        with self._cond:
            return [j.model_copy() for j in reversed(self.jobs.values())
                    if (group is None or j.group == group) and (status is None or j.status == status)]
