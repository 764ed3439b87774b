"""What a store holds besides its releases: whole versions kept on purpose, and leftovers of aborted runs.

A version is one of:
- `released`: some release pins it (the live one or an older one): never removed;
- `kept`: whole and never released, written by a run that finished (a candidate the gate refused,
  or a head left out because a head beside it was refused): `compose promote` can release it, and
  it is never removed;
- `leftover`: written by a run that was killed before it finished (its `.pending` marker is still
  there) and pinned by no release. `compose gc` removes leftovers, and the staging files (`.tmp/`,
  `.NAME.<hex>.tmp`) such a run leaves, under the store's lock so no running trainer is disturbed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from compose.errors import StoreError, StoreLockedError
from compose.store.layout import KINDS, PENDING, pinned_paths, temporaries
from compose.store.names import version_name
from compose.store.remote import RemotePath, StorePath
from compose.store.store import ModelStore


@dataclass(frozen=True)
class Leftover:
    """One path `gc` removes: what it is and how many bytes it holds."""

    path: StorePath
    what: str
    size: int


@dataclass
class GcReport:
    """What `collect_garbage` removed (or, with `dry_run`, would remove) from one model's store."""

    store: StorePath
    dry_run: bool
    removed: list[Leftover] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(item.size for item in self.removed)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"  {verb} {item.path} ({item.what}, {_human(item.size)})" for item in self.removed]
        if not self.removed:
            out.append(f"{self.store}: nothing to remove; no leftovers of aborted runs")
        else:
            out.append(f"{self.store}: {verb} {len(self.removed)} leftover{'s' * (len(self.removed) != 1)} of aborted "
                       f"runs, {_human(self.size)}")
        if self.kept:
            out.append(f"kept (whole, never released; `compose promote` can release them): {', '.join(self.kept)}")
        return out


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def _size(path: StorePath) -> int:
    if isinstance(path, RemotePath):
        return path.du()
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def version_states(s: ModelStore) -> dict[tuple[str, str, int], str]:
    """`released`, `kept` or `leftover` for every stored version (see the module's docstring)."""
    pinned = pinned_paths(s)
    out: dict[tuple[str, str, int], str] = {}
    for kind in KINDS:
        for node in s.names(kind):
            for v in s.versions(kind, node):
                folder = s.node_dir(kind, node) / version_name(v)
                if folder in pinned:
                    out[(kind, node, v)] = "released"
                elif (folder / PENDING).exists():
                    out[(kind, node, v)] = "leftover"
                else:
                    out[(kind, node, v)] = "kept"
    return out


def run_in_progress(s: ModelStore) -> bool:
    """Whether a process holds the store's write lock now (without taking it or creating the lock file)."""
    lock_path = s.path / ".lock"
    if not isinstance(lock_path, Path) or not lock_path.is_file():
        return False  # a store on object storage has no lock
    try:
        with lock_path.open("rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                return exc.errno in (errno.EAGAIN, errno.EACCES)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def leftovers(s: ModelStore) -> list[Leftover]:
    """Staging files and unpinned versions of aborted runs (only meaningful when no run holds the lock)."""
    found: list[Leftover] = []
    staging = s.path / ".tmp"
    if isinstance(staging, Path) and staging.is_dir():
        found.extend(Leftover(p, "staging folder of an unfinished write", _size(p)) for p in sorted(staging.iterdir()))
    for folder in (s.path, s.path / "releases"):
        if isinstance(folder, Path):
            found.extend(Leftover(p, "staging file of an unfinished write", _size(p)) for p in temporaries(folder))
    for (kind, node, v), state in version_states(s).items():
        if state == "leftover":
            folder = s.node_dir(kind, node) / version_name(v)
            found.append(Leftover(folder, f"{kind[:-1]} {node!r} {version_name(v)} of an aborted run, never "
                                          "released", _size(folder)))
    return found


def collect_garbage(store: str | Path, *, model: str | None = None, dry_run: bool = False,
                    lock_timeout: float = 60.0) -> GcReport:
    """Remove the leftovers of aborted runs from a model's store, under its lock; never a version that a
    release pins, nor a whole version a finished run kept. With `dry_run`, only list them."""
    s = ModelStore.open(store, model)
    if s.remote and not dry_run:
        raise StoreError(f"compose gc does not remove anything from {s.path} yet: on object storage a version still "
                         "marked pending may be another writer's upload in progress (there is no lock to ask); list "
                         "the leftovers with --dry-run and remove them by hand once no run is writing")
    report = GcReport(s.path, dry_run)
    if dry_run:
        if run_in_progress(s):
            raise StoreLockedError(f"store {str(s.path)!r} is being written by a run now; its versions are not "
                                   "leftovers yet: run gc when it has finished")
        report.removed = leftovers(s)
    else:
        with s.lock(lock_timeout, clean_staging=False):
            report.removed = _remove(s)
            for folder in pinned_paths(s):  # a run killed after its release: its pinned versions are whole
                with contextlib.suppress(FileNotFoundError):
                    (folder / PENDING).unlink()
    report.kept = [f"{k[:-1]} {n} {version_name(v)}" for (k, n, v), state in version_states(s).items()
                   if state == "kept"]
    return report


def _remove(s: ModelStore) -> list[Leftover]:
    removed = []
    for item in leftovers(s):
        if isinstance(item.path, RemotePath):
            item.path.rmtree()
        elif item.path.is_dir():
            shutil.rmtree(item.path)
        else:
            item.path.unlink()
        removed.append(item)
    staging = s.path / ".tmp"
    with contextlib.suppress(OSError):
        if isinstance(staging, Path):
            staging.rmdir()  # the staging folder itself, once empty
    return removed
