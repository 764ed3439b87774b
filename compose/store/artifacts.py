"""Artifact formats: joblib (the default) and skops, each written and read with its own checks.

- `joblib`: a pickle, compressed. Loading runs whatever code the pickle names: only the sha256s and
  signatures (compose.store.signing) keep a planted file out. Written by the standard library's C
  pickler into the zlib stream `joblib.dump(..., compress=3)` writes (joblib's own pickler is pure
  Python: 2.9 s against 0.6 s for the movies' 70,000-term TF-IDF vocabulary), so `joblib.load`
  reads it, as it reads the files joblib wrote before; a pickle that does not compress (a linear
  head's dense coefficients) is written as it is, which `joblib.load` reads too.
- `skops`: `skops.io`, a zip of JSON that names every type it holds. At save time the types that
  skops does not trust by default (`get_untrusted_types`, e.g. compose's `Head`) are recorded in
  meta.json; at load time those, and only those, are trusted, so a file holding any other type
  is refused before an object is built. skops has had bypasses (CVE-2025-54412, -54413, -54886):
  it narrows what a planted file can do, it does not replace signatures.

A group's holdout holds a pandas DataFrame, which skops cannot save; it is stored as its columns
(plain arrays) and rebuilt on load.
"""

from __future__ import annotations

import os
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import joblib

from compose.errors import IntegrityError, PluginError
from compose.store.remote import RemotePath

FORMATS = ("joblib", "skops")
SUFFIX = {"joblib": "joblib", "skops": "skops"}
_FRAME = "__compose_frame__"
INSTALL_HINT = "pip install 'compose-groups[skops]'"


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise PluginError(f"the skops artifact format needs skops: {INSTALL_HINT}") from exc
    return sio


def filename(key: str, fmt: str) -> str:
    """`model.joblib`, `holdout.skops`, ...: the file of one stored object."""
    return f"{key}.{SUFFIX[fmt]}"


def _plain(obj: Any) -> Any:
    """DataFrames (inside dicts) as their columns, which skops saves without pickling."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return {_FRAME: {"columns": [str(c) for c in obj.columns],
                         "data": {str(c): obj[c].to_numpy() for c in obj.columns}}}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _unplain(obj: Any) -> Any:
    import pandas as pd

    if isinstance(obj, dict):
        if set(obj) == {_FRAME}:
            frame = obj[_FRAME]
            return pd.DataFrame({c: frame["data"][c] for c in frame["columns"]},
                                index=pd.RangeIndex(len(next(iter(frame["data"].values()), []))))
        return {k: _unplain(v) for k, v in obj.items()}
    return obj


PROBE_BYTES = 1 << 20  # the first MiB of a pickle (or all of a smaller one) decides whether it is compressed
SAMPLE_BYTES = 1 << 18  # the last 256 KiB of it are test-compressed
INCOMPRESSIBLE = 0.8  # compressed to more than this share of its size: the file is left uncompressed


class _Deflating:
    """A write-only file into `fh`: one zlib stream (as joblib's zlib compressor writes), or the bytes
    as they are when a sample of the first MiB does not compress (a linear head's coefficients
    shrink by 8% for 0.15 s a group on the movies; `joblib.load` reads both)."""

    def __init__(self, fh: Any, level: int) -> None:
        self.fh, self.level = fh, level
        self.probe: list[bytes] | None = []  # the first bytes, kept until the choice
        self.probed = 0
        self.zlib: Any = None

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        if self.probe is None:
            self._out(data)
        else:
            self.probe.append(bytes(data))
            self.probed += n
            if self.probed >= PROBE_BYTES:
                self._choose()
        return n

    def _choose(self) -> None:
        head, self.probe = b"".join(self.probe or []), None
        sample = head[-SAMPLE_BYTES:]
        if level_pays(sample):
            self.zlib = zlib.compressobj(self.level)
        self._out(head)

    def _out(self, data: Any) -> None:
        self.fh.write(self.zlib.compress(data) if self.zlib is not None else data)

    def finish(self) -> None:
        if self.probe is not None:
            self._choose()
        if self.zlib is not None:
            self.fh.write(self.zlib.flush())


def level_pays(sample: bytes) -> bool:
    """Whether compressing bytes like `sample` saves enough to be worth its time."""
    return len(zlib.compress(sample, 1)) < INCOMPRESSIBLE * len(sample)


def dump_joblib(obj: Any, fh: Any, level: int = 3) -> None:
    """`obj` into `fh` as `joblib.load` reads it: the C pickler's stream, deflated as
    `joblib.dump(obj, fh, compress=level)` deflates it unless it does not compress (`_Deflating`)."""
    out = _Deflating(fh, level)
    pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    out.finish()


def dump(obj: Any, path: Path, fmt: str) -> list[str] | None:
    """Write `obj` to `path` (fsynced); for skops, return the types it holds that skops does not trust by default."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown artifact format {fmt!r}; use one of {list(FORMATS)}")
    with path.open("wb") as fh:
        if fmt == "joblib":
            dump_joblib(obj, fh)
            types = None
        else:
            sio = _skops()
            data = sio.dumps(_plain(obj), compression=zipfile.ZIP_DEFLATED, compresslevel=6)
            types = sorted(sio.get_untrusted_types(data=data))
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return types


def check_types(path: Path | RemotePath, trusted: list[str] | None, *, what: str) -> bytes:
    """The bytes of a skops file whose types are all in `trusted`; read without building any object."""
    sio = _skops()
    data = path.read_bytes()
    try:
        found = set(sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise IntegrityError(f"{path} is not a readable skops file ({exc}); retrain {what}") from exc
    allowed = set(trusted or [])
    unexpected = sorted(found - allowed)
    if unexpected:
        raise IntegrityError(f"{path} holds types {unexpected} that were not in it when it was written "
                             f"(trusted: {sorted(allowed)}): the file was replaced; it will not be loaded. "
                             f"Retrain {what} or roll back to another version")
    return data


def load(path: Path, fmt: str, trusted: list[str] | None, *, what: str) -> Any:
    """Read an artifact; a skops file is refused before any object is built if it holds a type
    outside `trusted` (the types recorded in meta.json when it was written)."""
    if fmt == "joblib":
        return joblib.load(path)
    if fmt != "skops":
        raise IntegrityError(f"{path}: unknown artifact format {fmt!r} in its meta.json; retrain {what}")
    data = check_types(path, trusted, what=what)
    return _unplain(_skops().loads(data, trusted=sorted(trusted or [])))
