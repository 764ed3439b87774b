"""Reading and writing data files: CSV, TSV, JSON Lines, JSON and Parquet, optionally compressed."""

from __future__ import annotations

import bz2
import contextlib
import csv
import errno
import gzip
import importlib
import io
import json
import lzma
import os
import re
import uuid
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

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
# What a truncated or corrupt stream raises: gzip.BadGzipFile, bz2's and zstandard's data errors and a
# zip's bad offsets are OSErrors (told from a fault of the machine by their errno).
_STREAM_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, lzma.LZMAError, OSError)
_CSV_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""], "encoding": "utf-8"}
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _compression(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return suffix if suffix in COMPRESSIONS else None


def _decompressed(path: Path, stack: contextlib.ExitStack) -> IO[bytes]:
    suffix = _compression(path)
    if suffix is None:
        return path.open("rb")
    if suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    if suffix == ".xz":
        return cast(IO[bytes], lzma.open(path, "rb"))
    if suffix == ".zip":
        archive = stack.enter_context(zipfile.ZipFile(path))
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise DataError(f"{path}: a .zip data file must hold exactly one file; it holds {len(members)} "
                            f"({members[:5]}); zip one file or unpack it")
        return archive.open(members[0])
    zstandard = importlib.import_module("zstandard")  # optional; _broken names it when it is missing
    return cast(IO[bytes], zstandard.open(path, "rb"))


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The bytes of `path`, decompressed by its suffix (a .zip must hold one file)."""
    with contextlib.ExitStack() as stack:
        yield stack.enter_context(_decompressed(path, stack))


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    with _open_binary(path) as raw:
        yield io.TextIOWrapper(raw, encoding="utf-8")


def _locate(path: Path) -> tuple[int, BaseException] | None:
    """The first line of `path` that cannot be decompressed or decoded as UTF-8, and why (None: none)."""
    number = 0
    try:
        with _open_binary(path) as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return number, exc
    except _STREAM_ERRORS as exc:
        if isinstance(exc, OSError) and exc.errno in _MACHINE_ERRNOS:
            raise
        return number + 1, exc
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stream_error(p: Path, exc: BaseException) -> DataError:
    """A file whose bytes cannot be decompressed or decoded, named by the line where they break."""
    found = _locate(p)
    line, cause = found if found is not None else (None, exc)
    where = f"{p}, line {line}" if line is not None else str(p)
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start:cause.start + 1]
        return DataError(f"{where}: not UTF-8 text (byte 0x{byte.hex() or '??'}: {cause.reason}); save the file as "
                         "UTF-8")
    suffix = _compression(p)
    if suffix is None:
        return DataError(f"{where}: cannot read the file ({_first_line(cause)}); check that it is a whole, "
                         "uncorrupted file")
    return DataError(f"{where}: the {suffix} compressed data is truncated or corrupt ({_first_line(cause)}); write "
                     f"or copy the file again (`{_TOOLS[suffix]} -t {p}` tests it)")


def _parse_error(p: Path, kind: str, exc: BaseException, first_row: int) -> DataError:
    match = _RAGGED.search(str(exc))
    if match:
        separator = "comma" if kind == "csv" else "tab"
        return DataError(f"{p}, line {match[2]}: {match[3]} cells where the header has {match[1]}; give every row "
                         f"as many cells as the header (quote a cell that holds a {separator})")
    after = f" from row {first_row + 1}" if first_row else ""
    return DataError(f"cannot read {p} as {kind}{after} ({_first_line(exc)}); fix the file (a {kind} file needs a "
                     "header row, then the same number of cells on every row)")


def _broken(p: Path, kind: str, exc: BaseException, first_row: int) -> DataError | None:
    """The one sentence for a file that cannot be read, naming where it broke; None for a fault of the machine."""
    if isinstance(exc, OSError) and exc.errno in _MACHINE_ERRNOS:
        return None  # the disk or its permissions, not the bytes
    fixed = _fixed_error(p, exc)
    if fixed is not None:
        return fixed
    if kind == "parquet":
        return _parquet_error(p, exc, first_row)
    if isinstance(exc, (UnicodeDecodeError, *_STREAM_ERRORS)):
        return _stream_error(p, exc)
    return _parse_error(p, kind, exc, first_row) if isinstance(exc, ValueError) else None


def _fixed_error(p: Path, exc: BaseException) -> DataError | None:
    """A missing package, JSON nested too deeply, no header: the same sentence wherever it happens."""
    if isinstance(exc, ImportError):
        module = _MODULES.get(_compression(p) or "", getattr(exc, "name", None) or "pyarrow")
        return DataError(f"reading {p} needs the optional package {module!r}: pip install {module}")
    if isinstance(exc, RecursionError):
        return DataError(f"{p}: the JSON is nested too deeply to read; flatten it")
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"data file {str(p)!r} holds no header row; it needs a header row and rows of data")
    return None


def _parquet_error(p: Path, exc: BaseException, first_row: int) -> DataError | None:
    if not isinstance(exc, (ValueError, OSError, TypeError, _arrow_error())):
        return None
    after = f", after row {first_row}" if first_row else ""
    cause = re.sub(r"^Could not open Parquet input source '.*?': ", "", _first_line(exc))  # the name is said once
    return DataError(f"{p}{after}: not a whole Parquet file ({cause}); write or copy the file again")


def _arrow_error() -> type[BaseException]:
    import pyarrow

    error: type[BaseException] = pyarrow.lib.ArrowException
    return error


@contextlib.contextmanager
def _reading(p: Path, kind: str, first_row: int = 0) -> Iterator[None]:
    """Every failure of reading `p` as one DataError (see `_broken`); faults of the machine pass through."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        error = _broken(p, kind, exc, first_row)
        if error is None:
            raise
        raise error from exc


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


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=_object_pairs)
            except RecursionError:
                raise DataError(f"{path}, line {number}: the JSON is nested too deeply to read; flatten it") from None
            except ValueError as exc:
                raise DataError(f"{path}, line {number}: not valid JSON ({_first_line(exc)}); every line "
                                'must be one JSON object such as {"title": "Alien", "runtime": 117}') from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: expected one JSON object per line, got "
                                f"{type(row).__name__} {line.strip()[:40]!r}; write each row as "
                                '{"column": value, ...}')
            yield row


