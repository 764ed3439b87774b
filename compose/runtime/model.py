"""The runtime: a loaded release, and the execution of its plan on a batch of rows.

Each feature a batch needs is computed once and shared by every head that reads it; a conditional
head runs only on the rows where its gating head predicted one of its `when` labels. The model
plugs its scoring (`HeadScorer`) into the execution core (`compose.runtime.execute`), which gates,
decides and merges, as it does for the ONNX runner.

Linear heads are fused at load time (`compose.heads.fused`): one product per feature scores all of
them. A single row or a small list of row mappings takes the row path (`compose.featurize.rows`),
which types and featurizes each row without pandas; anything it does not handle itself goes
through `prepare_inputs`, the one place inputs are validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from compose.data.io import as_frame
from compose.data.targets import prepare_inputs
from compose.featurize.base import RowFeature, RowFeaturizer, featurizer_of, hstack
from compose.featurize.rows import compile_row_featurizer, prepare_row, stack_rows
from compose.heads.fused import FusedHeads, fuse_heads
from compose.heads.head import Head
from compose.plan import Plan, build_plan
from compose.registry import Registry, resolve
from compose.runtime.execute import execute
from compose.runtime.outputs import GroupOutput
from compose.runtime.predictions import Predictions
from compose.schema.models import Schema
from compose.store.records import Release
from compose.store.store import ModelStore
from compose.typing import MergedResult

#: Lists of at most this many row mappings take the row path (no pandas); longer ones the batch path.
SMALL_BATCH = 64


class HeadScorer:
    """The `Scorer` of a loaded release on one batch: the fused linear path for the groups it holds
    (one product per feature, `z`), each other head's own `scores` on its stacked features."""

    def __init__(self, model: ComposedModel, blocks: Mapping[str, Any], z: np.ndarray | None) -> None:
        self.model = model
        self.blocks = blocks
        self.z = z
        self.stacked: dict[tuple[str, ...], Any] = {}  # hstacked blocks, once per feature tuple

    def scores(self, group: str, rows: np.ndarray | None) -> np.ndarray:
        fused, z = self.model.fused_, self.z
        if z is not None and group in fused.programs:
            return fused.scores(group, z if rows is None else z[rows])
        head = self.model.heads_[group]
        key = tuple(head.features)
        if key not in self.stacked:
            self.stacked[key] = hstack([self.blocks[f] for f in head.features])
        x = self.stacked[key]
        return head.scores(x if rows is None else x[rows])


