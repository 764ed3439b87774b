"""Reading and writing data files: CSV, TSV, JSON Lines, JSON and Parquet, optionally compressed."""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import importlib
import io
import json
import lzma
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

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


_TOOLS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zip": "unzip"}
_MODULES = {".zst": "zstandard"}
_MACHINE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EIO, errno.ENOENT, errno.ENOSPC, errno.EMFILE, errno.ENOMEM}


def _compression(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return suffix if suffix in COMPRESSIONS else None


def _open_text(path: Path) -> IO[str]:
    """`path` opened as UTF-8 text, decompressed by its suffix (a .zip must hold one file)."""
    suffix = _compression(path)
    if suffix is None:
        return path.open("r", encoding="utf-8")
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    if suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8")
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise DataError(f"{path}: a .zip data file must hold exactly one file; it holds {len(members)} "
                            f"({members[:5]}); zip one file or unpack it")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8")
    zstandard = importlib.import_module("zstandard")  # optional; read_table names it when it is missing
    stream: IO[bytes] = zstandard.open(path, "rb")
    return io.TextIOWrapper(stream, encoding="utf-8")


def _corrupt(path: Path, exc: BaseException) -> DataError:
    suffix = _compression(path)
    cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if suffix is None:
        return DataError(f"cannot read {path}: {cause}; check that it is a whole, uncorrupted file")
    return DataError(f"{path}: the {suffix} compressed data is truncated or corrupt ({cause}); write or copy the "
                     f"file again (`{_TOOLS[suffix]} -t {path}` tests it)")


def _check_columns(path: Path, names: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears twice (columns {seen[name] + 1} and {i + 1}); "
                            "every column needs its own name: rename or remove one")
        seen[name] = i


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=_object_pairs)
            except RecursionError:
                raise DataError(f"{path}, line {number}: the JSON is nested too deeply to read; flatten it") from None
            except ValueError as exc:
                raise DataError(f"{path}, line {number}: not valid JSON ({str(exc).splitlines()[0]}); every line "
                                'must be one JSON object such as {"title": "Alien", "runtime": 117}') from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: expected one JSON object per line, got "
                                f"{type(row).__name__} {line.strip()[:40]!r}; write each row as "
                                '{"column": value, ...}')
            rows.append(row)
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame()


def _read_json(path: Path) -> pd.DataFrame:
    with _open_text(path) as fh:
        try:
            data = json.load(fh, object_pairs_hook=_object_pairs)
        except RecursionError:
            raise DataError(f"{path}: the JSON is nested too deeply to read; flatten it") from None
        except ValueError as exc:
            raise DataError(f"{path}: not valid JSON ({str(exc).splitlines()[0]}); write a list of row objects "
                            "(orient=records)") from exc
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data) if data else pd.DataFrame()
    raise DataError(f"{path}: expected a JSON list of row objects such as [{{\"title\": \"Alien\"}}], got "
                    f"{type(data).__name__}{' with items that are not objects' if isinstance(data, list) else ''}; "
                    "write one object per row")


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    options: dict[str, Any] = {"sep": sep, "dtype": str, "keep_default_na": False, "na_values": [""],
                               "encoding": "utf-8"}
    header = pd.read_csv(path, header=None, nrows=1, **options)
    _check_columns(path, ["" if pd.isna(v) else str(v) for v in header.iloc[0]] if len(header) else [])
    frame: pd.DataFrame = pd.read_csv(path, **options)
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines, JSON or Parquet file, optionally compressed. Only empty cells are
    missing in CSV. Duplicate column names, truncated or corrupt files are a DataError naming the file."""
    p = Path(path)
    kind = file_kind(p)
    if p.exists() and not p.is_file():
        raise DataError(f"data file {str(p)!r} is a folder, not a file; give the path of a data file")
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist; check the path")
    if p.stat().st_size == 0:
        raise DataError(f"data file {str(p)!r} is empty; it needs a header row and at least one row of data")
    try:
        if kind in ("csv", "tsv"):
            df = _read_delimited(p, "," if kind == "csv" else "\t")
        elif kind == "jsonl":
            df = _read_jsonl(p)
        elif kind == "json":
            df = _read_json(p)
        else:
            df = _read_parquet(p)
    except DataError:
        raise
    except ImportError as exc:
        module = _MODULES.get(_compression(p) or "", getattr(exc, "name", None) or "pyarrow")
        raise DataError(f"reading {p} needs the optional package {module!r}: pip install {module}") from exc
    except (EOFError, zlib.error, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise _corrupt(p, exc) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{p} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"data file {str(p)!r} holds no header row; it needs a header row and rows of data") from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {p} as {kind}: {str(exc).splitlines()[0] if str(exc) else exc!r}; fix the "
                        "file (a CSV needs the same number of cells on every row)") from exc
    except OSError as exc:
        if exc.errno in _MACHINE_ERRNOS:  # the disk or its permissions, not the bytes
            raise
        raise _corrupt(p, exc) from exc  # gzip.BadGzipFile, bz2 data errors, a zip's bad offsets (EINVAL)
    df.columns = [str(c) for c in df.columns]
    _check_columns(p, list(df.columns))
    df.attrs["source"] = str(p)
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow

    try:
        frame: pd.DataFrame = pd.read_parquet(path)
    except pyarrow.lib.ArrowException as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise DataError(f"cannot read {path} as parquet: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
                        "write the file again") from exc
    return frame


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
