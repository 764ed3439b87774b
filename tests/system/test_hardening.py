"""Every bad input and every fault of the machine gets one sentence and a documented exit code.

Data mistakes exit 2; faults of the environment (a full or read-only disk, no permission, a file
where the store's folder should be) exit 4 and name the path. Nothing is lost: a failed run leaves
neither staging files nor unreleased versions behind, and `compose gc` removes what a killed run left.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose._text import describe_os_error
from compose.cli.main import main

ENV_EXIT = 4


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line(code: int, err: str, wanted: int) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("feature ", "fitting "))]
    assert (code, "Traceback" in err, "internal error" in err) == (wanted, False, False), err
    assert lines and lines[-1].startswith("compose: error: "), err
    return lines[-1]


@pytest.fixture(scope="module")
def penguins_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from palmerpenguins import load_penguins

    path = tmp_path_factory.mktemp("raw") / "p.csv"
    load_penguins().to_csv(path, index=False)
    return path.read_bytes()


def _zip(raw: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("penguins.csv", raw)
    return buf.getvalue()


COMPRESSORS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, ".zip": _zip}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_every_compression_reads_and_a_truncated_or_corrupt_file_is_one_sentence(
    tmp_path: Path, penguins_bytes: bytes, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = COMPRESSORS[suffix](penguins_bytes)
    good = tmp_path / f"p.csv{suffix}"
    good.write_bytes(whole)
    assert compose.read_table(good).shape == (344, 8)
    for name, data in (("cut", whole[: len(whole) // 2]), ("flipped", _flip(whole))):
        bad = tmp_path / f"{name}.csv{suffix}"
        bad.write_bytes(data)
        with pytest.raises(compose.DataError, match=rf"{name}.csv{suffix}") as info:
            compose.read_table(bad)
        assert "\n" not in str(info.value)
        code, _, err = _run(capsys, "predict", "--store", str(tmp_path / "none"), "--data", str(bad), "--out",
                            str(tmp_path / "o.jsonl"))
        assert code == 2 and "internal error" not in err


def _flip(data: bytes) -> bytes:
    out = bytearray(data)
    for i in range(len(out) // 3, len(out) // 3 + 40):
        out[i] ^= 0xFF
    return bytes(out)


def test_a_truncated_gzip_says_what_where_and_how(tmp_path: Path, penguins_bytes: bytes) -> None:
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(penguins_bytes)[:500])
    with pytest.raises(compose.DataError, match=r"p.csv.gz, line \d+: the .gz compressed data is truncated or corrupt "
                                                r"\(.*\); write or copy the file again \(`gzip -t"):
        compose.read_table(path)


@pytest.mark.parametrize(("line", "got"), [("1", "int '1'"), ("[1,2]", "list '[1,2]'"), ('"x"', "str")])
def test_a_json_lines_line_that_is_no_object_names_its_line(tmp_path: Path, line: str, got: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"bill_length_mm": 39.1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(compose.DataError,
                       match=re.escape(f"rows.jsonl, line 2: expected one JSON object per line, got {got}")):
        compose.read_table(path)


def test_a_json_lines_row_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(compose.DataError, match=r"line 1: the JSON is nested too deeply"):
        compose.read_table(path)


def test_duplicate_column_names_are_refused_not_renamed(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("species,bill_length_mm,species\nAdelie,39.1,Gentoo\n", encoding="utf-8")
    with pytest.raises(compose.DataError, match=r"column 'species' appears twice \(columns 1 and 3\)"):
        compose.read_table(path)
    rows = tmp_path / "dup.jsonl"
    rows.write_text('{"species": "Adelie", "species": "Gentoo"}\n', encoding="utf-8")
    with pytest.raises(compose.DataError, match=r"key 'species' appears twice"):
        compose.read_table(rows)


def test_a_header_only_csv_to_train_says_it_has_no_rows(
    tmp_path: Path, penguins_schema_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "head.csv"
    path.write_text("bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,species\n", encoding="utf-8")
    code, _, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(path), "--store", str(tmp_path / "s"))
    assert "has a header but no rows" in _one_line(code, err, 2)


def test_a_multilabel_cell_nested_too_deeply_names_its_row(tmp_path: Path, movies_csv: Path,
                                                          movies_schema_path: Path) -> None:
    df = pd.read_csv(movies_csv, dtype=str, keep_default_na=False)
    df.loc[3, "genres"] = "[" * 100_000
    with pytest.raises(compose.DataError, match=r"row 4: .*nested too deeply to read"):
        compose.fit_and_release(compose.load_schema(movies_schema_path), df, tmp_path, n_jobs=1)


def test_a_schema_nested_too_deeply_is_a_schema_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 5000, encoding="utf-8")
    code, _, err = _run(capsys, "validate", str(path))
    assert "deep.yaml: the YAML is nested too deeply to read" in _one_line(code, err, 2)


def test_jobs_zero_is_refused_before_any_work(tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(penguins_csv), "--store",
                        str(tmp_path / "s"), "--jobs", "0")
    assert "--jobs (n_jobs) must be a number of parallel fits of at least 1, or -1" in _one_line(code, err, 2)
    assert not (tmp_path / "s").exists()


def test_a_datetime_column_for_a_number_input_is_refused(tmp_path: Path, penguins_frame: pd.DataFrame,
                                                        penguins_schema_path: Path) -> None:
    df = penguins_frame.copy()
    df["body_mass_g"] = pd.date_range("2020-01-01", periods=len(df))
    path = tmp_path / "dates.parquet"
    df.to_parquet(path)
    with pytest.raises(compose.DataError, match=r"column 'body_mass_g': holds dates or times \(datetime64"):
        compose.train(penguins_schema_path, path, store=tmp_path / "s", n_jobs=1)


def test_a_cell_holding_a_list_for_a_number_input_names_its_row(tmp_path: Path, penguins_schema_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"bill_length_mm": [1], "bill_depth_mm": 1, "flipper_length_mm": 1, "body_mass_g": 1,'
                    ' "species": "Adelie"}\n', encoding="utf-8")
    with pytest.raises(compose.DataError, match=r"column 'bill_length_mm': not a finite number in row 1"):
        compose.train(penguins_schema_path, path, store=tmp_path / "s", n_jobs=1)


# --- the environment -----------------------------------------------------------------------------


def test_a_store_path_that_is_a_file_exits_4_naming_it(tmp_path: Path, penguins_schema_path: Path,
                                                       penguins_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    store.write_text("not a folder")
    code, _, err = _run(capsys, "train", str(penguins_schema_path), "--data", str(penguins_csv), "--store", str(store))
    assert f"{store}/penguins (or a folder above it) is a file where compose needs a folder" in _one_line(
        code, err, ENV_EXIT)
    code, _, err = _run(capsys, "verify", "--store", str(store))
    assert f"store '{store}' is a file, not a folder" in _one_line(code, err, ENV_EXIT)


@pytest.mark.parametrize(("code", "needle"), [
    (errno.ENOSPC, "no space left on the device holding /s/m"),
    (errno.EROFS, "/s/m is on a read-only file system"),
    (errno.EACCES, "permission denied writing /s/m"),
    (errno.EPERM, "permission denied writing /s/m"),
    (errno.ENOTDIR, "/s/m (or a folder above it) is a file"),
])
def test_each_os_error_is_one_sentence_naming_the_path(code: int, needle: str) -> None:
    text = describe_os_error(OSError(code, os.strerror(code)), "/s/m")
    assert needle in text and "\n" not in text


def test_an_os_error_escaping_a_command_exits_4_not_as_a_bug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.json"))

    monkeypatch.setattr(compose, "verify_store", full)
    code, _, err = _run(capsys, "verify", "--store", str(tmp_path))
    assert f"no space left on the device holding {tmp_path / 'out.json'}" in _one_line(code, err, ENV_EXIT)


@pytest.fixture()
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root and mount); the test is skipped, saying why, where it cannot be had."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_exits_4_and_gives_the_space_back(small_tmpfs: Path, penguins_schema_path: Path,
                                                      penguins_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = small_tmpfs / "store"
    compose.train(penguins_schema_path, penguins_csv, store=store, n_jobs=1)
    filler = _fill(small_tmpfs)
    filler.write_bytes(b"\0" * (filler.stat().st_size - 20_000))  # room for a file or two, not a version
    code, _, err = _run(capsys, "retrain", str(penguins_schema_path), "--feature", "body", "--data",
                        str(penguins_csv), "--store", str(store), "--force", "--jobs", "1")
    assert f"no space left on the device holding {store}/penguins" in _one_line(code, err, ENV_EXIT)
    left = [p for p in (store / "penguins").rglob("*") if ".tmp" in p.name or p.name == ".pending"]
    assert left == [] and compose.ModelStore(store / "penguins").versions("groups", "island") == [1]
    assert compose.load(store).release_name == "r0001"
    assert compose.verify_store(store).ok


def test_a_read_only_store_exits_4_naming_it(small_tmpfs: Path, penguins_schema_path: Path, penguins_csv: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = small_tmpfs / "store"
    compose.train(penguins_schema_path, penguins_csv, store=store, n_jobs=1)
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    code, _, err = _run(capsys, "retrain", str(penguins_schema_path), "--group", "island", "--data",
                        str(penguins_csv), "--store", str(store), "--jobs", "1")
    assert "is on a read-only file system, so compose cannot write there" in _one_line(code, err, ENV_EXIT)
    assert compose.load(store).release_name == "r0001"


# --- failed runs, kept versions and gc --------------------------------------------------------------


@pytest.fixture()
def trained(tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    compose.train(penguins_schema_path, penguins_csv, store=tmp_path / "store", n_jobs=1)
    return tmp_path / "store"


def test_a_run_that_fails_after_writing_versions_removes_them(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_release(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compose.ModelStore, "write_release", no_release)
    with pytest.raises(compose.EnvironmentFault, match="no space left on the device holding"):
        compose.retrain(penguins_schema_path, penguins_csv, trained, feature="body", force=True, n_jobs=1)
    model_dir = trained / "penguins"
    assert compose.ModelStore(model_dir).versions("features", "body") == [1]
    assert not (model_dir / ".tmp").exists() or not any((model_dir / ".tmp").iterdir())


def _copy_version(node: Path, source: int, target: int, *, pending: bool) -> None:
    """A whole version `target` made from `source` (its meta.json renumbered), with or without the marker."""
    shutil.copytree(node / f"v{source:04d}", node / f"v{target:04d}")
    meta = node / f"v{target:04d}" / "meta.json"
    from compose.store.signing import seal  # the copy carries its own checksum, as a whole version does

    meta.write_text(json.dumps(seal({**json.loads(meta.read_text()), "version": target}, None)))
    (node / f"v{target:04d}" / ".pending").unlink(missing_ok=True)
    if pending:
        (node / f"v{target:04d}" / ".pending").write_text("written by a run that has not finished\n")


def _abort_after_versions(model_dir: Path) -> None:
    """What a run killed after writing a version (before its release) leaves: a pending version, staging."""
    _copy_version(model_dir / "groups" / "island", 1, 3, pending=True)
    (model_dir / ".tmp" / "groups-island-dead").mkdir(parents=True)
    (model_dir / "releases" / f".r0009.json.{'a' * 32}.tmp").write_text("{")


def test_verify_tells_gate_kept_versions_from_leftovers_and_gc_removes_only_leftovers(
    trained: Path, penguins_schema_path: Path, penguins_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = compose.load_schema(penguins_schema_path)
    df = pd.read_csv(penguins_csv)
    df["island"] = df["island"].sample(frac=1.0, random_state=1).to_numpy()  # shuffled labels: the gate keeps it
    with pytest.raises(compose.GateRefusedError):
        compose.retrain(schema, df, trained, group="island", n_jobs=1)
    model_dir = trained / "penguins"
    _abort_after_versions(model_dir)
    check = compose.verify_store(trained)
    assert check.ok, check.problems
    assert check.kept == ["group island v0002 (refused by the gate)"]
    assert [line.split(" (")[0] for line in check.leftovers] == [
        str(model_dir / ".tmp" / "groups-island-dead"), str(model_dir / "releases" / f".r0009.json.{'a' * 32}.tmp"),
        str(model_dir / "groups" / "island" / "v0003")]
    code, out, _ = _run(capsys, "gc", "--store", str(trained), "--dry-run")
    assert code == 0 and "would remove 3 leftovers of aborted runs" in out
    assert (model_dir / "groups" / "island" / "v0003").exists()
    code, out, _ = _run(capsys, "gc", "--store", str(trained))
    assert code == 0 and "removed 3 leftovers" in out and "kept (whole, never released" in out
    assert compose.ModelStore(model_dir).versions("groups", "island") == [1, 2]
    after = compose.verify_store(trained)
    assert (after.ok, after.leftovers, len(after.kept)) == (True, [], 1)
    assert compose.promote(trained, "island", "v0002") == "r0002"  # the kept version is still whole


def test_gc_never_removes_a_pinned_version_even_if_its_run_was_killed(trained: Path) -> None:
    model_dir = trained / "penguins"
    (model_dir / "groups" / "species" / "v0001" / ".pending").write_text("killed after its release")
    report = compose.collect_garbage(trained)
    assert report.removed == [] and compose.load(trained).release_name == "r0001"
    assert not (model_dir / "groups" / "species" / "v0001" / ".pending").exists()


def test_verify_lists_kept_versions_of_older_stores_as_kept(trained: Path) -> None:
    """Stores written before the `.pending` marker: every unpinned version is whole and kept."""
    _copy_version(trained / "penguins" / "groups" / "sex", 1, 2, pending=False)
    check = compose.verify_store(trained)
    assert (check.ok, check.leftovers, check.kept) == (True, [], ["group sex v0002"])


# --- parameter values ---------------------------------------------------------------------------------


def test_validate_reports_every_bad_parameter_value_with_its_line(tmp_path: Path, penguins_schema_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = penguins_schema_path.read_text().replace("params: {n_estimators: 200, min_samples_leaf: 3}",
                                                    'params: {n_estimators: "many", min_samples_leaf: -3}')
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(compose.SchemaError) as info:
        compose.load_schema(path)
    assert [p.replace(str(path), "bad.yaml") for p in info.value.problems] == [
        "groups.island.model.params.n_estimators at bad.yaml:21: The 'n_estimators' parameter of "
        "RandomForestClassifier must be an int in the range [1, inf). Got 'many' instead; fix the value",
        "groups.island.model.params.min_samples_leaf at bad.yaml:21: The 'min_samples_leaf' parameter of "
        "RandomForestClassifier must be an int in the range [1, inf) or a float in the range (0.0, 1.0). Got -3 "
        "instead; fix the value"]
    code, _, err = _run(capsys, "validate", str(path))
    assert code == 2 and "2 problems in the schema" in err


def test_validate_checks_tfidf_parameter_values_too() -> None:
    text = json.dumps({"schema_version": 1, "name": "t", "inputs": {"title": {"type": "text"}},
                       "features": {"words": {"type": "tfidf", "inputs": ["title"],
                                              "params": {"min_df": -1, "ngram_range": [1, 2]}}},
                       "groups": {"g": {"type": "binary"}}})
    with pytest.raises(compose.SchemaError) as info:
        compose.parse_schema(text)
    assert len(info.value.problems) == 1
    assert "features.words.params.min_df" in info.value.problems[0]
    assert "The 'min_df' parameter of TfidfVectorizer must be" in info.value.problems[0]
