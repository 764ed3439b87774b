"""One reader: `read_table` and `iter_batches` (the streaming `predict`) answer a broken file with
the same sentence, naming the file and the line or row, and no other module of compose reads files."""

from __future__ import annotations

import ast
import gzip
import io
import re
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.data.io import iter_batches, read_table

PACKAGE = Path(compose.__file__).parent
HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year"
ROWS = [f"Adelie,Torgersen,{39 + i / 10:.1f},18.7,181,3750,male,2007" for i in range(30)]


def _csv(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _parquet() -> bytes:
    buf = io.BytesIO()
    pd.read_csv(io.BytesIO(_csv(ROWS))).to_parquet(buf)
    return buf.getvalue()


CASES = {
    "rows.csv.gz": (gzip.compress(_csv(ROWS))[:-12], r"rows.csv.gz, line \d+: the .gz compressed data is truncated"),
    "rows.csv": (_csv(ROWS).replace(ROWS[20].encode(), ROWS[20].encode() + b"\xff", 1),
                 r"rows.csv, line 22: not UTF-8 text \(byte 0xff"),
    "ragged.csv": (_csv([*ROWS[:25], ROWS[25] + ",x", *ROWS[26:]]),
                   r"ragged.csv, line 27: 9 cells where the header has 8"),
    "first.csv": (_csv([ROWS[0] + ",x", *ROWS[1:]]), r"first.csv, line 2: 9 cells where the header has 8"),
    "rows.jsonl": (b'{"a": 1}\n' * 7 + b"[1, 2]\n", r"rows.jsonl, line 8: expected one JSON object per line, got list"),
    "cut.parquet": (_parquet()[:-20], r"cut.parquet: not a whole Parquet file"),
    "head.csv": ((HEADER + "\n").encode(), r"'[^']*head.csv' has a header but no rows"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_read_table_and_the_batches_give_the_same_sentence(tmp_path: Path, name: str) -> None:
    content, pattern = CASES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(compose.DataError) as whole:
        read_table(path)
    assert re.search(pattern, str(whole.value)) and "\n" not in str(whole.value), str(whole.value)
    if name == "head.csv":  # the stream has no batch to give: `predict` writes an output without rows
        assert list(iter_batches(path, 4)) == []
        return
    with pytest.raises(compose.DataError) as batched:
        for _ in iter_batches(path, 4):
            pass
    assert str(batched.value) == str(whole.value)


def test_a_first_row_longer_than_the_header_is_not_read_as_an_index(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(_csv([ROWS[0] + ",x"]))
    with pytest.raises(compose.DataError, match="line 2: 9 cells where the header has 8"):
        read_table(path)


def test_no_module_but_the_reader_calls_a_file_reader() -> None:
    readers = {"read_csv", "read_parquet", "read_json", "read_table", "ParquetFile", "read_feather", "read_excel"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "data" / "io.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in readers and not (
                    isinstance(node.value, ast.Name) and node.value.id == "compose"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.attr}")
    assert found == []
