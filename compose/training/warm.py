"""Warm starts: a retrained head begins from the live head's coefficients where that is sound.

A retrain on the live features of a group whose definition has not changed fits the same convex
problem as its live version on nearly the same rows: starting the solver from the live
coefficients reaches the same optimum (within the solver's tolerance) in a few iterations instead
of hundreds. Only estimators whose `warm_start` means "start from the previous coefficients" are
warm-started (scikit-learn's LogisticRegression with a solver other than liblinear); a forest or
a boosting model, whose `warm_start` means "add trees", never is. The gate is unchanged: the
candidate is judged on the same rows with the same metric as a cold fit would be.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from compose.errors import TrainingError
from compose.heads.auto import AUTO
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import Release
from compose.store.store import ModelStore

log = logging.getLogger("compose")


def preload() -> None:
    """Import what a retrain runs (training, the linear estimators, the text and tabular featurizers),
    so that a long-lived worker pays for it once at start, not in its first job."""
    import importlib

    for name in ("compose.training.learn", "compose.featurize.text", "compose.featurize.tabular",
                 "sklearn.linear_model", "sklearn.feature_extraction.text"):
        importlib.import_module(name)


def _warmable(est: Any) -> bool:
    from sklearn.linear_model import LogisticRegression

    return type(est) is LogisticRegression and est.get_params().get("solver") != "liblinear"


def warm_start_from(live: Any, template: Any, params: dict[str, Any], x: Any, y: np.ndarray) -> Any | None:
    """The live estimator `live`, to be refitted from its coefficients on (x, y), or None when a
    warm start is not sound: another estimator class or parameters than the template's, another
    width, other classes among `y`."""
    if isinstance(template, str) or not _warmable(live) or type(live) is not type(template):
        return None
    wanted = {**template.get_params(deep=False), **params}
    have = live.get_params(deep=False)
    if {k: v for k, v in wanted.items() if k != "warm_start"} != {k: v for k, v in have.items() if k != "warm_start"}:
        return None
    coef = getattr(live, "coef_", None)
    classes = getattr(live, "classes_", None)
    if coef is None or classes is None or coef.shape[1] != x.shape[1]:
        return None
    if not np.array_equal(np.asarray(classes), np.unique(y)):
        return None
    return live


def warm_jobs(
        schema: Schema, store: ModelStore, live: Release | None, group: str, jobs: list[tuple[Any, ...]],
        versions: dict[str, int], load: Callable[..., Any]) -> tuple[list[tuple[Any, ...]], int | None]:
    """The fits of `group` (training's job tuples), each with the live estimator it replaces to
    start from (or None), and the live version they start from (None: no warm start). Sound when
    the live version has the group's definition and reads the feature `versions` of this run."""
    spec = schema.groups[group]
    if live is None or group not in live.groups or spec.model.estimator == AUTO or spec.calibration is not None:
        return jobs, None
    pin = live.groups[group]
    meta = store.group_meta(group, pin.version)
    if (meta.spec_hash != schema.group_fingerprint(group)
            or list(meta.parents.items()) != [(f, versions.get(f)) for f in schema.features_of(group)]):
        return jobs, None
    head = load("groups", group, pin.version, pin.sha256, pin.meta_sha256)
    if len(head.estimators_) != len(jobs):
        return jobs, None
    out = [(*job, warm_start_from(est, job[0], job[1], job[2], job[3]))
           for job, est in zip(jobs, head.estimators_, strict=True)]
    warm = sum(job[-1] is not None for job in out)
    if not warm:
        return jobs, None
    log.info("group %r: %d of %d fits start from the live %s", group, warm, len(out), version_name(pin.version))
    return out, pin.version


def warm_fit(live: Any, x: Any, y: np.ndarray, what: str) -> Any:
    """A copy of the fitted estimator `live`, refitted on (x, y) from its coefficients (one BLAS thread)."""
    est = copy.deepcopy(live)
    was = est.get_params(deep=False).get("warm_start", False)
    est.set_params(warm_start=True)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        try:
            est.fit(x, y)
        except (ValueError, TypeError, MemoryError) as exc:
            raise TrainingError(f"{what}: the estimator failed to fit: {exc}") from exc
    est.set_params(warm_start=was)
    return est
