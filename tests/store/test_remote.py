"""Stores on object storage: `memory://` and S3 (moto's real server on 127.0.0.1, s3fs pointed at it
through AWS_ENDPOINT_URL). Train, predict (equal to a local store), retrain one group (every other
object byte-identical), writers at once (a release created exclusively, CURRENT by compare-and-swap,
a rebase or a conflict), a writer killed mid-version, a signed store that refuses a planted pickle."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.errors import IntegrityError, StoreConflictError
from compose.store.layout import next_release
from compose.store.names import version_name
from compose.store.records import GroupPin
from compose.store.remote import RemotePath, store_location
from compose.store.signing import NO_KEY, seal
from compose.store.store import ModelStore

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "compose-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto's S3 server on a free port of 127.0.0.1 with one bucket; the environment s3fs reads."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "COMPOSE_SAMPLES": str(tmp_path_factory.mktemp("samples"))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=BUCKET)
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def _url(s3: dict[str, str]) -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}"


def _objects(root: str) -> dict[str, bytes]:
    where = store_location(root)
    assert isinstance(where, RemotePath)
    return {key: (where / key).read_bytes() for key in where.find()}


@pytest.fixture
def memory_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COMPOSE_SAMPLES", str(tmp_path / "samples"))
    return f"memory://{uuid.uuid4().hex[:8]}"


def _train(schema: Path, data: Path, store: str | Path) -> compose.ComposedModel:
    return compose.train(schema, data, store=store, n_jobs=1)


def test_memory_store_predicts_as_a_local_folder(linear_penguins_schema: Path, penguins_csv: Path,
                                                 penguins_frame: pd.DataFrame, tmp_path: Path,
                                                 memory_url: str) -> None:
    local = _train(linear_penguins_schema, penguins_csv, tmp_path / "local")
    _train(linear_penguins_schema, penguins_csv, memory_url)
    remote = compose.load(memory_url)
    rows = penguins_frame.head(40)
    assert remote.predict(rows).to_frame().equals(local.predict(rows).to_frame())
    check = compose.verify_store(memory_url)
    assert check.ok, check.problems


def test_s3_train_predict_retrain(s3: dict[str, str], linear_penguins_schema: Path, penguins_csv: Path,
                                  penguins_frame: pd.DataFrame, tmp_path: Path) -> None:
    url = _url(s3)
    local = _train(linear_penguins_schema, penguins_csv, tmp_path / "local")
    _train(linear_penguins_schema, penguins_csv, url)
    rows = penguins_frame.head(40)
    assert compose.load(url).predict(rows).to_frame().equals(local.predict(rows).to_frame())
    before = _objects(url)
    report = compose.retrain(linear_penguins_schema, penguins_csv, url, group="sex", force=True, n_jobs=1)
    after = _objects(url)
    new = sorted(set(after) - set(before))
    assert all(k.startswith(("penguins/groups/sex/v0002/", "penguins/releases/r0002")) for k in new), new
    assert "penguins/groups/sex/v0002/meta.json" in new
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert changed == ["penguins/CURRENT"]  # every other object byte-identical
    assert not any(k.endswith(".pending") for k in after)  # the run settled its version
    model = compose.load(url)
    assert model.release.release == report.release == "r0002"
    assert compose.verify_store(url).ok


def test_cli_on_s3(s3: dict[str, str], linear_penguins_schema: Path, penguins_csv: Path, tmp_path: Path) -> None:
    from compose.cli.main import main

    url = _url(s3)
    assert main(["--quiet", "train", str(linear_penguins_schema), "--data", str(penguins_csv), "--store", url]) == 0
    out = tmp_path / "out.jsonl"
    assert main(["--quiet", "predict", "--store", url, "--data", str(penguins_csv), "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(pd.read_csv(penguins_csv))
    assert main(["--quiet", "versions", "--store", url]) == 0
    assert main(["--quiet", "verify", "--store", url]) == 0


def test_cli_names_an_unreachable_bucket(s3: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from compose.cli.main import main

    assert main(["versions", "--store", "s3://no-such-bucket-here/models"]) in (2, 4)
    err = capsys.readouterr().err
    assert err.startswith("compose: error: ") and "no-such-bucket-here" in err and "Traceback" not in err


def _two_versions_off_live(url: str, schema: Path, data: Path) -> ModelStore:
    """A trained store whose groups each have a v0002 that the live release (r0001 again) does not pin."""
    _train(schema, data, url)
    for group in ("species", "island", "sex"):
        compose.retrain(schema, data, url, group=group, force=True, n_jobs=1)
    compose.set_release(url, "r0001")
    return ModelStore.open(url)


def _pin(s: ModelStore, group: str, version: int) -> GroupPin:
    meta = s.group_meta(group, version)
    return GroupPin(version=version, sha256=meta.sha256, parents=meta.parents)


def test_writers_at_once_meet_at_the_release(s3: dict[str, str], linear_penguins_schema: Path,
                                             penguins_csv: Path) -> None:
    url = _url(s3)
    s = _two_versions_off_live(url, linear_penguins_schema, penguins_csv)
    live = s.release()
    assert live.release == "r0001"
    barrier = threading.Barrier(3)
    names: dict[str, str] = {}
    errors: list[BaseException] = []

    def publish(group: str) -> None:
        writer = ModelStore.open(url)  # another process, another machine: its own view of the store
        body = next_release(live, note=f"retrain {group}", groups={group: _pin(writer, group, 2)})
        barrier.wait(timeout=30)
        try:
            with writer.lock():
                names[group] = writer.write_release(body)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(g,)) for g in ("species", "island", "sex")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(set(names.values())) == 3  # three releases, none written twice
    final = s.release()
    assert {g: p.version for g, p in final.groups.items()} == {"species": 2, "island": 2, "sex": 2}
    assert final.release == max(names.values())
    assert compose.verify_store(url).ok


def test_a_writer_that_changed_the_same_group_says_so(s3: dict[str, str], linear_penguins_schema: Path,
                                                      penguins_csv: Path) -> None:
    url = _url(s3)
    s = _two_versions_off_live(url, linear_penguins_schema, penguins_csv)
    live = s.release()
    first = next_release(live, note="a", groups={"sex": _pin(s, "sex", 2)})
    # made from the same live release, it changes sex too (and island): it cannot be carried onto the winner's
    second = next_release(live, note="b", groups={"sex": _pin(s, "sex", 2), "island": _pin(s, "island", 2)})
    with s.lock():
        winner = s.write_release(first)
    with pytest.raises(StoreConflictError, match=rf"another writer released {winner}.*group 'sex'"), s.lock():
        s.write_release(second)
    assert s.current_name() == winner  # the loser changed nothing
    assert s.release().groups["sex"].version == 2
    assert s.release().groups["island"].version == 1


def test_version_numbers_are_claimed_once(s3: dict[str, str], linear_penguins_schema: Path,
                                          penguins_csv: Path) -> None:
    url = _url(s3)
    _train(linear_penguins_schema, penguins_csv, url)
    s = ModelStore.open(url)
    # A writer killed after claiming v0002 (its marker written, nothing else): the number stays taken.
    (s.node_dir("groups", "sex") / version_name(2) / ".pending").write_bytes(b"killed\n")
    assert s.versions("groups", "sex") == [1]  # not listed: it has no meta.json
    report = compose.retrain(linear_penguins_schema, penguins_csv, url, group="sex", force=True, n_jobs=1)
    assert report.release == "r0002"
    assert s.release().groups["sex"].version == 3
    assert s.versions("groups", "sex") == [1, 3]
    assert compose.load(url).release.release == "r0002"


def test_concurrent_retrains_in_two_processes(s3: dict[str, str], linear_penguins_schema: Path,
                                              penguins_csv: Path, tmp_path: Path) -> None:
    """Two `compose retrain` processes, each with its own sample folder (two machines), at once."""
    url = _url(s3)
    _train(linear_penguins_schema, penguins_csv, url)
    procs = []
    for group in ("species", "sex"):
        env = {**os.environ, "COMPOSE_SAMPLES": str(tmp_path / group)}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "compose", "--quiet", "retrain", str(linear_penguins_schema), "--group", group,
             "--data", str(penguins_csv), "--store", url, "--force", "--jobs", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    s = ModelStore.open(url)
    live = s.release()
    assert live.release == "r0003"  # one release each, the second made on the first (no release beside it)
    assert s.release("r0003").parent == "r0002"
    assert {g: p.version for g, p in live.groups.items()} == {"species": 2, "island": 1, "sex": 2}


class _Planted:
    """A pickle that runs code when it is loaded: the test's proof that nothing was unpickled."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/compose-remote-planted-ran",))


def test_a_signed_store_refuses_a_planted_pickle(linear_penguins_schema: Path, penguins_csv: Path,
                                                 memory_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_SIGNING_KEY", "k" * 32)
    _train(linear_penguins_schema, penguins_csv, memory_url)
    assert compose.load(memory_url).release.release == "r0001"
    s = ModelStore.open(memory_url, key=NO_KEY)  # read as it is; resealed with an attacker's key below
    folder = s.node_dir("groups", "sex") / version_name(1)
    planted = pickle.dumps(_Planted())
    (folder / "model.joblib").write_bytes(planted)
    record = s.group_meta("sex", 1).to_json()
    record["sha256"] = hashlib.sha256(planted).hexdigest()
    (folder / "meta.json").write_bytes(json.dumps(seal(record, b"z" * 32)).encode())
    marker = Path("/tmp/compose-remote-planted-ran")
    marker.unlink(missing_ok=True)
    with pytest.raises(IntegrityError, match="signature"):
        compose.load(memory_url)
    assert not marker.exists()
