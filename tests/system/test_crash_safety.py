"""Nothing lost, nothing half-written: SIGKILL mid-training, two trainers at once, tampered files."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import compose
from compose.errors import ArtifactNotFoundError, IntegrityError, StoreLockedError

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import compose
    import compose.store.artifacts as artifacts
    import compose.store.store as st

    point, nth, schema, data, store = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
    calls = {"n": 0}

    def die_on_nth(original, partial=False):
        def wrapped(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == nth:
                if partial:  # leave half a file behind, as a crash during the write would
                    args[1].write(b"half of an artifact")
                    args[1].flush()
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*args, **kwargs)
        return wrapped

    if point == "dump":
        artifacts.dump_joblib = die_on_nth(artifacts.dump_joblib, partial=True)
    elif point == "rename":
        st.os.rename = die_on_nth(st.os.rename)
    elif point == "replace":
        st.os.replace = die_on_nth(st.os.replace)
    compose.retrain(schema, data, store, feature="body", force=True, n_jobs=1)
    print("finished without being killed")
    """
)

# (what is patched, which call dies): inside the first artifact's write; before the second version
# is renamed into place; before the release file is renamed into place; after the release file
# is in place but before CURRENT names it.
KILL_POINTS = [("dump", 1), ("dump", 3), ("rename", 2), ("rename", 4), ("replace", 1), ("replace", 2)]


@pytest.fixture()
def trained(tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    compose.train(penguins_schema_path, penguins_csv, store=tmp_path / "store", n_jobs=1)
    return tmp_path / "store"


def _assert_every_version_is_whole(model_dir: Path) -> None:
    store = compose.ModelStore(model_dir)
    for kind in ("features", "groups"):
        for name in store.names(kind):
            for v in store.versions(kind, name):
                store.load_version(kind, name, v)  # checks every sha256 of the version


@pytest.mark.parametrize(("point", "nth"), KILL_POINTS)
def test_sigkill_during_a_write_leaves_the_previous_release_loadable(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path, point: str, nth: int
) -> None:
    before = compose.load(trained).predict_scores(penguins_csv)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(nth), str(penguins_schema_path), str(penguins_csv), str(trained)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr
    model = compose.load(trained)
    assert model.release_name == "r0001"
    after = model.predict_scores(penguins_csv)
    assert all(np.array_equal(before[g], after[g], equal_nan=True) for g in before)
    _assert_every_version_is_whole(trained / "penguins")
    report = compose.retrain(penguins_schema_path, penguins_csv, trained, feature="body", force=True, n_jobs=1)
    assert report.release is not None
    assert not (trained / "penguins" / ".tmp").exists() or not any((trained / "penguins" / ".tmp").iterdir())


HOLDER = textwrap.dedent(
    """
    import sys, time
    import compose
    store = compose.ModelStore(sys.argv[1])
    with store.lock():
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(model_dir: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(model_dir), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_trainer_fails_clearly_after_the_lock_timeout(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path
) -> None:
    holder = _hold_lock(trained / "penguins", 10)
    try:
        with pytest.raises(StoreLockedError, match=r"is locked by pid \d+ .* for more than 1s"):
            compose.fit_and_release(compose.load_schema(penguins_schema_path), penguins_csv, trained,
                                    lock_timeout=1.0, n_jobs=1)
    finally:
        holder.kill()
        holder.wait()
    assert compose.ModelStore(trained / "penguins").release_numbers() == [1]


def test_a_second_trainer_waits_with_a_message_then_trains(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _hold_lock(trained / "penguins", 1.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="compose"):
        report = compose.fit_and_release(compose.load_schema(penguins_schema_path), penguins_csv, trained,
                                         lock_timeout=60, n_jobs=1)
    holder.wait()
    assert time.monotonic() - started >= 1.0
    assert "waiting for the store lock held by pid" in caplog.text
    assert report.release == "r0002"


def _live_artifact(store: Path, group: str, name: str = "model.joblib") -> Path:
    return store / "penguins" / "groups" / group / "v0001" / name


@pytest.mark.parametrize("filename", ["model.joblib", "holdout.joblib"])
def test_a_flipped_byte_in_any_file_of_a_live_version_is_refused_naming_it(trained: Path, filename: str) -> None:
    path = _live_artifact(trained, "island", filename)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"{filename} .*does not match the sha256"):
        compose.load(trained)


def test_a_missing_artifact_is_refused_naming_it(trained: Path) -> None:
    _live_artifact(trained, "sex").unlink()
    with pytest.raises(IntegrityError, match=r"groups/sex/v0001/model.joblib is missing"):
        compose.load(trained)


def test_a_missing_current_file_says_how_to_set_it(trained: Path) -> None:
    (trained / "penguins" / "CURRENT").unlink()
    with pytest.raises(IntegrityError, match=r"CURRENT is missing; set it .*--to-release"):
        compose.load(trained)
    compose.set_release(trained, "r0001")
    assert compose.load(trained).release_name == "r0001"


def test_a_current_file_naming_no_release_is_refused(trained: Path) -> None:
    (trained / "penguins" / "CURRENT").write_text("r0042\n")
    with pytest.raises(IntegrityError, match=r"names 'r0042', which is not a release"):
        compose.load(trained)


def test_a_corrupt_release_file_is_refused_naming_it(trained: Path) -> None:
    (trained / "penguins" / "releases" / "r0001.json").write_text("{not json")
    with pytest.raises(IntegrityError, match=r"r0001.json is corrupt"):
        compose.load(trained)


def test_an_edited_release_file_is_refused(trained: Path) -> None:
    path = trained / "penguins" / "releases" / "r0001.json"
    record = json.loads(path.read_text())
    record["groups"]["island"]["version"] = 1
    record["note"] = "edited by hand"
    path.write_text(json.dumps(record))
    with pytest.raises(IntegrityError, match=r"r0001.json does not match its own sha256"):
        compose.load(trained)


def test_loading_a_store_that_does_not_exist_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"does not exist; train a model first"):
        compose.load(tmp_path / "nowhere")


def test_the_cli_refuses_a_tampered_store_without_a_traceback(
    trained: Path, penguins_csv: Path, tmp_path: Path
) -> None:
    path = _live_artifact(trained, "species")
    path.write_bytes(path.read_bytes()[:-10])
    proc = subprocess.run([sys.executable, "-m", "compose", "predict", "--store", str(trained), "--data",
                           str(penguins_csv), "--out", str(tmp_path / "p.jsonl")], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "model.joblib" in proc.stderr
    assert not (tmp_path / "p.jsonl").exists()
