"""What the store records beside each artifact: library versions, times, file checksums, and why an
intact artifact cannot be loaded."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import joblib

from compose.errors import StoreLockedError
from compose.store.records import FeatureMeta, GroupMeta, VersionMeta
from compose.store.remote import StorePath


def library_versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn

    from compose._version import __version__

    return {"compose": __version__, "python": sys.version.split()[0], "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "joblib": joblib.__version__}


def missing_plugin_message(path: StorePath, meta: VersionMeta, exc: BaseException) -> str:
    """Why an intact artifact cannot be unpickled (a module or class it names is missing), and what
    to install: the plugin recorded in its meta.json when there is one, else the missing module."""
    plugin = meta.plugin if isinstance(meta, FeatureMeta | GroupMeta) else None
    missing = getattr(exc, "name", None) or str(exc)
    if plugin is not None:
        made = plugin.as_plugin()
        source = f"{made.distribution} {made.version}".strip() or "no installed distribution"
        said = f"; it was made by {made.name!r} from module {made.module!r} ({source}); {made.install_hint()}"
    else:
        said = "; install the package that provides it"
    return (f"{path} needs {missing!r} to load, which is not importable here ({type(exc).__name__}: {exc})"
            f"{said}. The file itself is intact (its sha256 matches)")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def sha256_file(path: StorePath) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wait_for_lock(fh: BinaryIO, lock_path: Path, what: str, timeout: float,
                  on_wait: Callable[[str], None] | None) -> None:
    """Take the exclusive flock of the open `lock_path`, waiting up to `timeout` seconds for its
    holder (named in the file); `on_wait` is told once that it waits. StoreLockedError past that."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = lock_path.read_text(encoding="utf-8").strip() or "another process"
            if time.monotonic() >= deadline:
                raise StoreLockedError(f"{what} is locked by {holder} for more than {timeout:.0f}s; "
                                       "wait for it to finish, or raise the timeout") from exc
            if not told and on_wait is not None:
                on_wait(f"waiting for the store lock held by {holder} ...")
                told = True
            time.sleep(0.2)
