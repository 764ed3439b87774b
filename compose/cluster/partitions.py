"""`predict_partitions`: predict a set of data files on a Dask cluster, one output part per input part.

Each input file is one partition of a `dask.dataframe` (`from_map`); `map_partitions` predicts a
partition on a worker, which loads the release from the store once per process (the store and the
output folder must be on a filesystem the workers share, as for `dask.dataframe.to_parquet`) and
writes the part under a temporary folder inside the output folder. Only when every part is done
are the parts renamed into place, each named as its input file; an error anywhere leaves none.
"""

from __future__ import annotations

import glob
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from compose.cluster._dask import connect
from compose.data.io import file_kind, read_table
from compose.errors import DataError
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.runtime.stream import IdColumn, output_kind, refuse_overwriting_inputs, write_predictions

_MODELS: dict[tuple[str, str | None, str | None], ComposedModel] = {}  # per worker process: loaded once


def _model(store: str, name: str | None, release: str | None) -> ComposedModel:
    key = (store, name, release)
    if key not in _MODELS:
        _MODELS[key] = load(store, model=name, release=release)
    return _MODELS[key]


def _predict_partition(df: pd.DataFrame, store: str, name: str | None, release: str | None, sources: list[str],
                       parts: str, id_column: str | None, partition_info: dict[str, Any] | None = None
                       ) -> pd.DataFrame:
    number = int(partition_info["number"]) if partition_info else 0
    source = sources[number]
    df = df.reset_index(drop=True)
    df.attrs["source"] = source
    preds = _model(store, name, release).predict(df)
    ids = IdColumn(id_column).values(df) if id_column else None
    write_predictions(preds, Path(parts) / Path(source).name, id_column=id_column, ids=ids)
    return pd.DataFrame({"rows": [len(df)]})


def _empty(path: str) -> pd.DataFrame:
    """The columns of a data file, without reading its rows (meta for dask)."""
    if file_kind(Path(path)) == "parquet":
        import pyarrow.parquet as pq

        empty: pd.DataFrame = pq.read_schema(path).empty_table().to_pandas()
        return empty
    return read_table(path).head(0)


def expand(data: str | Sequence[str]) -> list[str]:
    """The input files of a glob pattern (or a list of paths), sorted; none is a DataError."""
    patterns = [data] if isinstance(data, str) else list(data)
    files = sorted({f for p in patterns for f in (glob.glob(p) or ([p] if Path(p).is_file() else []))})
    if not files:
        raise DataError(f"--data {data!r}: no file matches; check the pattern (quote it: 'dir/*.parquet')")
    return files


def predict_partitions(store: str | Path, data: str | Sequence[str], out: str | Path, *, scheduler: Any,
                       model: str | None = None, release: str | None = None, id_column: str | None = None) -> int:
    """Predict every file of `data` on the cluster into the folder `out` (one part per file); return the rows.

    A part is written in the format of its input (.parquet, .csv or .jsonl) under the input's name.
    """
    files = expand(data)
    outdir = Path(out)
    if outdir.exists() and not outdir.is_dir():
        raise DataError(f"--out {out}: with --scheduler the output is a folder (one part per input file); "
                        "give a folder path")
    names = [Path(f).name for f in files]
    if len(set(names)) != len(names):
        raise DataError(f"--data {data!r}: two input files share a name, so their parts would collide in {out}")
    for f in files:
        output_kind(f)  # every input's format is also a part's format
        refuse_overwriting_inputs(outdir / Path(f).name, files)
    load(store, model=model, release=release)  # fail here, before the cluster, on a wrong store
    outdir.mkdir(parents=True, exist_ok=True)
    parts = outdir / f".compose-parts-{uuid.uuid4().hex[:8]}"
    parts.mkdir()
    client, owned = connect(scheduler)
    import dask.dataframe as dd

    try:
        with client.as_current():
            rows = _compute(dd, client, store, files, parts, model, release, id_column)
        for name in names:
            (parts / name).replace(outdir / name)
        return rows
    finally:
        shutil.rmtree(parts, ignore_errors=True)
        if owned:
            client.close()


def _compute(dd: Any, client: Any, store: str | Path, files: list[str], parts: Path, model: str | None,
             release: str | None, id_column: str | None) -> int:
    """One partition per file (`from_map`), predicted and written on a worker (`map_partitions`)."""
    frame = dd.from_map(read_table, files, meta=_empty(files[0]), enforce_metadata=False)
    counts = frame.map_partitions(
        _predict_partition, str(store), model, release, files, str(parts), id_column,
        meta=pd.DataFrame({"rows": pd.Series([], dtype="int64")}), enforce_metadata=False)
    return int(client.compute(counts).result()["rows"].sum())