def _jsonl_frames(path: Path, size: int | None) -> Iterator[pd.DataFrame]:
    rows: list[dict[str, Any]] = []
    for row in _jsonl_rows(path):
        rows.append(row)
        if size is not None and len(rows) == size:
            yield pd.DataFrame.from_records(rows)
            rows = []
    if rows or size is None:
        yield pd.DataFrame.from_records(rows) if rows else pd.DataFrame()


def _read_json(path: Path) -> pd.DataFrame:
    with _open_text(path) as fh:
        text = fh.read()
    try:
        data = json.loads(text, object_pairs_hook=_object_pairs)
    except RecursionError:
        raise DataError(f"{path}: the JSON is nested too deeply to read; flatten it") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}); write a list of row objects "
                        "(orient=records)") from exc
    except ValueError as exc:
        raise DataError(f"{path}: not valid JSON ({_first_line(exc)}); write a list of row objects "
                        "(orient=records)") from exc
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data) if data else pd.DataFrame()
    raise DataError(f"{path}: expected a JSON list of row objects such as [{{\"title\": \"Alien\"}}], got "
                    f"{type(data).__name__}{' with items that are not objects' if isinstance(data, list) else ''}; "
                    "write one object per row")


def _delimited_frames(path: Path, sep: str, size: int | None) -> Iterator[pd.DataFrame]:
    header = pd.read_csv(path, header=None, nrows=1, sep=sep, **_CSV_OPTIONS)
    names = ["" if pd.isna(v) else str(v) for v in header.iloc[0]] if len(header) else []
    _check_columns(path, names)
    # index_col=False: a first data row longer than the header is not an index column; pandas warns
    # (and would drop the cells), and the warning is turned into the error naming that row.
    options = {"sep": sep, "index_col": False, **_CSV_OPTIONS}
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            if size is None:
                yield pd.read_csv(path, **options)
                return
            with pd.read_csv(path, chunksize=size, **options) as reader:
                yield from reader
        except pd.errors.ParserWarning:
            raise _long_row(path, sep, len(names)) from None