class ComposedModel:
    """A release loaded from a store: the schema, its plan, the fitted features and heads.

    Load one with `compose.load(path)`; `compose.train` returns one too. `registry` gives each
    feature's featurizer (its width and row path); it is not kept, and a model pickles (the row
    featurizers and fused heads are plain classes).
    """

    def __init__(self, schema: Schema, features: dict[str, Any], heads: dict[str, Head],
                 release: Release, store: ModelStore | None = None, *, fuse: bool = True,
                 registry: Registry | None = None) -> None:
        self.schema = schema
        self.plan: Plan = build_plan(schema)
        self.features_ = features
        self.heads_ = heads
        self.release = release
        self.store = store
        self._order: tuple[tuple[str, ...], list[str]] | None = None  # the plan order, computed once
        used = sorted({f for h in heads.values() for f in h.features if f in features})
        reg = resolve(registry)
        featurizers = {f: featurizer_of(schema, f, reg) for f in used}
        self.widths_: dict[str, int] = {f: featurizers[f].width(features[f]) for f in used}
        self.fused_: FusedHeads = fuse_heads(heads, self.widths_) if fuse else fuse_heads({}, {})
        self.row_featurizers_: dict[str, tuple[RowFeaturizer, str]] = {
            f: compile_row_featurizer(featurizers[f], features[f], schema) for f in used}

    @property
    def fused_groups(self) -> tuple[str, ...]:
        """The groups scored by the fused linear path; the others use their heads' own `scores`."""
        return self.fused_.groups

    @property
    def release_name(self) -> str:
        return self.release.release

    @property
    def groups(self) -> list[str]:
        """The groups this release can predict, in plan order."""
        key = tuple(self.heads_)
        if self._order is None or self._order[0] != key:
            self._order = (key, [g for g in self.plan.groups_in_order() if g in self.heads_])
        return list(self._order[1])

    def version_of(self, group: str) -> int:
        return self.release.groups[group].version

    def __repr__(self) -> str:
        return (f"ComposedModel(name={self.schema.name!r}, release={self.release_name!r}, "
                f"groups={self.groups})")

    # --- execution -----------------------------------------------------------------------------

    def transform_features(self, inputs: pd.DataFrame, names: list[str] | None = None) -> dict[str, Any]:
        """Each named feature (default: every feature a loaded head reads) computed once."""
        wanted = names if names is not None else sorted({f for h in self.heads_.values() for f in h.features})
        if len(inputs) == 0:  # scikit-learn's imputers refuse zero rows; an empty batch has empty blocks
            return {f: np.zeros((0, self.widths_[f])) for f in wanted}
        return {f: self.features_[f].transform(inputs) for f in wanted}

    def run(self, data: Any) -> tuple[pd.DataFrame, dict[str, GroupOutput]]:
        """Execute the plan on a batch: the prepared inputs and every group's output."""
        inputs = prepare_inputs(as_frame(data), self.schema)
        blocks = self.transform_features(inputs)
        z = self.fused_.logits(blocks) if self.fused_.groups and len(inputs) else None
        return inputs, self._execute(len(inputs), blocks, z)

    def _execute(self, n: int, blocks: Mapping[str, Any], z: np.ndarray | None) -> dict[str, GroupOutput]:
        """Every group's output, through the execution core, scored from the fused logits `z` and
        the feature blocks of the other heads."""
        return execute(self, HeadScorer(self, blocks, z), n)

    def _run_rows(self, rows: Sequence[Any]) -> dict[str, GroupOutput] | None:
        """The row path for a few row mappings; None when a row needs the pandas path (validation)."""
        prepared: list[dict[str, Any]] = []
        for row in rows:
            values = prepare_row(self.schema, row) if isinstance(row, Mapping) else None
            if values is None:
                return None
            prepared.append(values)
        features: dict[str, list[RowFeature]] = {
            f: [featurize(values) for values in prepared] for f, (featurize, _) in self.row_featurizers_.items()}
        z = None
        if self.fused_.groups and prepared:
            z = np.vstack([self.fused_.logits_row({f: features[f][i] for f in self.fused_.weights})
                           for i in range(len(prepared))])
        wanted = {f for g, h in self.heads_.items() if g not in self.fused_.programs for f in h.features}
        blocks = {f: stack_rows(features[f], self.widths_[f], bool(features[f]) and isinstance(features[f][0], tuple))
                  for f in wanted}
        return self._execute(len(prepared), blocks, z)

    def _outputs(self, data: Any) -> dict[str, GroupOutput]:
        if isinstance(data, list) and len(data) <= SMALL_BATCH:
            outputs = self._run_rows(data)
            if outputs is not None:
                return outputs
        return self.run(data)[1]

    def predict(self, data: Any) -> Predictions:
        """One merged result per row: flat labels, and per group label(s), confidence, scores, version.

        A `Predictions` sequence backed by per-group arrays: index it or iterate it for the merged
        results (dicts), or export it whole with `to_frame()`, `to_arrow()`, `to_jsonl()`, `to_parquet()`.
        """
        return Predictions(self, self._outputs(data))

    def predict_one(self, row: Mapping[str, Any]) -> MergedResult:
        """The merged result of a single row given as a mapping of input name to value.

        The same result as `predict([row])[0]`, through the row path: no pandas, one fused product.
        """
        return Predictions(self, self._outputs([row]))[0]

    def predict_frame(self, data: Any) -> pd.DataFrame:
        """The merged results as a flat table (`predict(data).to_frame()`): per group its label(s) and confidence."""
        return Predictions(self, self._outputs(data)).to_frame()

    def predict_scores(self, data: Any) -> dict[str, np.ndarray]:
        """Per group, the raw scores (n_rows, n_labels); NaN rows where a conditional head did not run."""
        return {g: o.scores for g, o in self._outputs(data).items()}
