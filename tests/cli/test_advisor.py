"""`compose suggest`, `check` and `convert` from the command line, in process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from compose.cli.main import main

GROUPS = ["species", "island", "sex"]


@pytest.fixture(scope="module")
def flat_csv(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> Path:
    tags = ["|".join(v for v in row if isinstance(v, str)) for row in penguins_frame[GROUPS].itertuples(index=False)]
    path = tmp_path_factory.mktemp("flat") / "penguins_flat.csv"
    penguins_frame.drop(columns=GROUPS).assign(tags=tags).to_csv(path, index=False)
    return path


def test_suggest_writes_a_draft_that_validates_converts_and_trains(flat_csv: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    draft, data = tmp_path / "draft.yaml", tmp_path / "data.csv"

    assert main(["suggest", str(flat_csv), "--tags", "tags", "--out", str(draft), "--data-out", str(data)]) == 0

    out = capsys.readouterr().out
    assert "group_1       multiclass" in out and "Gentoo => Biscoe" in out
    assert draft.read_text().startswith("# Draft schema written by `compose suggest`")
    assert main(["validate", str(draft)]) == 0
    assert main(["train", str(draft), "--data", str(data), "--store", str(tmp_path / "models")]) == 0
    assert "release r0001 is live" in capsys.readouterr().out


def test_suggest_without_out_prints_the_draft(flat_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suggest", str(flat_csv), "--tags", "tags", "--tolerance", "0.02"]) == 0
    assert "schema_version: 1" in capsys.readouterr().out


def test_suggest_with_a_missing_tag_column_prints_one_sentence(flat_csv: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suggest", str(flat_csv), "--tags", "labels"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("compose: error:") and "no column 'labels'" in err and "Traceback" not in err


def test_suggest_on_an_empty_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["suggest", str(empty), "--tags", "tags"]) == 2
    assert "compose: error:" in capsys.readouterr().err


def test_convert_and_back_then_check(flat_csv: Path, penguins_schema_path: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    groups, back = tmp_path / "groups.csv", tmp_path / "back.csv"
    schema = str(penguins_schema_path)

    assert main(["convert", "--schema", schema, "--data", str(flat_csv), "--out", str(groups)]) == 0
    assert main(["convert", "--schema", schema, "--data", str(groups), "--out", str(back), "--to-flat"]) == 0
    assert pd.read_csv(back)["tags"].tolist() == pd.read_csv(flat_csv)["tags"].tolist()
    assert main(["check", "--schema", schema, "--data", str(groups), "--json", str(tmp_path / "c.json")]) == 0
    assert "ok: nothing blocks training" in capsys.readouterr().out


def test_check_exits_1_when_a_finding_blocks_training(flat_csv: Path, penguins_schema_path: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.read_csv(flat_csv)
    df.loc[0, "tags"] = "Adelie|Gentoo|Torgersen"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)

    assert main(["check", "--schema", str(penguins_schema_path), "--data", str(bad), "--tags", "tags"]) == 1
    assert "ERROR exclusivity" in capsys.readouterr().out
