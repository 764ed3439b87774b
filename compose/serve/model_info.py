"""`GET /v1/model`: the live release described from its record and its versions' meta.json."""

from __future__ import annotations

import math
from typing import Any

from compose.serve.holder import Live
from compose.store.names import release_name
from compose.store.records import decision_version
from compose.store.store import ModelStore


def _finite(value: Any) -> Any:
    """JSON has no NaN: a metric that is not a finite number is reported as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def model_info(live: Live, store: ModelStore) -> dict[str, Any]:
    """The release's name, note and parent; per group its version, holdout metrics and decision in force."""
    model = live.model
    record = model.release
    groups: dict[str, Any] = {}
    for group in model.groups:
        version = model.version_of(group)
        meta = store.group_meta(group, version)
        spec = model.schema.groups[group]
        groups[group] = {
            "type": spec.type, "labels": list(model.heads_[group].labels), "version": version,
            "versions": store.versions("groups", group), "created": meta.created,
            "n_train": meta.n_train, "n_holdout": meta.n_holdout,
            "gate_metric": meta.gate_metric, "metrics": _finite(meta.metrics),
            "decision": spec.decision.model_dump(exclude_none=True, exclude_defaults=True) | {
                "policy": spec.decision.policy_of(spec.type)},
            "decision_version": decision_version(record, group),
            "source": model.heads_[group].source,
        }
    features = {name: {"version": pin.version, "versions": store.versions("features", name)}
                for name, pin in record.features.items()}
    return {"model": store.name, "release": live.release, "created": record.created,
            "note": record.note, "parent": record.parent,
            "releases": [release_name(n) for n in store.release_numbers()], "groups": groups, "features": features}
