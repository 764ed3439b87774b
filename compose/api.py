"""The Python API of the lifecycle: train, retrain and learn a schema's groups, then load what was released.

Training (`compose.training`) and the runtime (`compose.runtime`) do not know each other; this module
runs one and then the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import DataError, GateRefusedError
from compose.plan import build_plan
from compose.registry import Registry, resolve
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.schema.load import load_schema, schema_from_dict
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.remote import store_location
from compose.store.store import ModelStore
from compose.training.executor import FitExecutor
from compose.training.learn import LearnReport
from compose.training.learn import learn as learn_groups
from compose.training.run import TrainReport, fit_and_release


def fit_executor(executor: FitExecutor | None, scheduler: Any) -> FitExecutor | None:
    """The executor of a run: `executor`, or a DaskExecutor for `scheduler` (an address or a Client)."""
    if executor is not None and scheduler is not None:
        raise DataError("pass either scheduler= (a Dask cluster) or executor=, not both")
    if scheduler is not None:
        from compose.cluster.fits import DaskExecutor

        return DaskExecutor(scheduler)
    return executor


def train_groups(  # noqa: PLR0913 - keyword-only options of the public API
        schema: Schema | str | Path, data: Any, store: str | Path = "models", *,
                 only: list[str] | None = None, force: bool = False, accept_new_labels: bool = False,
                 n_jobs: int | None = None, registry: Registry | None = None,
                 artifact_format: str | None = None, executor: FitExecutor | None = None,
                 scheduler: Any = None, budget_s: float | None = None) -> TrainReport:
    """Add `data` to the sample store, train the groups it labels (or only the groups `only`, on
    the live features) on all their stored samples, gate each live group and release what passes.

    A live group the data does not label keeps its live version (or, if it reads a refitted
    feature, is retrained from its stored samples). GateRefusedError (with the report) when a
    candidate is refused; `force` releases it anyway. `registry` says which featurizers and
    estimators the schema may name (default: the built-ins and installed plugins).
    `artifact_format` (`joblib` or `skops`) overrides the schema's `store.artifact_format`.
    `executor` says where the fits run (`compose.LocalExecutor()`, `ProcessExecutor(n)`,
    `JoblibExecutor(n)`, `DaskExecutor(address)`); `scheduler` (a Dask scheduler address or Client)
    sends every fit to that cluster. `budget_s` overrides the search budget of every `model: auto` group.
    """
    reg = resolve(registry)
    s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    report = fit_and_release(s, data, store, groups=only, refit=None if only is None else set(), gate=True,
                             force=force, accept_new_labels=accept_new_labels,
                             note="train" if only is None else f"train --only {','.join(only)}", n_jobs=n_jobs,
                             registry=reg, artifact_format=artifact_format,
                             executor=fit_executor(executor, scheduler), budget_s=budget_s)
    _raise_if_refused(report)
    return report


def train(  # noqa: PLR0913 - keyword-only options of the public API
        schema: Schema | str | Path, data: Any, store: str | Path = "models", *, only: list[str] | None = None,
          force: bool = False, accept_new_labels: bool = False, n_jobs: int | None = None,
          registry: Registry | None = None, artifact_format: str | None = None,
          executor: FitExecutor | None = None, scheduler: Any = None,
          budget_s: float | None = None) -> ComposedModel:
    """`train_groups`, then the live ComposedModel, loaded back from the store."""
    reg = resolve(registry)
    s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    train_groups(s, data, store, only=only, force=force, accept_new_labels=accept_new_labels, n_jobs=n_jobs,
                 registry=reg, artifact_format=artifact_format, executor=executor, scheduler=scheduler,
                 budget_s=budget_s)
    return load(store_location(store) / s.name, registry=reg)


def learn(  # noqa: PLR0913 - keyword-only options of the public API
        store: str | Path | ComposedModel, data: Any = None, *, model: str | None = None,
          schema: Schema | str | Path | None = None, force: bool = False, accept_new_labels: bool = False,
          n_jobs: int | None = None, registry: Registry | None = None,
          budget_s: float | None = None) -> LearnReport:
    """Add `data` (a file, a frame, rows; or None) to a model's sample store and retrain exactly the
    groups whose labelled data changed, each on all its stored samples, gated against its live head.

    `store` is a store root, a model folder or a loaded ComposedModel; the schema is the live
    release's unless given. GateRefusedError (with `.report`, the LearnReport) when a candidate is
    refused; the other groups' candidates are released. `budget_s` overrides the search budget of
    every `model: auto` group.
    """
    reg = resolve(registry)
    if isinstance(store, ComposedModel):
        if store.store is None:
            raise DataError("this ComposedModel was not loaded from a store; pass the store's folder")
        folder = store.store.path
    else:
        folder = ModelStore.open(store, model).path
    if schema is None:
        record = ModelStore(folder).release()
        s = schema_from_dict(record.schema_document, source=f"{folder}/releases/{record.release}.json",
                             registry=reg)
    else:
        s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    report = learn_groups(s, data, folder, force=force, accept_new_labels=accept_new_labels, n_jobs=n_jobs,
                          registry=reg, budget_s=budget_s)
    if report.train is not None and report.refused:
        error = _refusal(report.train)
        error.report = report
        raise error
    return report


def retrain(  # noqa: PLR0913 - the lifecycle options, keyword-only
        schema: Schema | str | Path, data: Any, store: str | Path, *, group: str | None = None,
            feature: str | None = None, force: bool = False, accept_new_labels: bool = False,
            n_jobs: int | None = None, registry: Registry | None = None, executor: FitExecutor | None = None,
            scheduler: Any = None, budget_s: float | None = None) -> TrainReport:
    """Refit one group's head (on the live features) or one feature and every head that reads it, gated.

    The data's rows are added to the sample store first; the head is fitted on all the group's
    stored samples. A candidate whose gate metric is worse than the live version's (on the same
    held-out rows) is kept as a version but not released, unless `force`; GateRefusedError says why.
    `executor` and `scheduler` as in `train_groups`.
    """
    pool = fit_executor(executor, scheduler)
    reg = resolve(registry)
    s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    if (group is None) == (feature is None):
        raise DataError("retrain needs exactly one of --group G or --feature F")
    if group is not None:
        report = fit_and_release(s, data, store, groups=[group], refit=set(), gate=True, force=force,
                                 accept_new_labels=accept_new_labels, note=f"retrain --group {group}", n_jobs=n_jobs,
                                 registry=reg, executor=pool, budget_s=budget_s)
    else:
        assert feature is not None
        if feature not in s.features:
            raise DataError(f"unknown feature {feature!r}; the schema declares {list(s.features)}")
        report = fit_and_release(s, data, store, groups=build_plan(s).readers_of(feature), refit={feature},
                                 gate=True, force=force, accept_new_labels=accept_new_labels,
                                 note=f"retrain --feature {feature}",
                                 n_jobs=n_jobs, registry=reg, executor=pool, budget_s=budget_s)
    _raise_if_refused(report)
    return report


def _refusal(report: TrainReport) -> GateRefusedError:
    reasons = []
    refused = [g for g in report.refused if (v := report.groups[g].gate) is None or not v.passed]
    for g in report.refused:
        v = report.groups[g].gate
        name = version_name(report.groups[g].version)
        if v is not None and v.passed:  # held back with a refused group's new feature version
            reasons.append(f"{g} {name}: passed the gate ({v.metric} {v.candidate} >= live {version_name(v.against)} "
                           f"{v.live}) but is held back with the new version of a feature that "
                           f"{', '.join(refused) or 'a refused group'} also read{'s' * (len(refused) == 1)}")
        elif v is not None and v.candidate is not None:
            reasons.append(f"{g} {name}: {v.metric} {v.candidate} < live "
                           f"{version_name(v.against)} {v.live} (tolerance {v.tolerance})")
        else:
            why = v.reason if v is not None and v.reason else "a head it depends on was refused"
            reasons.append(f"{g} {name}: {why}")
    error = GateRefusedError("not released, the live version stays: " + "; ".join(reasons)
                             + ". The candidate is kept; release it anyway with --force or "
                             "`compose promote --group G --version vN`")
    error.report = report
    return error


def _raise_if_refused(report: TrainReport) -> None:
    if report.refused:
        raise _refusal(report)
