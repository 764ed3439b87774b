"""Training and prediction on a Dask cluster (the `[dask]` extra: dask[dataframe], distributed).

`DaskExecutor(address)` is a fit executor (`compose.training.executor`) that sends every
estimator fit of a run to the cluster; `predict_partitions` predicts a set of data files on the
workers, one output part per input part. dask and distributed are imported only here, on first
use, with an install hint when they are missing.
"""

from __future__ import annotations

from compose.cluster.fits import DaskExecutor
from compose.cluster.partitions import predict_partitions

__all__ = ["DaskExecutor", "predict_partitions"]
