"""Reading and writing data files: CSV, TSV, JSON Lines, JSON and Parquet, optionally compressed."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from compose.errors import DataError

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
            ".parquet": "parquet", ".pq": "parquet"}

COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")


def file_kind(path: Path) -> str:
    """`csv`, `tsv`, `jsonl`, `json` or `parquet`, from the suffix (a compression suffix is skipped)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    kind = SUFFIXES.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise DataError(f"{path}: unknown file type {''.join(path.suffixes) or '(none)'!r}; use one of "
                        f"{sorted(SUFFIXES)}, optionally compressed ({', '.join(COMPRESSIONS)})")
    return kind


def _readable(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    kind = file_kind(p)
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist; check the path")
    if p.stat().st_size == 0:
        raise DataError(f"data file {str(p)!r} is empty; it needs a header row and at least one row of data")
    return p, kind


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines or Parquet file. Only empty cells are missing in CSV."""
    p, kind = _readable(path)
    try:
        if kind in ("csv", "tsv"):
            df = pd.read_csv(p, sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False,
                             na_values=[""], encoding="utf-8")
        elif kind == "jsonl":
            df = pd.read_json(p, lines=True, dtype=False)
        elif kind == "json":
            df = pd.read_json(p, dtype=False)
        else:
            df = pd.read_parquet(p)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {p} as {kind}: {str(exc).splitlines()[0]}") from exc
    except ImportError as exc:
        raise DataError(f"reading {p} needs an optional package: {exc}; pip install pyarrow") from exc
    df.columns = [str(c) for c in df.columns]
    df.attrs["source"] = str(p)
    return df


def _chunks(p: Path, kind: str, batch_size: int) -> Iterator[pd.DataFrame]:
    if kind == "parquet":
        import pyarrow.parquet as pq

        # pre_buffer=False: with it, pyarrow keeps the buffered column chunks of the whole file
        # alive, and memory grows with the file instead of with the batch.
        with pq.ParquetFile(p, pre_buffer=False) as pf:
            for batch in pf.iter_batches(batch_size=batch_size):
                yield batch.to_pandas()
    elif kind in ("csv", "tsv"):
        with pd.read_csv(p, sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False, na_values=[""],
                         encoding="utf-8", chunksize=batch_size) as reader:
            yield from reader
    elif kind == "jsonl":
        with pd.read_json(p, lines=True, dtype=False, chunksize=batch_size) as reader:
            yield from reader
    else:  # a JSON array cannot be read in parts
        df = pd.read_json(p, dtype=False)
        for start in range(0, len(df), batch_size):
            yield df.iloc[start:start + batch_size].reset_index(drop=True)


def iter_batches(path: str | Path, batch_size: int) -> Iterator[pd.DataFrame]:
    """Read a data file in batches of at most `batch_size` rows, in bounded memory.

    Parquet is read row group by row group (`iter_batches`, without pre-buffering), CSV, TSV and
    JSON Lines in chunks. Each batch is numbered from 0 and carries the file's name in
    `attrs["source"]` and the position of its first row in the whole file in `attrs["first_row"]`,
    so an error names the row in the file, not in the batch.
    """
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1; got {batch_size}")
    p, kind = _readable(path)
    first = 0
    chunks = _chunks(p, kind, batch_size)
    while True:
        try:
            df = next(chunks)
        except StopIteration:
            return
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read {p} as {kind} after row {first}: {str(exc).splitlines()[0]}") from exc
        df.columns = [str(c) for c in df.columns]
        df.index = pd.RangeIndex(len(df))
        df.attrs["source"] = str(p)
        df.attrs["first_row"] = first
        first += len(df)
        yield df


def count_rows(path: str | Path) -> int | None:
    """The number of data rows of a file when it is cheap to know (Parquet metadata), else None."""
    p = Path(path)
    if file_kind(p) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(p).metadata.num_rows)


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a path, a DataFrame, a mapping of columns or a list of row mappings."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return read_table(data)
    if isinstance(data, Mapping):
        return pd.DataFrame({k: list(v) if isinstance(v, Iterable) and not isinstance(v, str) else [v]
                             for k, v in data.items()})
    if isinstance(data, list):
        return pd.DataFrame.from_records(data)
    raise DataError(f"cannot read data of type {type(data).__name__}; pass a file path, a pandas "
                    "DataFrame, or a list of row mappings")


def source_of(df: pd.DataFrame) -> str:
    return str(df.attrs.get("source", "the data"))


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (where the platform allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; on success it is synced and renamed onto `path`.

    Readers see the old file or the new one, never a mix; on an error the temporary file is
    removed and `path` is untouched. Each call gets its own temporary name, so two writers of
    the same path never write into one file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to `path` atomically (see `atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
    return Path(path)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a CSV, TSV, JSON Lines or Parquet file (by its suffix) atomically; return the path."""
    p = Path(path)
    kind = file_kind(p)
    try:
        with atomic_path(p) as tmp:
            if kind in ("csv", "tsv"):
                df.to_csv(tmp, index=False, sep="," if kind == "csv" else "\t")
            elif kind == "jsonl":
                df.to_json(tmp, orient="records", lines=True, force_ascii=False)
            elif kind == "json":
                df.to_json(tmp, orient="records", force_ascii=False)
            else:
                df.to_parquet(tmp, index=False)
    except ImportError as exc:
        raise DataError(f"writing {p} needs an optional package: {exc}; pip install pyarrow") from exc
    return p
