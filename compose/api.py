"""The Python API of the lifecycle: train and retrain a schema's groups, then load what was released.

Training (`compose.training`) and the runtime (`compose.runtime`) do not know each other; this module
runs one and then the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import DataError, GateRefusedError
from compose.plan import build_plan, feature_node
from compose.registry import Registry, resolve
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.schema.load import load_schema
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.training.run import TrainReport, fit_and_release


def train(schema: Schema | str | Path, data: Any, store: str | Path = "models", *, only: list[str] | None = None,
          n_jobs: int | None = None, registry: Registry | None = None, budget_s: float | None = None) -> ComposedModel:
    """Train every group that has a column in `data` (or only the groups `only`) and release them.

    Returns the live ComposedModel, loaded back from the store. `registry` says which featurizers
    and estimators the schema may name (default: the built-ins and installed plugins). `budget_s`
    overrides the search budget of every `model: auto` group.
    """
    reg = resolve(registry)
    s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    fit_and_release(s, data, store, groups=only, refit=None if only is None else set(),
                    note="train" if only is None else f"train --only {','.join(only)}", n_jobs=n_jobs,
                    registry=reg, budget_s=budget_s)
    return load(Path(store) / s.name, registry=reg)


def retrain(schema: Schema | str | Path, data: Any, store: str | Path, *, group: str | None = None,  # noqa: PLR0913
            feature: str | None = None, force: bool = False, n_jobs: int | None = None,
            registry: Registry | None = None, budget_s: float | None = None) -> TrainReport:
    """Refit one group's head (on the live features) or one feature and every head that reads it, gated.

    A candidate whose gate metric is worse than the live version's (on the same holdout rows) is
    kept as a version but not released, unless `force`; GateRefusedError says why.
    """
    reg = resolve(registry)
    s = schema if isinstance(schema, Schema) else load_schema(schema, registry=reg)
    if (group is None) == (feature is None):
        raise DataError("retrain needs exactly one of --group G or --feature F")
    if group is not None:
        report = fit_and_release(s, data, store, groups=[group], refit=set(), gate=True, force=force,
                                 note=f"retrain --group {group}", n_jobs=n_jobs, registry=reg, budget_s=budget_s)
    else:
        assert feature is not None
        if feature not in s.features:
            raise DataError(f"unknown feature {feature!r}; the schema declares {list(s.features)}")
        plan = build_plan(s)
        dependents = [n.split(":", 1)[1] for n in plan.dependents(feature_node(feature)) if n.startswith("head:")]
        report = fit_and_release(s, data, store, groups=dependents, refit={feature}, gate=True, force=force,
                                 note=f"retrain --feature {feature}", n_jobs=n_jobs, registry=reg,
                                 budget_s=budget_s)
    if report.refused:
        reasons = []
        for g in report.refused:
            v = report.groups[g].gate
            name = version_name(report.groups[g].version)
            if v is not None and v.candidate is not None:
                reasons.append(f"{g} {name}: {v.metric} {v.candidate} < live "
                               f"{version_name(v.against)} {v.live} (tolerance {v.tolerance})")
            else:
                why = v.reason if v is not None and v.reason else "a head it depends on was refused"
                reasons.append(f"{g} {name}: {why}")
        error = GateRefusedError("not released, the live version stays: " + "; ".join(reasons)
                                 + ". The candidate is kept; release it anyway with --force or "
                                 "`compose promote --group G --version vN`")
        error.report = report
        raise error
    return report
