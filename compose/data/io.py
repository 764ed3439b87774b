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


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines or Parquet file. Only empty cells are missing in CSV."""
    p = Path(path)
    kind = file_kind(p)
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist; check the path")
    if p.stat().st_size == 0:
        raise DataError(f"data file {str(p)!r} is empty; it needs a header row and at least one row of data")
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
