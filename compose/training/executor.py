"""Fit executors: where the estimator fits of a training run execute, passed in as an object.

Training hands an executor the list of fits (`FitJob`: one per multiclass or binary head, one per
label of a multilabel head) and gets the fitted estimators back in the same order. The executor
decides where they run:

- `LocalExecutor`: one after another in this process.
- `ProcessExecutor(n_jobs)`: worker processes on this machine, started for the run and stopped
  after it. Each training matrix is sent to each worker once (as the pool's initial state), and
  fits refer to it by key. A worker asks the kernel to kill it when its parent dies
  (`PR_SET_PDEATHSIG`), so killing `compose train`, even with SIGKILL, leaves no worker behind.
- `JoblibExecutor(n_jobs)`: `joblib.Parallel`, for a joblib backend chosen with
  `joblib.parallel_config`.
- A Dask cluster: `compose.cluster.DaskExecutor(address)` (the `[dask]` extra), beside the
  training code because dask is an optional dependency.

`auto_executor(n_jobs)` is the default: processes for large runs, this process for small ones
(starting a worker costs about a second). Every fit runs with one BLAS thread (`fit_estimator`).
An `on_fit(done, total)` callback reports progress.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from compose.heads.head import fit_estimator, fit_workers
from compose.training._worker import init_worker, run_in_worker

Progress = Callable[[int, int], None]  # (fits done, fits in the run)


@dataclass(frozen=True)
class FitJob:
    """One estimator fit: the estimator (an unfitted template or a name), its parameters, matrix and targets."""

    estimator: Any
    params: dict[str, Any]
    x: Any
    y: Any
    what: str
    allow_constant: bool = False
    calibration: str | None = None
    start: Any = None  # a fitted estimator to warm-start from (`compose.training.warm`)

    def run(self, x: Any = None) -> Any:
        """Fit here (on `x` in place of the job's own matrix, when a worker holds it)."""
        if self.start is not None:
            from compose.training.warm import warm_fit

            return warm_fit(self.start, self.x if x is None else x, self.y, self.what)
        return fit_estimator(self.estimator, self.params, self.x if x is None else x, self.y, self.what,
                             allow_constant=self.allow_constant, calibration=self.calibration)

    def without_x(self) -> FitJob:
        return FitJob(self.estimator, self.params, None, self.y, self.what, self.allow_constant, self.calibration,
                      self.start)


class FitExecutor(Protocol):
    """Runs the fits of a training run; returns the fitted estimators in the order of `jobs`."""

    def describe(self, jobs: Sequence[FitJob]) -> str:
        """Where the fits of `jobs` will run, for the log (`on 2 worker processes`)."""
        ...

    def map(self, jobs: Sequence[FitJob]) -> list[Any]: ...


def distinct_matrices(jobs: Sequence[FitJob]) -> tuple[list[Any], list[int]]:
    """The distinct training matrices of `jobs` (by identity) and each job's index into them."""
    keys: dict[int, int] = {}
    matrices: list[Any] = []
    index: list[int] = []
    for job in jobs:
        k = keys.get(id(job.x))
        if k is None:
            k = keys[id(job.x)] = len(matrices)
            matrices.append(job.x)
        index.append(k)
    return matrices, index


class LocalExecutor:
    """Every fit in this process, one after another."""

    def __init__(self, *, on_fit: Progress | None = None) -> None:
        self.on_fit = on_fit

    def describe(self, jobs: Sequence[FitJob]) -> str:
        return "in this process"

    def map(self, jobs: Sequence[FitJob]) -> list[Any]:
        out = []
        for i, job in enumerate(jobs):
            out.append(job.run())
            if self.on_fit is not None:
                self.on_fit(i + 1, len(jobs))
        return out


# --- worker processes --------------------------------------------------------------------------


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ProcessExecutor:
    """Fits in worker processes of this machine (`n_jobs`: how many; -1 or None: one per core).

    The pool lives for one `map` call. Each distinct training matrix reaches each worker once.
    """

    def __init__(self, n_jobs: int | None = None, *, on_fit: Progress | None = None) -> None:
        self.n_jobs = n_jobs
        self.on_fit = on_fit

    def workers(self, jobs: Sequence[FitJob]) -> int:
        n = cpu_count() if self.n_jobs is None or self.n_jobs < 0 else self.n_jobs
        return max(1, min(n, len(jobs)))

    def describe(self, jobs: Sequence[FitJob]) -> str:
        n = self.workers(jobs)
        return f"on {n} worker process{'es' * (n != 1)}" if n > 1 else "in this process"

    def map(self, jobs: Sequence[FitJob]) -> list[Any]:
        n = self.workers(jobs)
        if n <= 1:
            return LocalExecutor(on_fit=self.on_fit).map(jobs)
        matrices, index = distinct_matrices(jobs)
        context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        before = _children()
        pool = ProcessPoolExecutor(max_workers=n, mp_context=context, initializer=init_worker,
                                   initargs=(os.getpid(), pickle.dumps(matrices, protocol=pickle.HIGHEST_PROTOCOL)))
        futures: list[Future[Any]] = []
        workers: list[BaseProcess] | None = None
        try:
            futures = [pool.submit(run_in_worker, job.without_x(), k) for job, k in zip(jobs, index, strict=True)]
            workers = _started_since(before)  # each submit starts a worker until there are n of them
            done = 0
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in finished:
                    f.result()  # raises the first failure (a TrainingError names its group)
                done += len(finished)
                if self.on_fit is not None:
                    self.on_fit(done, len(jobs))
            return [f.result() for f in futures]
        except BaseException:
            # A failed fit, Ctrl-C or SIGTERM: stop the other fits now rather than wait for them.
            for f in futures:
                f.cancel()
            for process in workers if workers is not None else _started_since(before):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _children() -> set[int | None]:
    """The process ids of this process's live `multiprocessing` children (`active_children`, public)."""
    return {process.pid for process in multiprocessing.active_children()}


def _started_since(before: set[int | None]) -> list[BaseProcess]:
    """The children started since `before` was taken: a pool's workers, known without its private `_processes`."""
    return [process for process in multiprocessing.active_children() if process.pid not in before]


class JoblibExecutor:
    """Fits through `joblib.Parallel`, honouring `joblib.parallel_config` (another backend, another cluster)."""

    def __init__(self, n_jobs: int | None = None, *, prefer: str = "processes") -> None:
        self.n_jobs = n_jobs
        self.prefer = prefer

    def describe(self, jobs: Sequence[FitJob]) -> str:
        return f"through joblib (n_jobs={self.n_jobs})"

    def map(self, jobs: Sequence[FitJob]) -> list[Any]:
        from joblib import Parallel, delayed

        return list(Parallel(n_jobs=self.n_jobs, prefer=self.prefer)(delayed(job.run)() for job in jobs))


class AutoExecutor:
    """The default: `n_jobs` worker processes, or without `n_jobs` processes only when they pay off."""

    def __init__(self, n_jobs: int | None = None, *, on_fit: Progress | None = None) -> None:
        self.n_jobs = n_jobs
        self.on_fit = on_fit

    def _chosen(self, jobs: Sequence[FitJob]) -> FitExecutor:
        workers = fit_workers(self.n_jobs, [j.x.shape[0] for j in jobs])  # the one home of the heuristic
        if workers == 1:
            return LocalExecutor(on_fit=self.on_fit)
        return ProcessExecutor(None if workers < 0 else workers, on_fit=self.on_fit)

    def describe(self, jobs: Sequence[FitJob]) -> str:
        return self._chosen(jobs).describe(jobs)

    def map(self, jobs: Sequence[FitJob]) -> list[Any]:
        return self._chosen(jobs).map(jobs)
