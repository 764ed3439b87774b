"""Streaming `compose predict`: batches read from the file, an id passed through, the input never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.data.io import iter_batches


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    root = tmp_path_factory.mktemp("stream") / "store"
    compose.train(penguins_schema_path, penguins_csv, store=root, n_jobs=1)
    return root


@pytest.fixture(scope="module")
def with_ids(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> pd.DataFrame:
    df = penguins_frame.copy()
    df.insert(0, "penguin_id", [f"p{i:03d}" for i in range(len(df))])
    return df


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_iter_batches_reads_the_whole_file_in_numbered_batches(with_ids: pd.DataFrame, tmp_path: Path,
                                                                kind: str) -> None:
    path = tmp_path / f"data.{kind}"
    compose.write_table(with_ids, path)
    batches = list(iter_batches(path, 100))
    assert [len(b) for b in batches] == [100, 100, 100, 44]
    assert [b.attrs["first_row"] for b in batches] == [0, 100, 200, 300]
    assert pd.concat(batches)["penguin_id"].tolist() == with_ids["penguin_id"].tolist()


def test_an_output_equal_to_the_input_is_refused_and_the_input_kept(store: Path, penguins_csv: Path,
                                                                    tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(penguins_csv.read_bytes())
    before = data.read_bytes()
    assert main(["predict", "--store", str(store), "--data", str(data), "--out", str(data)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert data.read_bytes() == before
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    assert main(["predict", "--store", str(store), "--data", str(data), "--out", str(link)]) == 2
    assert data.read_bytes() == before


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_the_id_column_is_passed_through_in_every_format(store: Path, with_ids: pd.DataFrame, tmp_path: Path,
                                                        suffix: str) -> None:
    data = tmp_path / "data.parquet"
    compose.write_table(with_ids, data)
    out = tmp_path / f"out{suffix}"
    assert main(["predict", "--store", str(store), "--data", str(data), "--out", str(out), "--id", "penguin_id",
                 "--batch-size", "64", "-q"]) == 0
    if suffix == ".jsonl":
        lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        ids = [x["penguin_id"] for x in lines]
        assert next(iter(lines[0])) == "penguin_id"
        whole = compose.load(store).predict(with_ids)
        assert [{k: v for k, v in x.items() if k != "penguin_id"} for x in lines] == whole
    else:
        frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        ids = frame["penguin_id"].tolist()
        assert frame.columns[0] == "penguin_id"
    assert ids == with_ids["penguin_id"].tolist()


def test_a_missing_id_column_is_a_clear_error(store: Path, penguins_csv: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--store", str(store), "--data", str(penguins_csv), "--out", str(out),
                 "--id", "nope"]) == 2
    assert "no column 'nope' to pass through with --id" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_cell_in_the_last_parquet_batch_leaves_no_output(store: Path, penguins_frame: pd.DataFrame,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    df = penguins_frame.copy()
    df["body_mass_g"] = df["body_mass_g"].astype(str)
    df.loc[df.index[340], "body_mass_g"] = "heavy"
    data = tmp_path / "bad.parquet"
    df.to_parquet(data, index=False)
    out = tmp_path / "out.parquet"
    assert main(["predict", "--store", str(store), "--data", str(data), "--out", str(out), "--batch-size", "50"]) == 2
    assert "row 341: 'heavy'" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_quiet_is_accepted_after_the_command(store: Path, penguins_csv: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    assert main(["predict", "--store", str(store), "--data", str(penguins_csv), "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert len(pd.read_csv(out)) == 344
