"""`Predictions`: the results of a batch, a sequence of merged results backed by per-group arrays.

`ComposedModel.predict` returns one. It reads as a list of merged-result mappings (the JSON shape
of the README: `labels`, `groups`, `release`, and `review` when a group sent the row to review),
so `preds[i]`, `len(preds)`, `list(preds)` and `preds == [...]` work as they did on a list. A
merged result is built only when it is asked for. The exports read the arrays directly and never
build one per row: `to_frame()` and `to_arrow()` turn label indices into categorical
(dictionary) columns, `to_parquet(path)` writes that table, and `to_jsonl(path)` writes the merged
results as JSON Lines from per-group string fragments (orjson when installed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from compose.heads.decide import Decided
from compose.runtime.columnar import ResultColumns, dumps, jsonl_text, merged_dicts
from compose.runtime.columns import GroupColumns
from compose.runtime.hierarchy import result_groups
from compose.runtime.merge import merged_results
from compose.runtime.outputs import GroupOutput, ModelView
from compose.typing import MergedResult

if TYPE_CHECKING:
    import pyarrow as pa

_CHUNK = 8192  # rows turned into Python objects at a time
ROW_PATH_ROWS = 64  # up to this many rows, merged results are built row by row (compose.runtime.merge)


def _slice_output(output: GroupOutput, rows: slice | np.ndarray) -> GroupOutput:
    d = output.decided
    decided = Decided(d.chosen[rows], d.confidence[rows], d.abstained[rows],
                      None if d.selected is None else d.selected[rows], None if d.review is None else d.review[rows])
    reasons = output.skipped_reason
    picked = reasons[rows] if isinstance(rows, slice) else [reasons[int(r)] for r in rows]
    return GroupOutput(output.group, output.applied[rows], output.scores[rows], decided, list(picked))


class Predictions(Sequence[MergedResult]):
    """The merged results of a batch, one per row, computed from per-group arrays on demand.

    `outputs` maps each group (in plan order) to what its head produced for the batch.
    """

    def __init__(self, model: ModelView, outputs: dict[str, GroupOutput]) -> None:
        self._model = model
        self.outputs = outputs
        self.release = model.release_name
        self._n = len(next(iter(outputs.values())).applied) if outputs else 0
        self._columns: list[ResultColumns] | None = None
        self._rows: list[MergedResult] | None = None  # the row path's results, for a few rows

    @property
    def groups(self) -> list[str]:
        return list(self.outputs)

    @property
    def columns_(self) -> list[ResultColumns]:
        if self._columns is None:
            self._columns = [GroupColumns.of(self._model, self.outputs[g]) if tree is None else tree
                             for g, tree in result_groups(self._model, self.outputs)]
        return self._columns

    def scores(self, group: str) -> np.ndarray:
        """The raw scores of a group, (n_rows, n_labels); NaN rows where a conditional head did not run."""
        return self.outputs[group].scores

    # --- the sequence ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> MergedResult: ...

    @overload
    def __getitem__(self, index: slice) -> Predictions: ...

    def __getitem__(self, index: int | slice) -> MergedResult | Predictions:
        if isinstance(index, slice):
            return Predictions(self._model, {g: _slice_output(o, index) for g, o in self.outputs.items()})
        i = int(index)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"row {index} is out of range for {self._n} predictions")
        return self._dicts(i, i + 1)[0]

    def __iter__(self) -> Iterator[MergedResult]:
        for start in range(0, self._n, _CHUNK):
            yield from self._dicts(start, min(start + _CHUNK, self._n))

    def to_list(self) -> list[MergedResult]:
        """Every merged result as a plain list of dicts."""
        out: list[MergedResult] = []
        for start in range(0, self._n, _CHUNK):
            out.extend(self._dicts(start, min(start + _CHUNK, self._n)))
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Predictions):
            return len(self) == len(other) and self.to_list() == other.to_list()
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and self.to_list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and compared by value, like a list

    def __repr__(self) -> str:
        return f"Predictions({self._n} rows, groups={self.groups}, release={self.release!r})"

    # --- merged results as dicts ------------------------------------------------------------------

    def _dicts(self, start: int, stop: int) -> list[MergedResult]:
        if self._n <= ROW_PATH_ROWS:
            if self._rows is None:
                self._rows = merged_results(self._model, self.outputs)
            return self._rows[start:stop]  # the same dicts each time, as a list would hold them
        return self._columnar_dicts(start, stop)

    def _columnar_dicts(self, start: int, stop: int) -> list[MergedResult]:
        return merged_dicts(self.columns_, self.release, start, stop)

    # --- columnar exports -----------------------------------------------------------------------

    def _table_columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for c in self.columns_:
            cols.update(c.table())
        cols["release"] = (np.zeros(self._n, dtype=np.int32), [self.release])
        return cols

    def to_frame(self) -> pd.DataFrame:
        """A flat table, one row per input row: labels as categorical columns, scores as floats.

        Per group: `<group>` (the label, or a multilabel group's labels joined by '|'),
        `<group>_confidence` (multiclass, binary), `<group>_score_<label>` (multilabel),
        `<group>_labels` (top_k, cumulative), `<group>_review` (zones), `<group>_source` (a zero-shot
        head: `zero-shot` where it ran) and `<group>_outcome`;
        then `release`. A group that did not run on a row (or gave no label) is missing there.
        """
        data: dict[str, Any] = {}
        for name, col in self._table_columns().items():
            if isinstance(col, tuple):
                codes, categories = col
                data[name] = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))
            else:
                data[name] = col
        return pd.DataFrame(data, index=pd.RangeIndex(self._n), copy=False)

    def to_arrow(self) -> pa.Table:
        """The table of `to_frame()` as a pyarrow Table: dictionary-encoded labels, nulls where missing."""
        import pyarrow as pa

        arrays: dict[str, Any] = {}
        for name, col in self._table_columns().items():
            if isinstance(col, tuple):
                codes, categories = col
                indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
                arrays[name] = pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))
            elif col.dtype == bool:
                arrays[name] = pa.array(col, type=pa.bool_())
            else:
                arrays[name] = pa.array(col, type=pa.float64(), mask=np.isnan(col))
        return pa.table(arrays)

    def to_parquet(self, path: str | Path) -> Path:
        """Write `to_arrow()` as one Parquet file; return the path."""
        import pyarrow.parquet as pq

        p = Path(path)
        pq.write_table(self.to_arrow(), p)
        return p

    def to_jsonl(self, path: str | Path | IO[bytes], *, ids: tuple[str, Sequence[Any]] | None = None) -> None:
        """Write one merged result per line (JSON Lines, UTF-8), without building them as dicts.

        `ids` (a column name and one value per row) puts that key first in every line.
        """
        if isinstance(path, (str, Path)):
            with Path(path).open("wb") as fh:
                self.to_jsonl(fh, ids=ids)
            return
        for start in range(0, self._n, _CHUNK):
            stop = min(start + _CHUNK, self._n)
            prefix = None
            if ids is not None:
                key = dumps(ids[0])
                prefix = [f"{key}:{dumps(v)}," for v in ids[1][start:stop]]
            path.write(jsonl_text(self.columns_, self.release, start, stop, prefix).encode("utf-8"))
