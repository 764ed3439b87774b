"""The runtime: a loaded release, and the execution of its plan on a batch of rows.

Each feature a batch needs is computed once and shared by every head that reads it; a conditional
head runs only on the rows where its gating head predicted one of its `when` labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compose.data import as_frame, prepare_inputs
from compose.decisions import Decided, decide
from compose.errors import IntegrityError, StoreError
from compose.featurizers import hstack
from compose.heads import Head
from compose.merge import merged_results, results_frame
from compose.planner import Plan, build_plan
from compose.schema import Schema, schema_from_dict
from compose.store import ModelStore


@dataclass
class GroupOutput:
    """What one head produced for a batch: scores (NaN on rows it did not run on) and decisions."""

    group: str
    applied: np.ndarray
    scores: np.ndarray
    decided: Decided
    skipped_reason: list[str | None]


class ComposedModel:
    """A release loaded from a store: the schema, its plan, the fitted features and heads.

    Load one with `compose.load(path)`; `compose.train` returns one too.
    """

    def __init__(self, schema: Schema, features: dict[str, Any], heads: dict[str, Head],
                 release: dict[str, Any], store: ModelStore | None = None) -> None:
        self.schema = schema
        self.plan: Plan = build_plan(schema)
        self.features_ = features
        self.heads_ = heads
        self.release = release
        self.store = store

    @property
    def release_name(self) -> str:
        return str(self.release.get("release", ""))

    @property
    def groups(self) -> list[str]:
        """The groups this release can predict, in plan order."""
        return [g for g in self.plan.groups_in_order() if g in self.heads_]

    def version_of(self, group: str) -> int:
        return int(self.release["groups"][group]["version"])

    def __repr__(self) -> str:
        return (f"ComposedModel(name={self.schema.name!r}, release={self.release_name!r}, "
                f"groups={self.groups})")

    # --- execution -----------------------------------------------------------------------------

    def transform_features(self, inputs: pd.DataFrame, names: list[str] | None = None) -> dict[str, Any]:
        """Each named feature (default: every feature a loaded head reads) computed once."""
        wanted = names if names is not None else sorted({f for h in self.heads_.values() for f in h.features})
        return {f: self.features_[f].transform(inputs) for f in wanted}

    def run(self, data: Any) -> tuple[pd.DataFrame, dict[str, GroupOutput]]:
        """Execute the plan on a batch: the prepared inputs and every group's output."""
        inputs = prepare_inputs(as_frame(data), self.schema)
        blocks = self.transform_features(inputs)
        n = len(inputs)
        outputs: dict[str, GroupOutput] = {}
        for group in self.groups:
            head = self.heads_[group]
            spec = self.schema.groups[group]
            applied, reasons = self._gate(group, n, outputs)
            scores = np.full((n, len(head.labels)), np.nan)
            rows = np.flatnonzero(applied)
            if len(rows):
                x = hstack([blocks[f] for f in head.features])
                scores[rows] = head.scores(x[rows] if len(rows) < n else x)
            decided = decide(spec, head.labels, np.nan_to_num(scores, nan=0.0))
            outputs[group] = GroupOutput(group, applied, scores, decided, reasons)
        return inputs, outputs

    def _gate(self, group: str, n: int, outputs: dict[str, GroupOutput]) -> tuple[np.ndarray, list[str | None]]:
        applied = np.ones(n, dtype=bool)
        reasons: list[str | None] = [None] * n
        for gate, wanted in (self.schema.groups[group].when or {}).items():
            if gate not in outputs:
                applied[:] = False
                reasons = [f"{gate} is not in this release"] * n
                continue
            gate_labels = self.heads_[gate].labels
            chosen = outputs[gate].decided.chosen
            ok = np.isin(chosen, [gate_labels.index(w) for w in wanted])
            for r in np.flatnonzero(applied & ~ok):
                got = gate_labels[chosen[r]] if chosen[r] >= 0 else "undecided"
                reasons[r] = f"{gate} is {got}"
            applied &= ok
        return applied, reasons

    def predict(self, data: Any) -> list[dict[str, Any]]:
        """One merged result per row: flat labels, and per group label(s), confidence, scores, version."""
        _, outputs = self.run(data)
        return merged_results(self, outputs)

    def predict_one(self, row: dict[str, Any]) -> dict[str, Any]:
        """The merged result of a single row given as a mapping of input name to value."""
        return self.predict([row])[0]

    def predict_frame(self, data: Any) -> pd.DataFrame:
        """The merged results as a flat table: per group its label(s) and confidence."""
        _, outputs = self.run(data)
        return results_frame(self, outputs)

    def predict_scores(self, data: Any) -> dict[str, np.ndarray]:
        """Per group, the raw scores (n_rows, n_labels); NaN rows where a conditional head did not run."""
        _, outputs = self.run(data)
        return {g: o.scores for g, o in outputs.items()}


def load(path: str | Path, *, model: str | None = None, release: str | None = None) -> ComposedModel:
    """Load the live release (or `release`) of a model folder, or of the only model under a store root.

    Every artifact's sha256 is checked against its meta.json and the release before it is loaded.
    """
    store = ModelStore.open(path, model)
    record = store.release(release)
    try:
        schema = schema_from_dict(record["schema"], source=f"{store.path}/releases/{record['release']}.json")
    except KeyError as exc:
        raise IntegrityError(f"release {record.get('release')!r} in {store.path} has no schema") from exc
    features: dict[str, Any] = {}
    for name, pin in record.get("features", {}).items():
        meta = store.meta("features", name, pin["version"])
        if meta.get("spec_hash") != schema.feature_fingerprint(name):
            raise StoreError(f"feature {name!r} v{pin['version']:04d} was fitted for another definition of "
                             f"the feature; retrain it: compose retrain SCHEMA --feature {name} ...")
        features[name] = store.load_version("features", name, pin["version"], pin.get("sha256"))
    heads: dict[str, Head] = {}
    for group, pin in record.get("groups", {}).items():
        if group not in schema.groups:
            continue
        meta = store.meta("groups", group, pin["version"])
        if meta.get("spec_hash") != schema.group_fingerprint(group):
            raise StoreError(f"group {group!r} v{pin['version']:04d} was trained for another definition of the "
                             f"group (labels, features, model or when changed); retrain it: "
                             f"compose train SCHEMA --only {group} --data FILE --store DIR")
        parents = meta.get("parents", {})
        for f, v in parents.items():
            if record["features"].get(f, {}).get("version") != v:
                raise IntegrityError(f"group {group!r} v{pin['version']:04d} reads feature {f!r} v{v:04d}, but "
                                     f"release {record['release']} pins another version; retrain the group")
        heads[group] = store.load_version("groups", group, pin["version"], pin.get("sha256"))
    return ComposedModel(schema, features, heads, record, store)
