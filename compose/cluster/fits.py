"""`DaskExecutor`: every estimator fit of a training run on a Dask cluster, whatever the data size.

The distinct training matrices of the run are scattered to the cluster once; each fit is one
task that reads its matrix from the cluster's memory, runs `fit_estimator` (one BLAS thread) on a
worker and returns the fitted estimator and the worker's address (`placements_`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from compose.cluster._dask import address_of, connect, require_distributed
from compose.training.executor import FitJob, Progress, distinct_matrices


def _fit_on_worker(job: FitJob, x: Any) -> tuple[Any, str]:
    from distributed import get_worker

    return job.run(x), str(get_worker().address)


class DaskExecutor:
    """Fits on the Dask cluster at `scheduler` (an address such as tcp://10.0.0.5:8786, or a Client)."""

    def __init__(self, scheduler: Any, *, on_fit: Progress | None = None, timeout: float = 10.0) -> None:
        self.scheduler = scheduler
        self.on_fit = on_fit
        self.timeout = timeout
        self.placements_: list[str] = []

    def describe(self, jobs: Sequence[FitJob]) -> str:
        return f"on the Dask cluster at {address_of(self.scheduler)}"

    def map(self, jobs: Sequence[FitJob]) -> list[Any]:
        distributed = require_distributed()
        client, owned = connect(self.scheduler, self.timeout)
        try:
            return self._run(distributed, client, jobs)
        finally:
            if owned:
                client.close()

    def _run(self, distributed: Any, client: Any, jobs: Sequence[FitJob]) -> list[Any]:
        with client.as_current():
            matrices, index = distinct_matrices(jobs)
            scattered = client.scatter(matrices, hash=False)
            run = uuid.uuid4().hex[:8]
            futures = [client.submit(_fit_on_worker, job.without_x(), scattered[k], pure=False,
                                     key=f"compose-fit-{run}-{i}")
                       for i, (job, k) in enumerate(zip(jobs, index, strict=True))]
            try:
                for done, future in enumerate(distributed.as_completed(futures), start=1):
                    future.result()  # the first failure is raised (a TrainingError names its group)
                    if self.on_fit is not None:
                        self.on_fit(done, len(jobs))
                results = client.gather(futures)
            finally:
                client.cancel(futures + list(scattered))
            self.placements_ = [worker for _, worker in results]
            return [est for est, _ in results]
