"""Checksummed and signed store records: edits, planted pickles and unsigned records are refused."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.cli.main import main
from compose.store.signing import checksum

KEY = "0123456789abcdef0123456789abcdef"
SCHEMA = BIRDS_HEADER + """\
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
  sex:
    type: binary
    labels: [female, male]
"""


class Payload:
    """A pickle that runs a shell command when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _train(tmp_path: Path, frame: pd.DataFrame, key: str | None) -> Path:
    schema = compose.parse_schema(SCHEMA, source="birds.yaml")
    store = tmp_path / "models"
    if key is None:
        compose.fit_and_release(schema, frame, store, n_jobs=1)
    else:
        os.environ["COMPOSE_SIGNING_KEY"] = key
        try:
            compose.fit_and_release(schema, frame, store, n_jobs=1)
        finally:
            del os.environ["COMPOSE_SIGNING_KEY"]
    return store / "birds"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plant(model: Path, marker: Path) -> Path:
    """What an attacker with write access does: a payload pickle, its sha256 recomputed everywhere."""
    version = model / "groups" / "species" / "v0001"
    joblib.dump(Payload(marker), version / "model.joblib")
    meta = json.loads((version / "meta.json").read_text(encoding="utf-8"))
    meta["sha256"] = _sha(version / "model.joblib")
    meta["meta_sha256"] = checksum(meta)
    (version / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    release_path = model / "releases" / "r0001.json"
    release = json.loads(release_path.read_text(encoding="utf-8"))
    release["groups"]["species"]["sha256"] = meta["sha256"]
    release["groups"]["species"]["meta_sha256"] = meta["meta_sha256"]
    body = {k: v for k, v in release.items() if k not in ("sha256", "signature")}
    release["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    release_path.write_text(json.dumps(release, indent=2), encoding="utf-8")
    return version


@pytest.fixture(scope="module")
def frame(penguins_frame: pd.DataFrame) -> pd.DataFrame:
    return penguins_frame.sample(160, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("edit", ["labels", "metrics", "spec"])
def test_an_edited_meta_json_is_detected_without_a_key(tmp_path: Path, frame: pd.DataFrame, edit: str) -> None:
    model = _train(tmp_path, frame, None)
    path = model / "groups" / "sex" / "v0001" / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    if edit == "labels":
        meta["labels"] = ["male", "female"]
    elif edit == "metrics":
        meta["metrics"]["accuracy"] = 0.999
    else:
        meta["spec"]["decision"] = {"threshold": 0.1}
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with pytest.raises(compose.IntegrityError, match=r"sex/v0001/meta.json does not match its own checksum"):
        compose.load(model)
    check = compose.verify_store(model)
    assert not check.ok and any("does not match its own checksum" in p for p in check.problems)


def test_a_recomputed_meta_checksum_is_caught_by_the_release_pin(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = _train(tmp_path, frame, None)
    path = model / "groups" / "sex" / "v0001" / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["metrics"]["accuracy"] = 0.999
    meta["meta_sha256"] = checksum(meta)
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with pytest.raises(compose.IntegrityError, match=r"meta.json does not match the checksum its release pins"):
        compose.load(model)


def test_a_signed_store_loads_with_its_key_and_every_record_is_signed(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = _train(tmp_path, frame, KEY)
    meta = json.loads((model / "groups" / "sex" / "v0001" / "meta.json").read_text(encoding="utf-8"))
    release = json.loads((model / "releases" / "r0001.json").read_text(encoding="utf-8"))
    current = (model / "CURRENT").read_text(encoding="utf-8").splitlines()
    assert meta["signature"].startswith("hmac-sha256:") and release["signature"].startswith("hmac-sha256:")
    assert current[0] == "r0001" and current[1].startswith("hmac-sha256:")
    loaded = compose.load(model, key=KEY)
    assert loaded.predict(frame.head(3))[0]["release"] == "r0001"
    assert compose.verify_store(model, key=KEY).ok
    with pytest.raises(compose.IntegrityError, match=r"birds/CURRENT has a wrong signature"):
        compose.load(model, key="another key of enough length")


def test_a_signed_store_refuses_a_planted_pickle_before_unpickling_it(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = _train(tmp_path, frame, KEY)
    marker = tmp_path / "payload-ran"
    version = _plant(model, marker)
    assert compose.verify_store(model, key=None).ok  # checksums alone cannot catch a writer who recomputes them
    with pytest.raises(compose.IntegrityError, match=r"releases/r0001.json has a wrong signature"):
        compose.load(model, key=KEY)
    check = compose.verify_store(model, key=KEY)
    assert any("releases/r0001.json has a wrong signature" in p for p in check.problems)
    assert any("species/v0001/meta.json has a wrong signature" in p for p in check.problems)
    for path in (version / "meta.json", model / "releases" / "r0001.json"):  # the attacker drops the signatures
        record = json.loads(path.read_text(encoding="utf-8"))
        del record["signature"]
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    with pytest.raises(compose.IntegrityError, match=r"releases/r0001.json is not signed"):
        compose.load(model, key=KEY)
    with pytest.raises(compose.IntegrityError, match=r"species/v0001/meta.json is not signed"):
        compose.ModelStore(model, key=KEY).load_version("groups", "species", 1)
    assert not marker.exists()


def test_an_unsigned_current_or_release_is_refused_naming_the_file(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = _train(tmp_path, frame, KEY)
    (model / "CURRENT").write_text("r0001\n", encoding="utf-8")
    with pytest.raises(compose.IntegrityError, match=r"CURRENT is not signed"):
        compose.load(model, key=KEY)
    with pytest.raises(compose.IntegrityError, match=r"releases/r0001.json is not signed"):
        compose.load(model, release="r0001", key=_unsigned_release(model))


def _unsigned_release(model: Path) -> str:
    path = model / "releases" / "r0001.json"
    release = json.loads(path.read_text(encoding="utf-8"))
    del release["signature"]
    path.write_text(json.dumps(release, indent=2), encoding="utf-8")
    return KEY


def test_an_unsigned_store_is_refused_with_a_key_until_it_is_signed(
        tmp_path: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    model = _train(tmp_path, frame, None)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    data = tmp_path / "rows.csv"
    frame.head(5).to_csv(data, index=False)
    code = main(["predict", "--store", str(model), "--data", str(data), "--out", str(out), "--key-file", str(key_file)])
    err = capsys.readouterr().err
    assert code == 2 and "CURRENT is not signed" in err and "Traceback" not in err
    assert main(["sign", "--store", str(model), "--key-file", str(key_file)]) == 0
    assert "signed" in capsys.readouterr().out
    code = main(["predict", "--store", str(model), "--data", str(data), "--out", str(out), "--key-file", str(key_file)])
    assert code == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 5
    assert main(["verify", "--store", str(model), "--key-file", str(key_file)]) == 0
    assert "COMPOSE_SIGNING_KEY" not in os.environ


def test_the_cli_signs_what_train_writes_with_a_key_file(tmp_path: Path, frame: pd.DataFrame,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "birds.yaml").write_text(SCHEMA, encoding="utf-8")
    data = tmp_path / "birds.csv"
    frame.to_csv(data, index=False)
    key_file = tmp_path / "key"
    key_file.write_text(KEY, encoding="utf-8")
    assert main(["-q", "train", str(tmp_path / "birds.yaml"), "--data", str(data), "--store", str(tmp_path / "m"),
                 "--key-file", str(key_file), "--jobs", "1"]) == 0
    assert compose.verify_store(tmp_path / "m", key=KEY).ok
    assert main(["verify", "--store", str(tmp_path / "m"), "--key-file", str(tmp_path / "nope")]) == 2
    assert "--key-file" in capsys.readouterr().err
