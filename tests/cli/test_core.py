"""`compose predict` works in batches: the same results, errors numbered in the whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path, penguins_csv: Path) -> Path:
    root = tmp_path_factory.mktemp("batches") / "store"
    compose.train(penguins_schema_path, penguins_csv, store=root, n_jobs=1)
    return root


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_batches_give_the_same_output_as_one_pass(store: Path, penguins_csv: Path, tmp_path: Path,
                                                  suffix: str) -> None:
    whole, batched = tmp_path / f"whole{suffix}", tmp_path / f"batched{suffix}"
    assert main(["-q", "predict", "--store", str(store), "--data", str(penguins_csv), "--out", str(whole)]) == 0
    assert main(["-q", "predict", "--store", str(store), "--data", str(penguins_csv), "--out", str(batched),
                 "--batch-size", "50"]) == 0
    if suffix == ".jsonl":
        assert [json.loads(x) for x in whole.read_text().splitlines()] == \
               [json.loads(x) for x in batched.read_text().splitlines()]
    else:
        read = pd.read_csv if suffix == ".csv" else pd.read_parquet
        pd.testing.assert_frame_equal(read(whole), read(batched))


def test_a_bad_cell_late_in_the_file_is_named_by_its_row_in_the_whole_file(
    store: Path, penguins_frame: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = penguins_frame.copy()
    df["body_mass_g"] = df["body_mass_g"].astype(object)
    df.loc[df.index[300], "body_mass_g"] = "heavy"
    df.to_csv(tmp_path / "bad.csv", index=False)
    out = tmp_path / "out.jsonl"
    code = main(["predict", "--store", str(store), "--data", str(tmp_path / "bad.csv"), "--out", str(out),
                 "--batch-size", "50"])
    assert code == 2
    assert "row 301: 'heavy'" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
