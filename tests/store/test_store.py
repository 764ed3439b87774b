"""The store: layout, integrity checks, versions, releases, atomic writes and the lock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import compose
from compose.errors import ArtifactNotFoundError, IntegrityError, StoreError, StoreLockedError
from compose.schema.load import schema_from_dict
from compose.store import artifacts
from compose.store.artifacts import dump_joblib
from compose.store.names import parse_version
from compose.store.records import GroupPin, ReleaseBody
from compose.store.store import ModelStore


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    """A store root holding one trained penguins model; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("store") / "models"
    compose.train(penguins_schema_path, penguins_csv, store=root)
    return root


@pytest.fixture
def root(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(trained, copy)
    return copy


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".lock" not in p.name)


def test_the_layout_is_the_one_of_the_design(trained: Path) -> None:
    assert _files(trained) == [
        "penguins/CURRENT",
        "penguins/features/body/v0001/meta.json", "penguins/features/body/v0001/model.joblib",
        "penguins/groups/island/v0001/fit.joblib", "penguins/groups/island/v0001/holdout.joblib",
        "penguins/groups/island/v0001/meta.json",
        "penguins/groups/island/v0001/model.joblib",
        "penguins/groups/sex/v0001/fit.joblib", "penguins/groups/sex/v0001/holdout.joblib",
        "penguins/groups/sex/v0001/meta.json",
        "penguins/groups/sex/v0001/model.joblib",
        "penguins/groups/species/v0001/fit.joblib", "penguins/groups/species/v0001/holdout.joblib",
        "penguins/groups/species/v0001/meta.json",
        "penguins/groups/species/v0001/model.joblib",
        "penguins/releases/r0001.json",
        "penguins/samples.sqlite",
    ]


def test_current_names_the_live_release(trained: Path) -> None:
    assert (trained / "penguins" / "CURRENT").read_text(encoding="utf-8").strip() == "r0001"


def test_a_release_pins_a_version_and_sha256_of_every_node(trained: Path) -> None:
    release = json.loads((trained / "penguins/releases/r0001.json").read_text(encoding="utf-8"))
    meta = json.loads((trained / "penguins/groups/sex/v0001/meta.json").read_text(encoding="utf-8"))
    assert (sorted(release["groups"]), release["groups"]["sex"]["sha256"], release["features"]["body"]["version"]) == (
        ["island", "sex", "species"], meta["sha256"], 1)


def test_a_release_records_the_schema_and_its_hash(trained: Path) -> None:
    release = json.loads((trained / "penguins/releases/r0001.json").read_text(encoding="utf-8"))
    schema = schema_from_dict(release["schema"])
    assert release["schema_hash"] == schema.fingerprint()


def test_a_flipped_byte_in_a_model_file_is_refused_naming_the_file(root: Path) -> None:
    path = root / "penguins/groups/species/v0001/model.joblib"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"{path} does not match the sha256 recorded in its meta\.json"):
        compose.load(root)


def test_a_flipped_byte_in_a_feature_file_is_refused_naming_the_file(root: Path) -> None:
    path = root / "penguins/features/body/v0001/model.joblib"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"{path} does not match the sha256"):
        compose.load(root)


def test_a_model_file_that_matches_its_meta_but_not_the_release_is_refused(root: Path) -> None:
    store = ModelStore(root / "penguins")
    with pytest.raises(IntegrityError, match=r"does not match the sha256 recorded in the release"):
        store.load_version("groups", "sex", 1, expected_sha256="0" * 64)


def test_a_changed_extra_file_is_refused(root: Path) -> None:
    path = root / "penguins/groups/sex/v0001/holdout.joblib"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match=rf"{path} is missing or does not match the sha256"):
        compose.load(root)


def test_a_missing_model_file_is_refused_naming_it(root: Path) -> None:
    path = root / "penguins/groups/island/v0001/model.joblib"
    path.unlink()
    with pytest.raises(IntegrityError, match=rf"{path} is missing"):
        compose.load(root)


def test_a_missing_current_is_refused_with_how_to_fix_it(root: Path) -> None:
    (root / "penguins/CURRENT").unlink()
    with pytest.raises(IntegrityError, match=r"CURRENT is missing; set it to a release with `compose rollback"):
        compose.load(root)


def test_a_current_naming_no_release_is_refused(root: Path) -> None:
    (root / "penguins/CURRENT").write_text("r0009\n", encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"CURRENT names 'r0009', which is not a release in "):
        compose.load(root)


def test_a_corrupt_release_file_is_refused_naming_it(root: Path) -> None:
    path = root / "penguins/releases/r0001.json"
    path.write_text(path.read_text(encoding="utf-8")[:50], encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} is corrupt"):
        compose.load(root)


def test_an_edited_release_file_is_refused(root: Path) -> None:
    path = root / "penguins/releases/r0001.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["groups"]["sex"]["version"] = 2
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} does not match its own sha256"):
        compose.load(root)


def test_a_corrupt_meta_json_is_refused_naming_it(root: Path) -> None:
    path = root / "penguins/groups/sex/v0001/meta.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(IntegrityError, match=rf"{path} is corrupt"):
        compose.load(root)


