"""A SIGKILL and disk-full matrix over train, retrain, tune and rollback.

For each operation and each fault: the previous release still loads and predicts as before, and
after `compose gc` the store verifies, holds no staging file and lists only whole versions.
Kill points: inside the rename of a new version into place, and before the release file or CURRENT
is replaced. Disk full: a 2 MB tmpfs (root only; skipped with the reason elsewhere) filled to a few
levels of free space.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import compose

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "penguins.yaml"

OPERATIONS: dict[str, str] = {
    "train": "compose.train(schema, data, store, n_jobs=1)",
    "retrain": "compose.retrain(schema, data, store, feature='body', force=True, n_jobs=1)",
    "tune": "compose.tune(store, 'sex', 'precision=0.6')",
    "rollback": "compose.rollback(store, 'island', 'v0001')",
}

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import compose
    import compose.store.store as st

    point, nth, op, schema, data, store = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
    calls = {"n": 0}

    def die_on_nth(original):
        def wrapped(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)
        return wrapped

    setattr(st.os, point, die_on_nth(getattr(st.os, point)))
    exec(op)
    print("finished without being killed")
    """
)

# (operation, patched call, which call dies): a version renamed into place, the release file, CURRENT.
KILLS = [("train", "rename", 2), ("train", "replace", 2), ("retrain", "rename", 1), ("retrain", "replace", 1),
         ("tune", "rename", 1), ("tune", "replace", 2), ("rollback", "replace", 1), ("rollback", "replace", 2)]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, penguins_csv: Path) -> Path:
    """A store with r0001 (train) and r0002 (island v0002 forced), so rollback has a version to go back to."""
    store = tmp_path_factory.mktemp("matrix") / "store"
    compose.train(SCHEMA, penguins_csv, store=store, n_jobs=1)
    compose.retrain(SCHEMA, penguins_csv, store, group="island", force=True, n_jobs=1)
    return store


def _snapshot(store: Path, data: Path) -> tuple[str, dict[str, np.ndarray]]:
    model = compose.load(store)
    return model.release_name, model.predict_scores(data)


def _assert_whole_after_gc(store: Path, before: tuple[str, dict[str, np.ndarray]], data: Path,
                           changed: bool) -> None:
    release, scores = _snapshot(store, data)
    if not changed:
        assert release == before[0]
        assert all(np.array_equal(before[1][g], scores[g], equal_nan=True) for g in before[1])
    compose.collect_garbage(store)
    check = compose.verify_store(store)
    assert (check.ok, check.leftovers) == (True, []), check.lines()
    model_dir = store / "penguins"
    staging = [p for p in model_dir.rglob("*") if p.name.endswith(".tmp") or p.name == ".pending"]
    assert staging == []
    s = compose.ModelStore(model_dir)
    for row in compose.list_versions(store):
        s.verify_version(f"{row['kind']}s", row["name"], row["version"])  # every listed version is whole


@pytest.mark.parametrize(("op", "point", "nth"), KILLS)
def test_sigkill_leaves_the_previous_release_loadable(tmp_path: Path, pristine: Path, penguins_csv: Path,
                                                      op: str, point: str, nth: int) -> None:
    store = tmp_path / "store"
    shutil.copytree(pristine, store)
    before = _snapshot(store, penguins_csv)
    setup = f"schema = {str(SCHEMA)!r}; data = {str(penguins_csv)!r}; store = {str(store)!r}\n"
    proc = subprocess.run([sys.executable, "-c", KILLER, point, str(nth), setup + OPERATIONS[op], str(SCHEMA),
                           str(penguins_csv), str(store)], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == -9, proc.stdout + proc.stderr[-2000:]  # every kill point is reached
    _assert_whole_after_gc(store, before, penguins_csv, changed=False)


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the disk-full matrix mounts a 2 MB tmpfs, which needs root")
    point = tmp_path / "tmpfs"
    point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _leave_free(folder: Path, free: int) -> Path:
    """Fill the file system of `folder` until about `free` bytes are left."""
    filler = folder / "filler"
    stat = os.statvfs(folder)
    size = max(stat.f_bavail * stat.f_frsize - free, 0)
    with filler.open("wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * size)
    return filler


def _operation(op: str, store: Path, data: Path) -> Callable[[], object]:
    return {
        "train": lambda: compose.train(SCHEMA, data, store=store, n_jobs=1),
        "retrain": lambda: compose.retrain(SCHEMA, data, store, feature="body", force=True, n_jobs=1),
        "tune": lambda: compose.tune(store, "sex", "precision=0.6"),
        "rollback": lambda: compose.rollback(store, "island", "v0001"),
    }[op]


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_a_full_disk_leaves_the_previous_release_loadable(tmpfs: Path, pristine: Path, penguins_csv: Path,
                                                          op: str) -> None:
    store = tmpfs / "store"
    shutil.copytree(pristine, store)
    before = _snapshot(store, penguins_csv)
    for free in (0, 8_000, 60_000):
        filler = _leave_free(tmpfs, free)
        try:
            _operation(op, store, penguins_csv)()
            changed = True
        except compose.EnvironmentFault as exc:
            assert "no space left on the device holding" in str(exc) and str(store) in str(exc)
            changed = False
        finally:
            filler.unlink()
        _assert_whole_after_gc(store, before, penguins_csv, changed)
        if changed:
            return
        before = _snapshot(store, penguins_csv)
