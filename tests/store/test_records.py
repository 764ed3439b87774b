"""Typed store records: a store written by compose 0.1.0 still loads, corrupt records are clear errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.errors import IntegrityError
from compose.store.records import DecisionPin, GroupPin, ReleaseBody, decision_version, kept_decisions
from compose.store.store import ModelStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-0.1.0"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A copy of the store compose 0.1.0 wrote (tests/fixtures/store-0.1.0/README.md), safe to change."""
    shutil.copytree(FIXTURE / "penguins", tmp_path / "penguins")
    return tmp_path / "penguins"


def _expected() -> list[dict[str, object]]:
    lines = (FIXTURE / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _rewrite_release(path: Path, change: dict[str, object]) -> None:
    """Edit a release file and give it a matching sha256, so only its content is wrong."""
    record = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if k != "sha256"}
    record.update(change)
    record["sha256"] = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
    path.write_text(json.dumps(record), encoding="utf-8")


def test_a_store_written_by_0_1_0_predicts_what_0_1_0_predicted(old_store: Path) -> None:
    model = compose.load(old_store)
    assert model.predict(pd.read_csv(FIXTURE / "rows.csv")) == _expected()


def test_compose_verify_passes_on_a_copy_of_the_0_1_0_store(
    old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--store", str(old_store)]) == 0
    assert "3 releases and 6 versions checked; every sha256 matches" in capsys.readouterr().out


def test_a_decision_pickled_by_0_1_0_is_still_applied(old_store: Path) -> None:
    model = compose.load(old_store)
    assert (model.schema.groups["sex"].decision.threshold, decision_version(model.release, "sex")) == (0.9479, 1)


def test_a_tuned_decision_is_stored_as_json_with_numbers(old_store: Path) -> None:
    report = compose.tune(old_store, "species", "precision=0.95")
    folder = old_store / "decisions" / "species" / "v0001"
    stored = json.loads((folder / "decision.json").read_text(encoding="utf-8"))
    assert (sorted(p.name for p in folder.iterdir()), stored) == (["decision.json", "meta.json"], report.decision)
    assert isinstance(stored["min_confidence"], float)


def test_a_json_decision_is_applied_when_the_model_loads(old_store: Path) -> None:
    report = compose.tune(old_store, "species", "precision=0.95")
    model = compose.load(old_store)
    assert model.schema.groups["species"].decision.min_confidence == report.decision["min_confidence"]


def test_the_live_release_parses_into_typed_pins(old_store: Path) -> None:
    live = ModelStore(old_store).release()
    assert (live.release, live.groups["species"], live.decisions["sex"]) == (
        "r0003", GroupPin(version=2, sha256=live.groups["species"].sha256, parents={"body": 1}),
        DecisionPin(version=1, sha256=live.decisions["sex"].sha256, for_group_version=1))


def test_a_decision_follows_only_the_head_version_it_was_tuned_for() -> None:
    groups = {"a": GroupPin(version=2), "b": GroupPin(version=1)}
    decisions = {"a": DecisionPin(version=1, for_group_version=1), "b": DecisionPin(version=4, for_group_version=1),
                 "gone": DecisionPin(version=1, for_group_version=1)}
    assert kept_decisions(groups, decisions) == {"b": decisions["b"]}


def test_decision_version_reads_the_rule_from_a_release_body() -> None:
    body = ReleaseBody(schema_document={}, groups={"a": GroupPin(version=2)},
                       decisions={"a": DecisionPin(version=3, for_group_version=1)})
    assert decision_version(body, "a") is None


def test_a_meta_field_of_the_wrong_type_names_the_file_and_the_field(old_store: Path) -> None:
    path = old_store / "groups" / "sex" / "v0001" / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**meta, "n_train": "many"}), encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} is not a valid groupmeta record: field 'n_train'"):
        compose.load(old_store)


def test_a_meta_missing_its_sha256_names_the_file_and_the_field(old_store: Path) -> None:
    path = old_store / "features" / "body" / "v0001" / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    del meta["sha256"]
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} .*field 'sha256': field required"):
        compose.load(old_store)


def test_an_unknown_meta_field_is_refused(old_store: Path) -> None:
    path = old_store / "groups" / "sex" / "v0001" / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**meta, "sha265": "typo"}), encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"field 'sha265': extra inputs are not permitted"):
        ModelStore(old_store).meta("groups", "sex", 1)


def test_a_meta_json_of_non_utf8_bytes_is_an_integrity_error(old_store: Path) -> None:
    path = old_store / "groups" / "sex" / "v0001" / "meta.json"
    path.write_bytes(b'{"kind": "\xff\xfe"}')
    with pytest.raises(IntegrityError, match=rf"{path} is corrupt: not UTF-8 text"):
        ModelStore(old_store).meta("groups", "sex", 1)


def test_a_meta_json_holding_a_list_is_an_integrity_error(old_store: Path) -> None:
    path = old_store / "groups" / "sex" / "v0001" / "meta.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} is corrupt: it holds a JSON list, not an object"):
        ModelStore(old_store).meta("groups", "sex", 1)


def test_a_release_pin_of_the_wrong_type_names_the_file_and_the_field(old_store: Path) -> None:
    path = old_store / "releases" / "r0003.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["groups"]["sex"]["version"] = "one"
    _rewrite_release(path, {"groups": record["groups"]})
    with pytest.raises(IntegrityError, match=rf"{path} is not a valid release record: field 'groups.sex.version'"):
        compose.load(old_store)


def test_a_release_missing_its_schema_names_the_field(old_store: Path) -> None:
    path = old_store / "releases" / "r0003.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["schema"]
    path.write_text(json.dumps(record), encoding="utf-8")
    _rewrite_release(path, {})
    with pytest.raises(IntegrityError, match=r"field 'schema': field required"):
        compose.load(old_store)


def test_a_release_file_of_non_utf8_bytes_is_an_integrity_error(old_store: Path) -> None:
    path = old_store / "releases" / "r0003.json"
    path.write_bytes(b"\x80\x81")
    with pytest.raises(IntegrityError, match=rf"{path} is corrupt: not UTF-8 text"):
        compose.load(old_store)


def test_a_current_of_non_utf8_bytes_is_an_integrity_error(old_store: Path) -> None:
    (old_store / "CURRENT").write_bytes(b"r\xff0003\n")
    with pytest.raises(IntegrityError, match=r"CURRENT is not UTF-8 text.*compose rollback --to-release"):
        compose.load(old_store)


def test_a_corrupt_release_is_a_clean_cli_error(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (old_store / "CURRENT").write_bytes(b"\xff")
    assert main(["predict", "--store", str(old_store), "--data", str(FIXTURE / "rows.csv"),
                 "--out", str(old_store.parent / "out.jsonl")]) != 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_version_folder_whose_meta_names_another_version_is_refused(old_store: Path) -> None:
    shutil.copytree(old_store / "groups" / "species" / "v0002", old_store / "groups" / "species" / "v0003")
    with pytest.raises(IntegrityError, match=r"describes group 'species' v0002, not group 'species' v0003"):
        ModelStore(old_store).meta("groups", "species", 3)


def test_an_unknown_kind_of_version_is_a_store_error(old_store: Path) -> None:
    with pytest.raises(compose.StoreError, match=r"unknown kind of version 'samples'"):
        ModelStore(old_store).meta("samples", "x", 1)