def test_a_missing_store_is_refused_with_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"store '.*nowhere' does not exist; train a model first"):
        compose.load(tmp_path / "nowhere")


def test_an_empty_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"holds no trained model"):
        compose.load(tmp_path)


def test_a_store_with_several_models_asks_for_one(root: Path) -> None:
    shutil.copytree(root / "penguins", root / "other")
    with pytest.raises(ArtifactNotFoundError, match=r"holds several models \['other', 'penguins'\]; pick one with "
                                                    r"--model NAME"):
        compose.load(root)


def test_an_unknown_model_name_lists_the_models(root: Path) -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"has no model 'pinguins'; models here: \['penguins'\]"):
        compose.load(root, model="pinguins")


def test_a_model_folder_can_be_loaded_directly(trained: Path) -> None:
    assert compose.load(trained / "penguins").release_name == "r0001"


#: The fields of meta.json that a training run gives (compose.store.records.FeatureMeta / GroupMeta).
FEATURE_META = {"spec_hash": "0", "spec": {}, "n_rows": 1, "data_fingerprint": "0", "width": 1,
                "training": {"holdout": 0.2, "seed": 0}}
GROUP_META = {"spec_hash": "0", "spec": {}, "type": "binary", "labels": ["a", "b"], "parents": {}, "n_train": 1,
              "n_holdout": 0, "data_fingerprint": "0", "holdout_fingerprint": "0", "class_counts": {},
              "holdout_class_counts": {}, "metrics": {"n": 0}, "gate_metric": "accuracy",
              "training": {"holdout": 0.2, "seed": 0}}


def test_versions_increment(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    with store.lock():
        numbers = [store.write_version("groups", "g", {"n": i}, GROUP_META)[0] for i in range(3)]
    assert (numbers, store.versions("groups", "g")) == ([1, 2, 3], [1, 2, 3])


def test_a_written_version_records_its_sha256_and_libraries(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    with store.lock():
        _, digest = store.write_version("features", "f", [1, 2], {**FEATURE_META, "note": "x"})
    meta = store.meta("features", "f", 1)
    assert (meta.sha256, meta.note, sorted(meta.libraries)) == (
        digest, "x", ["compose", "joblib", "numpy", "python", "scikit-learn", "scipy"])


def test_a_written_version_loads_back(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    with store.lock():
        store.write_version("features", "f", {"a": [1, 2]}, FEATURE_META)
    assert store.load_version("features", "f", 1) == {"a": [1, 2]}


def test_a_write_that_fails_midway_leaves_no_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ModelStore(tmp_path / "m")
    calls = []

    def failing_dump(obj: object, fh: object, **kwargs: object) -> None:
        calls.append(obj)
        if len(calls) == 2:  # the artifact is written, the extra file fails
            raise OSError("disk full")
        dump_joblib(obj, fh, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(artifacts, "dump_joblib", failing_dump)
    with store.lock(), pytest.raises(OSError, match="disk full"):
        store.write_version("groups", "g", {"a": 1}, GROUP_META, extras={"holdout": [1]})
    assert (store.versions("groups", "g"), (tmp_path / "m/groups/g").exists()) == ([], False)


def test_a_training_run_that_fails_while_saving_leaves_no_version_and_no_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, penguins_schema_path: Path, penguins_csv: Path
) -> None:
    def failing_dump(obj: object, fh: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(artifacts, "dump_joblib", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        compose.train(penguins_schema_path, penguins_csv, store=tmp_path)
    leftovers = [*(tmp_path / "penguins").rglob("v0*"), *(tmp_path / "penguins").rglob("r0*")]
    assert leftovers == []


def test_temporary_folders_are_cleaned_when_the_lock_is_next_taken(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    (store.path / ".tmp" / "groups-g-dead").mkdir(parents=True)
    with store.lock():
        pass
    assert not (store.path / ".tmp").exists()


def test_a_release_pinning_a_missing_version_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    with store.lock(), pytest.raises(StoreError, match=r"cannot release: group 'g' v0003 does not exist"):
        store.write_release(ReleaseBody(schema_document={}, groups={"g": GroupPin(version=3)}))


def test_releases_increment_and_current_follows(root: Path) -> None:
    store = ModelStore(root / "penguins")
    with store.lock():
        name = store.write_release(store.release().body)
    assert (name, store.current_name(), store.release_numbers()) == ("r0002", "r0002", [1, 2])


def test_a_second_writer_waits_and_then_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "m")
    other = ModelStore(tmp_path / "m")
    with store.lock(), pytest.raises(StoreLockedError, match=r"is locked by pid \d+ since .* for more than 0s"):
        other.lock(timeout=0.3).__enter__()


@pytest.mark.parametrize(("text", "number"), [("v0003", 3), ("3", 3), (7, 7), ("v12", 12)])
def test_parse_version_reads_the_usual_spellings(text: str | int, number: int) -> None:
    assert parse_version(text) == number


def test_parse_version_refuses_nonsense() -> None:
    with pytest.raises(ArtifactNotFoundError, match=r"'latest' is not a version; write it as v0003 or 3"):
        parse_version("latest")
