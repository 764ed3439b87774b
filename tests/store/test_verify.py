"""`compose verify` checks a whole store: live or not, every file of every version and release."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main

INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture()
def store(tmp_path: Path, penguins_schema_path: Path, penguins_csv: Path, penguins_frame: pd.DataFrame) -> Path:
    compose.train(penguins_schema_path, penguins_csv, store=tmp_path / "store", n_jobs=1)
    island = tmp_path / "island.csv"
    penguins_frame[[*INPUTS, "island"]].to_csv(island, index=False)
    compose.retrain(penguins_schema_path, island, tmp_path / "store", group="island", force=True, n_jobs=1)
    return tmp_path / "store"


def test_a_whole_store_verifies(store: Path) -> None:
    check = compose.verify_store(store)
    assert check.ok and check.releases == 2 and check.versions == 5


def test_a_flipped_byte_in_a_version_no_release_uses_is_still_found(store: Path) -> None:
    old = store / "penguins" / "groups" / "island" / "v0001" / "model.joblib"  # live is v0002 now
    data = bytearray(old.read_bytes())
    data[10] ^= 0xFF
    old.write_bytes(bytes(data))
    assert compose.load(store).version_of("island") == 2  # serving is unaffected
    check = compose.verify_store(store)
    assert not check.ok
    pinned_by_r0001 = [p for p in check.problems if p.startswith("release r0001")]
    assert any("island/v0001/model.joblib does not match" in p for p in pinned_by_r0001)


def test_the_cli_exits_non_zero_and_names_the_file(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (store / "penguins" / "features" / "body" / "v0001" / "meta.json").write_text("{oops")
    assert main(["verify", "--store", str(store)]) == 1
    out = capsys.readouterr().out
    assert "features/body/v0001/meta.json is corrupt" in out
