"""The promotion gate: a retrained head against the live one, on the very same held-out rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from compose.featurize.base import hstack
from compose.heads.decide import raw_predictions
from compose.heads.head import Head
from compose.metrics import gate_metric_name, group_metrics
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import GateVerdict, Holdout, Release
from compose.store.store import ModelStore


def live_holdout(schema: Schema, store: ModelStore, live: Release | None, group: str) -> Holdout | None:
    """The holdout kept with the live version of `group`, if that version has the same labels (its
    rows' labels are indices into them; any other change of the definition leaves them comparable)."""
    pin = live.groups.get(group) if live is not None else None
    if pin is None:
        return None
    if store.group_meta(group, pin.version).labels != schema.labels_of(group):
        return None
    return store.holdout(group, pin.version)


def union(reference: Holdout, own: Holdout) -> Holdout:
    """The live holdout, plus this file's holdout rows it does not hold yet (labels as this file gives).

    Rows are matched by their inputs' hash as multisets: when the live holdout holds k rows with
    some inputs, the (k+1)-th and later rows of `own` with those inputs are new (a table that repeats
    its inputs)."""
    fresh = _beyond(own.hashes, reference.hashes)
    known = None
    if reference.known is not None or own.known is not None:  # per-label truth: which cells are known
        known = np.concatenate([reference.known_cells(), own.known_cells()[fresh]])
    return Holdout(pd.concat([reference.inputs, own.inputs[fresh]], ignore_index=True),
                   np.concatenate([reference.y, own.y[fresh]]),
                   np.concatenate([reference.hashes, own.hashes[fresh]]), known)


def _beyond(hashes: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Which of `hashes` are past the count of their value in `held` (in order of appearance)."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=bool)
    values, counts = np.unique(held, return_counts=True)
    have = dict(zip(values.tolist(), counts.tolist(), strict=True))
    nth = pd.Series(hashes).groupby(hashes, sort=False).cumcount().to_numpy()
    return nth >= np.array([have.get(h, 0) for h in hashes.tolist()], dtype=np.int64)


def score_on(schema: Schema, head: Head, transformers: list[Any], holdout: Holdout, x: Any = None) -> dict[str, Any]:
    """The metrics of `head` on `holdout` (`x`: the holdout's features, when already transformed)."""
    spec = schema.groups[head.group]
    if len(holdout) == 0:
        return {"n": 0}
    if x is None:
        x = hstack([t.transform(holdout.inputs) for t in transformers])
    pred = raw_predictions(spec, head.labels, head.scores(x))
    return group_metrics(spec.type, holdout.y, pred, head.labels, known=holdout.known)


Loader = Callable[[str, str, int, "str | None", "str | None"], Any]  # ModelStore.load_version's signature


def gate_verdict(  # noqa: PLR0913 - the verdict's inputs, the options keyword-only
        schema: Schema, store: ModelStore, live: Release, group: str, metrics: dict[str, Any],
        holdout: Holdout, *, force: bool = False, accept_new_labels: bool = False, load: Loader | None = None,
        features: Callable[[list[tuple[str, int]]], Any] | None = None) -> GateVerdict:
    """Compare the candidate with the live head on the same rows, which neither was fitted on.

    The comparison is made whatever changed in the group's definition (estimator, params, features,
    `when`): the live head is scored with the feature versions it reads. Only a change of the label
    set makes the two incomparable: then the candidate passes only with `accept_new_labels`, and
    the verdict says so. With `force`, a refused verdict is marked `forced` (released anyway).
    `load` loads a version (default `store.load_version`; a run passes its memo of loaded versions);
    `features`, given the live head's (feature, version) parents, returns the holdout's features
    already transformed by them, or None (then they are transformed here).
    """
    load = load or store.load_version
    spec = schema.groups[group]
    metric = gate_metric_name(spec.type, spec.gate.metric)
    pin = live.groups[group]

    def verdict(passed: bool, **found: Any) -> GateVerdict:
        return GateVerdict(metric=metric, tolerance=spec.gate.tolerance, against=pin.version, n_holdout=len(holdout),
                           passed=passed, forced=force and not passed, **found)

    old_meta = store.group_meta(group, pin.version)
    if old_meta.labels != schema.labels_of(group):
        how = "released as --accept-new-labels asks" if accept_new_labels else \
            "pass --accept-new-labels to release it (or --force)"
        return verdict(accept_new_labels, reason=f"the label set changed (live {version_name(pin.version)}: "
                                                 f"{old_meta.labels}, candidate: {schema.labels_of(group)}), so the "
                                                 f"two cannot be compared; {how}")
    if len(holdout) == 0:
        return verdict(False, reason="no held-out rows to compare on")
    old_head: Head = load("groups", group, pin.version, pin.sha256, pin.meta_sha256)
    x = features(list(old_meta.parents.items())) if features is not None else None
    old_transformers = []
    for f, v in ([] if x is not None else old_meta.parents.items()):
        fpin = live.features.get(f)
        old_transformers.append(load("features", f, v, fpin.sha256 if fpin and fpin.version == v else None, None))
    old = score_on(schema, old_head, old_transformers, holdout, x)
    cand, base = metrics.get(metric), old.get(metric)
    passed = bool(cand is not None and base is not None and cand >= base - spec.gate.tolerance)
    changed = old_meta.spec_hash != schema.group_fingerprint(group)
    return verdict(passed, candidate=cand, live=base, live_metrics=old,
                   reason="the definition changed (estimator, params, features or when); compared on the same rows"
                   if changed else None)
