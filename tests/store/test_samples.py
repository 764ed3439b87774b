"""The sample store: samples with a fixed split, annotations with history, per-label truth, export.

Every test runs twice (`sample_backend`): on SQLite files, then on a real PostgreSQL server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _schemas import SHOP_HEADER

import compose
from compose.cli.main import main
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes
from compose.errors import DataError, SampleConflictError, SampleNotFoundError
from compose.store.samples import SampleStore

pytestmark = pytest.mark.usefixtures("sample_backend")

SHOP = SHOP_HEADER + """\
  kind:
    type: multiclass
    labels: [shirt, pants]
  colors:
    type: multilabel
    labels: [red, blue, black]
"""


@pytest.fixture()
def shop() -> compose.Schema:
    return compose.parse_schema(SHOP, source="shop.yaml")


def _rows(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "title": [f"item {i} {'shirt' if i % 2 else 'pants'}" for i in range(n)],
        "price": [float(i) for i in range(n)],
        "kind": ["shirt" if i % 2 else "pants" for i in range(n)],
        "colors": ["red|blue" if i % 3 == 0 else "black" for i in range(n)],
    })


@pytest.fixture()
def store(tmp_path: Path, shop: compose.Schema) -> SampleStore:
    s = SampleStore.open(tmp_path / "shop", schema=shop)
    yield s
    s.close()


def test_the_store_is_sqlite_in_wal_mode_in_the_model_folder(store: SampleStore, tmp_path: Path,
                                                              sample_backend: str) -> None:
    assert store.path == tmp_path / "shop" / "samples.sqlite"
    if sample_backend == "postgresql":  # the model's tables in its own schema, nothing in the folder
        assert store.location.endswith("(schema compose_shop)") and not store.path.exists()
        assert store.size_bytes() > 0
        return
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ids_are_the_input_hash_and_the_split_is_the_hash_rule(store: SampleStore, shop: compose.Schema) -> None:
    df = _rows()
    report = store.upsert(df, shop, source="first.csv")
    hashes = row_hashes(prepare_inputs(df, shop), shop.training.seed)
    assert report.ids == [f"{int(h):016x}" for h in hashes]
    held = holdout_mask(hashes, shop.training.holdout)
    for r in (0, 1, 2, 3):
        assert store.get(report.ids[r]).split == ("holdout" if held[r] else "train")
    assert report.new_samples == 40 and report.added == {"kind": 40, "colors": 40}
    assert store.get(report.ids[0]).source == "first.csv"


def test_the_split_never_changes_even_when_the_holdout_fraction_does(tmp_path: Path, shop: compose.Schema) -> None:
    with SampleStore.open(tmp_path / "m", schema=shop) as s:
        first = s.upsert(_rows(), shop)
        before = {i: s.get(i).split for i in first.ids if i}
    other = compose.parse_schema(SHOP + "training: {holdout: 0.6, seed: 0}\n", source="x.yaml")
    with SampleStore.open(tmp_path / "m", schema=other) as s:
        s.upsert(_rows(), other)
        assert {i: s.get(i).split for i in before} == before


def test_a_user_id_column_names_the_samples(store: SampleStore, shop: compose.Schema) -> None:
    df = _rows(4).assign(id=["a", "b", "c", "d"])
    assert store.upsert(df, shop).ids == ["a", "b", "c", "d"]
    assert store.get("c").inputs["title"] == "item 2 pants"


def test_a_repeated_sample_with_another_label_is_an_annotation_change_with_history(
        store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(_rows(4).assign(id=list("abcd")), shop, source="one.csv")
    changed = _rows(4).assign(id=list("abcd"), kind=["shirt", None, None, None], colors=None)
    report = store.upsert(changed, shop, source="two.csv")
    assert report.changed["kind"] == 1 and report.unchanged["kind"] == 0 and report.new_samples == 0
    assert store.get("a").annotations["kind"] == "shirt"
    history = store.history("a", "kind")
    assert [(c.value, c.source) for c in history] == [("pants", "one.csv"), ("shirt", "two.csv")]
    assert history[0].at <= history[1].at


def test_as_of_names_the_annotations_of_an_earlier_revision(store: SampleStore, shop: compose.Schema) -> None:
    first = store.upsert(_rows(4).assign(id=list("abcd")), shop).revision
    store.upsert(_rows(4).assign(id=list("abcd"), kind=["shirt"] * 4), shop)
    old = store.frame(shop, as_of=first).set_index("id")["kind"].to_dict()
    new = store.frame(shop).set_index("id")["kind"].to_dict()
    assert old == {"a": "pants", "b": "shirt", "c": "pants", "d": "shirt"}
    assert new == dict.fromkeys("abcd", "shirt")


def test_two_rows_of_one_upsert_with_one_id_that_disagree_are_an_error_naming_both(
        store: SampleStore, shop: compose.Schema) -> None:
    df = _rows(6).assign(id=list("abcdeb"))
    df.loc[5, ["title", "price"]] = df.loc[1, ["title", "price"]]
    df.loc[5, "kind"] = "pants"
    with pytest.raises(DataError, match=r"rows 2 and 6 are the same sample .* disagree on group 'kind'"):
        store.upsert(df, shop)
    assert store.revision == 0  # nothing was written


def test_rows_without_an_id_that_repeat_inputs_and_disagree_are_two_samples(
        store: SampleStore, shop: compose.Schema) -> None:
    df = _rows(6)
    df.loc[5, ["title", "price"]] = df.loc[1, ["title", "price"]]
    df.loc[5, "kind"] = "pants"
    report = store.upsert(df, shop)
    assert report.new_samples == 6 and report.ids[5] == report.ids[1] + "-2"
    assert [store.get(report.ids[r]).annotations["kind"] for r in (1, 5)] == ["shirt", "pants"]
    assert store.get(report.ids[1]).split == store.get(report.ids[5]).split  # equal inputs share a split


def test_two_rows_with_one_id_that_agree_are_merged(store: SampleStore, shop: compose.Schema) -> None:
    df = _rows(3).assign(colors=[None, '{"blue": false}', None], id=list("abc"))
    extra = df.iloc[[1]].assign(kind=None, colors='{"red": true}')
    report = store.upsert(pd.concat([df, extra], ignore_index=True), shop)
    assert report.new_samples == 3
    assert store.get("b").annotations == {"kind": "shirt", "colors": {"red": True, "blue": False}}


def test_a_conflict_can_be_refused_naming_the_sample(store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(_rows(2).assign(id=["x", "y"]), shop)
    with pytest.raises(SampleConflictError, match=r"sample 'x' is annotated pants for group 'kind'") as caught:
        store.upsert(_rows(2).assign(id=["x", "y"], kind=["shirt", "shirt"]), shop, on_conflict="error")
    assert (caught.value.sample_id, caught.value.group, caught.value.stored) == ("x", "kind", "pants")
    assert store.get("x").annotations["kind"] == "pants"


def test_inputs_are_immutable(store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(_rows(2).assign(id=["x", "y"]), shop)
    with pytest.raises(DataError, match=r"sample 'x' is stored with other input values"):
        store.upsert(_rows(2).assign(id=["x", "y"], price=[9.0, 1.0]), shop)


def test_per_label_truth_changes_only_the_labels_it_names(store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(pd.DataFrame({"id": ["p", "q"], "title": ["a", "b"], "price": [1.0, 2.0],
                               "colors": ['{"red": true, "blue": false}', "[]"]}), shop)
    assert store.get("p").annotations["colors"] == {"red": True, "blue": False}
    store.upsert(pd.DataFrame({"id": ["p", "q"], "title": ["a", "b"], "price": [1.0, 2.0],
                               "colors": ['{"black": true}', '{"red": true}']}), shop)
    assert store.get("p").annotations["colors"] == ["red", "black"]  # every label now known
    assert store.get("q").annotations["colors"] == ["red"]
    data = store.read(shop, ["colors"])
    assert data.targets["colors"].known is None


def test_set_and_remove_one_annotation_and_one_label(store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(_rows(2).assign(id=["x", "y"]), shop)
    assert store.annotate("x", "kind", "shirt", shop) is not None
    assert store.annotate("x", "kind", "shirt", shop) is None  # no change, no revision
    store.annotate("x", "colors", False, shop, label="red")
    assert store.get("x").annotations["colors"] == ["blue"]
    store.remove_annotation("x", "colors", label="blue")
    assert store.get("x").annotations["colors"] == {"red": False, "black": False}
    store.remove_annotation("x", "kind")
    assert "kind" not in store.get("x").annotations
    assert [c.value for c in store.history("x", "kind")] == ["pants", "shirt", None]
    with pytest.raises(SampleNotFoundError, match=r"no sample 'nope'"):
        store.annotate("nope", "kind", "shirt", shop)
    with pytest.raises(DataError, match=r"undeclared|does not declare"):
        store.annotate("x", "kind", "hat", shop)


def test_queries_page_through_samples_by_group_split_and_source(store: SampleStore, shop: compose.Schema) -> None:
    store.upsert(_rows(30), shop, source="a.csv")
    store.upsert(pd.DataFrame({"title": ["new one", "new two"], "price": [100.0, 101.0]}), shop, source="b.csv")
    assert [s.source for s in store.samples(source="b.csv").samples] == ["b.csv", "b.csv"]
    unlabelled = store.samples(group="kind", annotated=False).samples
    assert {s.inputs["title"] for s in unlabelled} == {"new one", "new two"}
    seen, after = [], None
    while True:
        page = store.samples(limit=7, after=after)
        seen += [s.id for s in page.samples]
        after = page.next_after
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 32
    held = store.samples(split="holdout", limit=1000).samples
    assert held and all(s.split == "holdout" for s in held)


def test_counts_per_group_and_label(store: SampleStore, shop: compose.Schema) -> None:
    df = _rows(30)
    df.loc[0, "colors"] = '{"red": true}'
    df.loc[1, "kind"] = None
    store.upsert(df, shop, source="a.csv")
    c = store.counts()
    assert c.samples == 30 and c.train + c.holdout == 30 and c.sources == {"a.csv": 30}
    kind = c.groups["kind"]
    assert (kind.annotated, kind.unknown) == (29, 1)
    assert kind.labels["shirt"].present == 14 and kind.labels["shirt"].absent == 15
    red = c.groups["colors"].labels["red"]
    blue = c.groups["colors"].labels["blue"]
    assert (red.present, red.unknown) == (10, 0)
    assert (blue.present, blue.unknown) == (9, 1)
    assert blue.present_train + blue.present_holdout == blue.present
    lines = compose.describe_samples(c)
    assert any(line.startswith("group colors (multilabel): 30 annotated") for line in lines)


def test_the_export_reads_back_into_training_targets(store: SampleStore, shop: compose.Schema, tmp_path: Path) -> None:
    df = _rows(20)
    df.loc[0, "colors"] = '{"red": true, "black": false}'
    store.upsert(df, shop)
    for name in ("out.csv", "out.parquet", "out.jsonl"):
        path = store.export(tmp_path / name, shop, meta=True)
        back = compose.read_table(path)
        assert {"id", "title", "price", "kind", "colors", "split", "source"} <= set(back.columns)
        t = parse_targets(back, shop)
        original = parse_targets(df, shop)
        order = [store.frame(shop)["id"].tolist().index(i) for i in back["id"]]
        assert np.array_equal(t["colors"].y, original["colors"].y[order])
        assert np.array_equal(t["colors"].known_cells(), original["colors"].known_cells()[order])
        assert np.array_equal(t["kind"].y, original["kind"].y[order])
    again = store.upsert(compose.read_table(tmp_path / "out.csv"), shop)
    assert again.new_samples == 0 and again.revision is None  # the same samples, the same annotations


def test_rows_without_any_input_are_samples_told_apart_by_their_order(store: SampleStore,
                                                                      shop: compose.Schema) -> None:
    df = pd.DataFrame({"title": [None, None, "x"], "price": [None, None, 1.0], "kind": ["shirt", "pants", "shirt"]})
    report = store.upsert(df, shop)
    assert report.new_samples == 3 and report.warnings == []
    assert [store.get(i).annotations["kind"] for i in report.ids] == ["shirt", "pants", "shirt"]
    again = store.upsert(df, shop)  # the same file again: the same samples, nothing changes
    assert again.ids == report.ids and again.revision is None


def test_a_killed_writer_leaves_the_database_as_it_was(tmp_path: Path, shop: compose.Schema) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP)
    with SampleStore.open(tmp_path / "shop", schema=shop) as s:
        s.upsert(_rows(10), shop)
    script = (
        "import os, signal, sys, pandas as pd, compose\n"
        "from compose.store.samples import SampleStore\n"
        "schema = compose.load_schema(sys.argv[1])\n"
        "from compose.store.sample_sql import PostgresConnection\n"
        "s = SampleStore.open(sys.argv[2], schema=schema)\n"
        "original = s._db.executemany\n"
        "def die(sql, rows):\n"
        "    original(sql, rows)\n"
        "    if 'history' in sql: os.kill(os.getpid(), signal.SIGKILL)\n"
        "if isinstance(s._db, PostgresConnection):\n"
        "    s._db.executemany = die\n"
        "else:\n"
        "    s._db = type('C', (), {'execute': s._db.execute, 'executemany': staticmethod(die),\n"
        "                           'close': s._db.close})()\n"
        "df = pd.DataFrame({'title': [f't{i}' for i in range(50)], 'price': [1.0] * 50, 'kind': ['shirt'] * 50})\n"
        "s.upsert(df, schema)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "shop.yaml"), str(tmp_path / "shop")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == -9, proc.stderr
    with SampleStore.open(tmp_path / "shop", schema=shop) as s:
        assert s.counts().samples == 10 and s.revision == 1
        assert s.upsert(_rows(10), shop).revision is None


def test_two_threads_can_write_at_once(store: SampleStore, shop: compose.Schema) -> None:
    def add(k: int) -> None:
        store.upsert(pd.DataFrame({"title": [f"thread {k} {i}" for i in range(20)], "price": [1.0] * 20,
                                   "kind": ["shirt"] * 20}), shop)

    threads = [threading.Thread(target=add, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert store.counts().samples == 80 and store.revision == 4


def test_the_cli_imports_counts_and_exports(tmp_path: Path, penguins_csv: Path, penguins_schema_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    made = run("samples", "--store", str(tmp_path / "s"), "--schema", str(penguins_schema_path),
               "--import", str(penguins_csv))
    assert made.returncode == 0, made.stderr
    assert "344 new samples" in made.stdout and made.stderr == ""  # a row is a sample, even with no input value
    shown = run("samples", "--store", str(tmp_path / "s"), "--group", "sex", "--export", str(tmp_path / "sex.csv"),
                "--json", str(tmp_path / "c.json"))
    assert shown.returncode == 0, shown.stderr
    assert "group sex (binary): 333 annotated" in shown.stdout and "group species" not in shown.stdout
    assert list(pd.read_csv(tmp_path / "sex.csv").columns) == ["id", "bill_length_mm", "bill_depth_mm",
                                                                 "flipper_length_mm", "body_mass_g", "sex"]
    assert json.loads((tmp_path / "c.json").read_text())["groups"]["sex"]["unknown"] == 11
    missing = run("samples", "--store", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
