"""Training and prediction on a real Dask cluster (a LocalCluster of two worker processes on 127.0.0.1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import compose
from compose.cli.main import main

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path,
          penguins_csv: Path) -> compose.ComposedModel:
    return compose.train(penguins_schema_path, penguins_csv, store=tmp_path_factory.mktemp("local"),
                         executor=compose.LocalExecutor())


def test_every_fit_runs_on_the_workers_and_gives_the_local_model(
    cluster: distributed.LocalCluster, local: compose.ComposedModel, penguins_schema_path: Path,
    penguins_csv: Path, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    with distributed.Client(cluster) as client:
        executor = compose.DaskExecutor(client)
        remote = compose.train(penguins_schema_path, penguins_csv, store=tmp_path, executor=executor)
        workers = set(client.scheduler_info()["workers"])
    assert len(executor.placements_) == 3  # species, island, sex: one fit each, small data and all
    assert set(executor.placements_) <= workers
    for group, scores in local.predict_scores(penguins_frame).items():
        np.testing.assert_allclose(remote.predict_scores(penguins_frame)[group], scores, rtol=0, atol=1e-12)
    assert remote.predict(penguins_frame) == local.predict(penguins_frame)


def test_train_and_retrain_take_a_scheduler_address(cluster: distributed.LocalCluster, penguins_schema_path: Path,
                                                    penguins_csv: Path, tmp_path: Path) -> None:
    address = cluster.scheduler_address
    assert main(["-q", "train", str(penguins_schema_path), "--data", str(penguins_csv), "--store", str(tmp_path),
                 "--scheduler", address]) == 0
    assert main(["-q", "retrain", str(penguins_schema_path), "--group", "island", "--data", str(penguins_csv),
                 "--store", str(tmp_path), "--scheduler", address, "--force"]) == 0
    assert compose.load(tmp_path).version_of("island") == 2


def test_predict_on_the_cluster_writes_one_part_per_input_file(
    cluster: distributed.LocalCluster, local: compose.ComposedModel, penguins_frame: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    frame = penguins_frame.assign(penguin=[f"p{i}" for i in range(len(penguins_frame))])
    for i, start in enumerate(range(0, len(frame), 120)):
        frame.iloc[start:start + 120].to_parquet(data / f"part-{i}.parquet", index=False)
    out = tmp_path / "out"
    assert main(["-q", "predict", "--store", str(local.store.path), "--data", str(data / "*.parquet"),  # type: ignore[union-attr]
                 "--out", str(out), "--id", "penguin", "--scheduler", cluster.scheduler_address]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    got = pd.concat([pd.read_parquet(out / f"part-{i}.parquet") for i in range(3)], ignore_index=True)
    want = local.predict(penguins_frame).to_frame()
    assert got["penguin"].tolist() == frame["penguin"].tolist()
    pd.testing.assert_frame_equal(got.drop(columns="penguin"), want, check_categorical=False, check_dtype=False)


def test_a_bad_cell_on_a_worker_leaves_no_part(cluster: distributed.LocalCluster, local: compose.ComposedModel,
                                              penguins_frame: pd.DataFrame, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "in"
    data.mkdir()
    good = penguins_frame.head(100)
    bad = penguins_frame.iloc[100:200].astype({"body_mass_g": str}).reset_index(drop=True)
    bad.loc[7, "body_mass_g"] = "heavy"
    good.to_parquet(data / "a.parquet", index=False)
    bad.to_parquet(data / "b.parquet", index=False)
    out = tmp_path / "out"
    assert main(["predict", "--store", str(local.store.path), "--data", str(data / "*.parquet"),  # type: ignore[union-attr]
                 "--out", str(out), "--scheduler", cluster.scheduler_address]) == 2
    assert "b.parquet, column 'body_mass_g': not a finite number in row 8: 'heavy'" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_an_unreachable_scheduler_is_a_cluster_error(penguins_schema_path: Path, penguins_csv: Path,
                                                     tmp_path: Path) -> None:
    executor = compose.DaskExecutor("tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(compose.ClusterError, match=re.escape("cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")):
        compose.train(penguins_schema_path, penguins_csv, store=tmp_path, executor=executor)
