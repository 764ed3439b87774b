"""Samples on PostgreSQL (a real server, tests/_postgres.py): the same migrations, writers in
several processes at once keep every accepted annotation, and train / learn / samples with
`--samples postgresql://...` keep nothing in the model folder."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _schemas import SHOP_HEADER

import compose
from compose.cli.main import main
from compose.errors import StoreError
from compose.store.sample_db import FORMAT
from compose.store.samples import SampleStore

SCHEMA = SHOP_HEADER + """\
  kind:
    type: multiclass
    labels: [shirt, pants]
"""

WRITER = """\
import json, sys
import pandas as pd
import compose
from compose.store.samples import SampleStore

schema = compose.parse_schema(sys.argv[1], source="shop.yaml")
me, rounds = int(sys.argv[3]), int(sys.argv[4])
accepted = []
with SampleStore.open(sys.argv[2], schema=schema) as store:
    for k in range(rounds):
        rows = pd.DataFrame({"id": [f"w{me}-{k}-{i}" for i in range(5)], "title": [f"t {me} {k} {i}" for i in range(5)],
                             "price": [float(i) for i in range(5)], "kind": ["shirt"] * 5})
        rev = store.upsert(rows, schema, source=f"writer {me}").revision
        accepted.append(["upsert", rev, f"w{me}-{k}-0", "shirt"])
        value = ["shirt", "pants"][(me + k) % 2]
        rev = store.annotate("shared", "kind", value, schema, source=f"writer {me}")  # None: it was that already
        if rev is not None:
            accepted.append(["annotate", rev, "shared", value])
