"""The sample store moves forward by migrations: a store written by wave 2's main (format 1) opens,
is migrated to today's format, keeps every sample and annotation, and learns (tests/fixtures/store-wave2)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import compose
from compose.errors import StoreError
from compose.store.sample_db import FORMAT, MIGRATIONS
from compose.store.samples import SampleStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-wave2"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE / "penguins", tmp_path / "store" / "penguins")
    return tmp_path / "store"


def _raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_a_format_1_store_is_migrated_and_keeps_every_sample_and_annotation(legacy: Path) -> None:
    db = legacy / "penguins" / "samples.sqlite"
    assert _raw(db, "SELECT value FROM info WHERE key = 'format'") == [("1",)]
    history = _raw(db, "SELECT gid, sid, rev, value FROM history ORDER BY gid, sid, rev")
    samples = _raw(db, "SELECT sid, id, hash, holdout FROM samples ORDER BY sid")
    schema = compose.load_schema(FIXTURE / "schema.yaml")
    with SampleStore.open(legacy / "penguins") as store:
        assert store.info("format") == FORMAT == str(len(MIGRATIONS) + 1)
        assert store.info(f"migrated:{FORMAT}") is not None
        before = store.frame(schema)
        # re-reading the last file it learned changes no annotation: every row finds its sample, and
        # the row format 1 could not store (no input value at all) is added
        report = store.upsert(FIXTURE / "learn.csv", schema)
        assert (report.new_samples, report.known_samples) == (1, 29) and not any(report.changed.values())
        # the first file again: its 7 `sex` labels that learn.csv flipped are flipped back, as it says
        report = store.upsert(FIXTURE / "train.csv", schema)
        assert (report.new_samples, report.known_samples) == (1, 299)  # its 2nd row with no input is new
        assert report.changed == {"species": 0, "island": 0, "sex": 7}
    assert _raw(db, "SELECT gid, sid, rev, value FROM history WHERE rev <= 2 ORDER BY gid, sid, rev") == history
    assert _raw(db, "SELECT sid, id, hash, holdout FROM samples WHERE sid <= 318 ORDER BY sid") == samples
    assert len(before) == 318
    assert any(name == "samples_by_hash" for (name,) in _raw(db, "SELECT name FROM sqlite_master WHERE type = 'index'"))


def test_a_migrated_store_learns_and_keeps_predicting(legacy: Path) -> None:
    model = compose.load(legacy)
    assert model.release_name == "r0002"
    rows = compose.read_table(FIXTURE / "learn.csv")
    expected = model.predict(rows).to_list()
    report = compose.learn(legacy, FIXTURE / "learn.csv")  # one new sample (the row with no input value)
    assert set(report.changed) <= {"species", "island", "sex"}
    again = compose.learn(legacy, FIXTURE / "learn.csv")
    assert again.changed == [] and again.release is None  # re-reading the same file changes nothing
    if report.release is None:
        assert compose.load(legacy).predict(rows).to_list() == expected


def test_a_store_of_a_newer_format_is_refused_with_what_to_do(legacy: Path) -> None:
    db = legacy / "penguins" / "samples.sqlite"
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE info SET value = '99' WHERE key = 'format'")
    with pytest.raises(StoreError, match=r"sample store format '99'; this compose reads formats 1 to .*upgrade"):
        SampleStore.open(legacy / "penguins")
