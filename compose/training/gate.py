"""The promotion gate: a retrained head against the live one, on the very same held-out rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from compose.featurize.base import hstack
from compose.heads.decide import raw_predictions
from compose.heads.head import Head
from compose.metrics import gate_metric_name, group_metrics
from compose.schema.models import Schema
from compose.store.records import GateVerdict, Holdout, Release
from compose.store.store import ModelStore


def live_holdout(schema: Schema, store: ModelStore, live: Release | None, group: str) -> Holdout | None:
    """The holdout kept with the live version of `group`, if that version has the same definition."""
    pin = live.groups.get(group) if live is not None else None
    if pin is None:
        return None
    if store.group_meta(group, pin.version).spec_hash != schema.group_fingerprint(group):
        return None
    return store.holdout(group, pin.version)


def union(reference: Holdout, own: Holdout) -> Holdout:
    """The live holdout, plus this file's holdout rows it does not hold yet (labels as this file gives)."""
    fresh = ~np.isin(own.hashes, reference.hashes)
    return Holdout(pd.concat([reference.inputs, own.inputs[fresh]], ignore_index=True),
                   np.concatenate([reference.y, own.y[fresh]]),
                   np.concatenate([reference.hashes, own.hashes[fresh]]))


def score_on(schema: Schema, head: Head, transformers: list[Any], holdout: Holdout) -> dict[str, Any]:
    spec = schema.groups[head.group]
    if len(holdout) == 0:
        return {"n": 0}
    x = hstack([t.transform(holdout.inputs) for t in transformers])
    pred = raw_predictions(spec, head.labels, head.scores(x))
    return group_metrics(spec.type, holdout.y, pred, head.labels)


def gate_verdict(schema: Schema, store: ModelStore, live: Release, group: str, metrics: dict[str, Any],
                 holdout: Holdout, comparable: bool, *, force: bool = False) -> GateVerdict:
    """Compare the candidate with the live head on the same rows: the live version's stored holdout
    plus the new file's holdout rows it did not hold yet.

    Starting from the live holdout means a file with wrong labels cannot make the live head look
    bad on rows it was judged on before. Every row of it hashes into the holdout, so neither head
    was fitted on it. With `force`, a refused verdict is marked `forced` (released anyway).
    """
    spec = schema.groups[group]
    metric = gate_metric_name(spec.type, spec.gate.metric)
    pin = live.groups[group]
    def verdict(passed: bool, **found: Any) -> GateVerdict:
        return GateVerdict(metric=metric, tolerance=spec.gate.tolerance, against=pin.version, n_holdout=len(holdout),
                           passed=passed, forced=force and not passed, **found)

    if not comparable:
        return verdict(True, reason="the live version was trained for another definition of the group")
    if len(holdout) == 0:
        return verdict(False, reason="no holdout rows to compare on")
    old_meta = store.group_meta(group, pin.version)
    old_head: Head = store.load_version("groups", group, pin.version, pin.sha256, pin.meta_sha256)
    old_transformers = []
    for f, v in old_meta.parents.items():
        fpin = live.features.get(f)
        old_transformers.append(store.load_version("features", f, v, fpin.sha256 if fpin and fpin.version == v
                                                   else None))
    old = score_on(schema, old_head, old_transformers, holdout)
    cand, base = metrics.get(metric), old.get(metric)
    passed = bool(cand is not None and base is not None and cand >= base - spec.gate.tolerance)
    return verdict(passed, candidate=cand, live=base, live_metrics=old)