print(json.dumps(accepted))
"""


@pytest.fixture()
def shop() -> compose.Schema:
    return compose.parse_schema(SCHEMA, source="shop.yaml")


def test_writers_in_several_processes_keep_every_accepted_annotation(
        tmp_path: Path, shop: compose.Schema, sample_backend: str) -> None:
    folder = tmp_path / "shop"
    with SampleStore.open(folder, schema=shop) as store:
        store.upsert(pd.DataFrame({"id": ["shared"], "title": ["one"], "price": [1.0], "kind": ["pants"]}), shop)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, SCHEMA, str(folder), str(me), "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for me in range(3)]
    accepted = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        accepted += json.loads(out)
    with SampleStore.open(folder, schema=shop) as store:
        revisions = [rev for _, rev, _, _ in accepted]
        assert len(set(revisions)) == len(revisions)  # no two writers were given one revision
        assert store.revision == 1 + len(revisions)  # dense: every revision is one accepted write
        assert store.counts().samples == 1 + 3 * 4 * 5
        history = {c.revision: c.value for c in store.history("shared", "kind")}
        for what, rev, sample, value in accepted:
            if what == "annotate":
                assert history[rev] == value  # every accepted annotation is in the history, as given
            else:
                assert [c.revision for c in store.history(sample, "kind")] == [rev]
        values = [history[r] for r in sorted(history)]
        assert all(a != b for a, b in itertools.pairwise(values))  # each one a change of the one before
        assert store.get("shared").annotations["kind"] == values[-1]


def test_a_postgres_store_is_made_and_refused_by_the_same_format_rules(
        tmp_path: Path, shop: compose.Schema, postgres_server: object, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_server.database()  # type: ignore[attr-defined]
    monkeypatch.setenv("COMPOSE_SAMPLES", url)
    with SampleStore.open(tmp_path / "shop", schema=shop) as store:
        assert store.info("format") == FORMAT and store.info(f"migrated:{FORMAT}") is not None
        indexes = store._db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'compose_shop'").fetchall()
        assert ("samples_by_hash",) in indexes
        store.set_info("format", "99")
    assert not (tmp_path / "shop" / "samples.sqlite").exists()
    with pytest.raises(StoreError, match=r"sample store format '99'; this compose reads formats 1 to .*upgrade"):
        SampleStore.open(tmp_path / "shop")


def test_train_learn_and_samples_with_samples_on_postgres(
        tmp_path: Path, penguins_frame: pd.DataFrame, penguins_schema_path: Path, postgres_server: object,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_SAMPLES", raising=False)
    url = postgres_server.database()  # type: ignore[attr-defined]
    shuffled = penguins_frame.sample(frac=1.0, random_state=0)
    first, more = tmp_path / "first.csv", tmp_path / "more.csv"
    shuffled.iloc[:240].to_csv(first, index=False)
    shuffled.iloc[240:][["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]].to_csv(
        more, index=False)
    store = tmp_path / "store"
    assert main(["train", str(penguins_schema_path), "--data", str(first), "--store", str(store),
                 "--samples", url, "--jobs", "1"]) == 0
    assert main(["learn", "--store", str(store), "--data", str(more), "--samples", url, "--jobs", "1",
                 "--force"]) == 0
    capsys.readouterr()
    assert main(["samples", "--store", str(store), "--samples", url, "--group", "sex"]) == 0
    out = capsys.readouterr().out
    assert "344 samples" in out and "(schema compose_penguins)" in out and "password" not in out
    assert not list(store.rglob("samples.sqlite"))  # nothing of the samples in the store's folder
    assert "COMPOSE_SAMPLES" not in os.environ  # --samples is put back after the command
    assert compose.load(store).version_of("sex") == 2


def test_a_bad_or_unreachable_sample_database_is_one_sentence(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    code = main(["samples", "--store", str(tmp_path), "--samples", "s3://bucket/samples"])
    err = capsys.readouterr().err
    assert code == 2 and "the sample database is a postgresql:// URL" in err
    code = main(["samples", "--store", str(tmp_path / "m"), "--samples", "postgresql://nobody:secret@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert code == 4 and "cannot be reached" in err and "secret" not in err and "Traceback" not in err


def test_a_lease_has_one_holder_until_it_expires_or_is_dropped(tmp_path: Path, shop: compose.Schema,
                                                                sample_backend: str) -> None:
    with SampleStore.open(tmp_path / "shop", schema=shop) as a, SampleStore.open(tmp_path / "shop") as b:
        assert a.take_lease("retrain:kind", "replica a", 60)
        assert not b.take_lease("retrain:kind", "replica b", 60)  # a holds it
        assert a.take_lease("retrain:kind", "replica a", 0.2)  # renewed (shorter)
        assert b.expired_leases() == {}
        time.sleep(0.3)
        assert b.expired_leases() == {"retrain:kind": "replica a"}  # a stopped renewing it
        assert b.take_lease("retrain:kind", "replica b", 60)  # taken over
        a.drop_lease("retrain:kind", "replica a")  # not a's any more: nothing happens
        assert not a.take_lease("retrain:kind", "replica a", 60)
        b.drop_lease("retrain:kind", "replica b")
        assert a.take_lease("retrain:kind", "replica a", 60)


def test_a_store_on_object_storage_keeps_its_samples_on_postgres(
        tmp_path: Path, penguins_frame: pd.DataFrame, linear_penguins_schema: Path, postgres_server: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fsspec")
    monkeypatch.setenv("COMPOSE_SAMPLES", postgres_server.database())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = f"memory://pg-{os.getpid()}-{time.monotonic_ns()}"
    shuffled = penguins_frame.sample(frac=1.0, random_state=1)
    compose.train(linear_penguins_schema, shuffled.iloc[:300], store=store, n_jobs=1)
    report = compose.learn(store, shuffled.iloc[300:], n_jobs=1, force=True)
    assert report.added and compose.load(store).release_name == "r0002"
    with SampleStore.open(compose.ModelStore.open(store).samples_home) as samples:
        # 343: the two birds without any measurement, one in each frame, are one sample (the first
        # row with those inputs of a file is the first stored sample with them), as on SQLite
        assert samples.counts().samples == 343 and "(schema compose_penguins)" in samples.location
    assert not list((tmp_path / "cache").rglob("samples.sqlite"))