def _long_row(path: Path, sep: str, width: int) -> DataError:
    """The error for the first row of `path` with more cells than its header's `width`."""
    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=sep)
        for cells in reader:
            if len(cells) > width:
                return _parse_error(path, "csv" if sep == "," else "tsv", pd.errors.ParserError(
                    f"Expected {width} fields in line {reader.line_num}, saw {len(cells)}"), 0)
    return DataError(f"{path}: a row has more cells than the header; give every row as many cells as the header")


def _parquet_frames(path: Path, size: int | None) -> Iterator[pd.DataFrame]:
    if size is None:
        yield pd.read_parquet(path)
        return
    import pyarrow.parquet as pq

    # pre_buffer=False: with it, pyarrow keeps the buffered column chunks of the whole file
    # alive, and memory grows with the file instead of with the batch.
    with pq.ParquetFile(path, pre_buffer=False) as pf:
        for batch in pf.iter_batches(batch_size=size):
            yield batch.to_pandas()


def _frames(p: Path, kind: str, size: int | None) -> Iterator[pd.DataFrame]:
    """The rows of `p` in frames of at most `size` rows (`None`: one frame), by kind."""
    if kind in ("csv", "tsv"):
        yield from _delimited_frames(p, "," if kind == "csv" else "\t", size)
    elif kind == "jsonl":
        yield from _jsonl_frames(p, size)
    elif kind == "parquet":
        yield from _parquet_frames(p, size)
    else:  # a JSON array cannot be read in parts
        df = _read_json(p)
        step = size or max(len(df), 1)
        for start in range(0, max(len(df), 1), step):
            yield df.iloc[start:start + step].reset_index(drop=True)


def _readable(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    kind = file_kind(p)
    if p.exists() and not p.is_file():
        raise DataError(f"data file {str(p)!r} is a folder, not a file; give the path of a data file")
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist; check the path")
    if p.stat().st_size == 0:
        raise DataError(f"data file {str(p)!r} is empty; it needs a header row and at least one row of data")
    return p, kind


def _no_rows(p: Path, kind: str) -> DataError:
    what = "has a header but no rows" if kind in ("csv", "tsv", "parquet") else "holds no rows"
    return DataError(f"data file {str(p)!r} {what}; it needs at least one row of data")


def _named(df: pd.DataFrame, p: Path, first_row: int) -> pd.DataFrame:
    df.columns = [str(c) for c in df.columns]
    _check_columns(p, list(df.columns))
    df.attrs["source"] = str(p)
    df.attrs["first_row"] = first_row
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines, JSON or Parquet file, optionally compressed. Only empty cells are
    missing in CSV. A file that cannot be read (truncated, corrupt, not UTF-8, ragged, duplicate column
    names, no rows) is a DataError naming the file and the line or row where it breaks."""
    p, kind = _readable(path)
    with _reading(p, kind):
        df = next(_frames(p, kind, None))
    if len(df) == 0:
        raise _no_rows(p, kind)
    return _named(df, p, 0)


def iter_batches(path: str | Path, batch_size: int) -> Iterator[pd.DataFrame]:
    """Read a data file in batches of at most `batch_size` rows, in bounded memory.

    The same reader as `read_table`, with the same errors: Parquet is read row group by row group
    (`iter_batches`, without pre-buffering), CSV, TSV and JSON Lines in chunks. Each batch carries
    the file's name in `attrs["source"]` and the position of its first row in the whole file in
    `attrs["first_row"]`, so an error names the row in the file, not in the batch. A file with a
    header and no rows gives no batch (`read_table` refuses it: every other reader needs rows).
    """
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1; got {batch_size}")
    p, kind = _readable(path)
    first = 0
    frames = _frames(p, kind, batch_size)
    while True:
        with _reading(p, kind, first):
            df = next(frames, None)
        if df is None:
            break
        if len(df) == 0:
            continue
        df.index = pd.RangeIndex(len(df))
        yield _named(df, p, first)
        first += len(df)


def count_rows(path: str | Path) -> int | None:
    """The number of data rows of a file when it is cheap to know (Parquet metadata), else None."""
    p = Path(path)
    if file_kind(p) != "parquet" or not p.is_file():
        return None
    import pyarrow.parquet as pq

    with _reading(p, "parquet"):
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
