"""Predicting a data file of any size in bounded memory: read a batch, predict it, append it, repeat.

`predict_file` reads the input with `compose.data.io.iter_batches`, validates and predicts each
batch, and appends it to a temporary file beside the output (Parquet through one `ParquetWriter`,
JSON Lines through `Predictions.to_jsonl`, CSV through `to_frame`). The temporary file is renamed
into place only after the last batch, so an error anywhere (a bad cell in the last row, a full
disk, an interrupt) leaves no output and no partial file; a bad cell is named by its row in the
whole file. An output path that is one of the inputs is refused before anything is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from compose.data.io import iter_batches, source_of
from compose.errors import DataError
from compose.runtime.predictions import Predictions

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from compose.runtime.model import ComposedModel

OUTPUTS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def output_kind(out: str | Path) -> str:
    """`jsonl`, `csv` or `parquet` from the output's suffix; an unknown suffix is a DataError."""
    suffix = Path(out).suffix.lower()
    if suffix not in OUTPUTS:
        raise DataError(f"--out {out}: unknown output type {suffix!r}; use .jsonl (merged results), "
                        ".csv or .parquet (a flat table)")
    return OUTPUTS[suffix]


def refuse_overwriting_inputs(out: str | Path, inputs: Sequence[str | Path]) -> None:
    """Refuse an output path that is (or links to) one of the input files."""
    target = Path(out).resolve()
    for path in inputs:
        p = Path(path)
        if p.resolve() == target or (p.exists() and target.exists() and os.path.samefile(p, target)):
            raise DataError(f"--out {out} is the input file {str(p)!r}: predicting would replace the data with "
                            "the predictions; write them to another path")


@dataclass
class IdColumn:
    """The input column passed through to the output (`--id`), named as in the input."""

    name: str

    def values(self, batch: pd.DataFrame) -> list[Any]:
        if self.name not in batch.columns:
            raise DataError(f"{source_of(batch)}: no column {self.name!r} to pass through with --id; the file has "
                            f"{list(batch.columns)[:20]}")
        return list(batch[self.name].tolist())


class _Writer:
    """Appends predictions to one temporary file of one kind."""

    def __init__(self, kind: str, path: Path, id_column: IdColumn | None) -> None:
        self.kind, self.path, self.id_column = kind, path, id_column
        self._fh: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._header = True

    def write(self, preds: Predictions, ids: list[Any] | None) -> None:
        if self.kind == "jsonl":
            if self._fh is None:
                self._fh = self.path.open("wb")
            preds.to_jsonl(self._fh, ids=None if ids is None or self.id_column is None
                           else (self.id_column.name, ids))
        elif self.kind == "csv":
            frame = self._with_ids(preds.to_frame(), ids)
            if self._fh is None:
                self._fh = self.path.open("wb")
            frame.to_csv(self._fh, index=False, header=self._header, encoding="utf-8")
            self._header = False
        else:
            self._write_parquet(preds.to_arrow(), ids)

    def _with_ids(self, frame: pd.DataFrame, ids: list[Any] | None) -> pd.DataFrame:
        if ids is not None and self.id_column is not None:
            if self.id_column.name in frame.columns:
                raise DataError(f"--id {self.id_column.name}: the output already has a column of that name; pass an "
                                "id column with another name")
            frame.insert(0, self.id_column.name, ids)
        return frame

    def _write_parquet(self, table: pa.Table, ids: list[Any] | None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if ids is not None and self.id_column is not None:
            if self.id_column.name in table.column_names:
                raise DataError(f"--id {self.id_column.name}: the output already has a column of that name; pass an "
                                "id column with another name")
            table = table.add_column(0, self.id_column.name, pa.array(pd.Series(ids, dtype=object), from_pandas=True))
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise DataError(f"--id {self.id_column.name if self.id_column else ''}: the id column changes type "
                                f"between batches ({exc}); make it one type") from exc
        self._parquet.write_table(table)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._parquet is not None:
            self._parquet.close()

    def finish(self, empty: Predictions) -> None:
        """Make sure a file exists (an input without rows gives an output without rows)."""
        if self._fh is None and self._parquet is None:
            self.write(empty, [] if self.id_column else None)


def predict_file(model: ComposedModel, data: str | Path, out: str | Path, *, batch_size: int = 20_000,
                 id_column: str | None = None, on_batch: Callable[[int], None] | None = None) -> int:
    """Predict every row of a data file into `out` (.jsonl, .csv or .parquet), batch by batch; return the rows.

    `id_column` names an input column written first in the output. `on_batch(rows)` is called
    after each batch (progress).
    """
    kind = output_kind(out)
    if batch_size < 1:
        raise DataError(f"--batch-size must be at least 1; got {batch_size}")
    refuse_overwriting_inputs(out, [data])
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    ids = IdColumn(id_column) if id_column else None
    writer = _Writer(kind, tmp, ids)
    rows = 0
    try:
        try:
            for batch in iter_batches(data, batch_size):
                preds = model.predict(batch)
                writer.write(preds, ids.values(batch) if ids else None)
                rows += len(batch)
                if on_batch is not None:
                    on_batch(len(batch))
            if rows == 0:
                writer.finish(model.predict(pd.DataFrame({name: [] for name in model.schema.inputs})))
        finally:
            writer.close()
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def write_predictions(preds: Predictions, path: str | Path, *, id_column: str | None = None,
                      ids: list[Any] | None = None) -> Path:
    """Write one batch of predictions to `path` (.jsonl, .csv or .parquet), with the id column first if given."""
    p = Path(path)
    writer = _Writer(output_kind(p), p, IdColumn(id_column) if id_column else None)
    try:
        writer.write(preds, ids)
    finally:
        writer.close()
    return p
