"""The fuzzer as a test: schema texts, data files and store records, mutated at random, give only
compose's own errors (ComposeError subclasses) from the public API, and never "internal error" from
the command line.

In CI the examples are derandomized (tests/conftest.py's `ci` profile) and their number is bounded
so this file stays under about a minute; `make fuzz` runs many more (COMPOSE_FUZZ_SCALE=50).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compose
from compose.cli.main import main
from compose.errors import ComposeError

SCALE = max(1, int(os.environ.get("COMPOSE_FUZZ_SCALE", "1")))


def _settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


ROOT = Path(__file__).resolve().parents[2]
PENGUINS = (ROOT / "schemas" / "penguins.yaml").read_text(encoding="utf-8")
MOVIES = (ROOT / "schemas" / "movies.yaml").read_text(encoding="utf-8")

# --- byte mutations shared by every target ------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` truncated, with bytes flipped, inserted or deleted (a few edits), or left whole."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"\xff", b"\x00", b"[", b"{", b'"', b",", b"\n", b"\t", b"[" * 3000,
                                                b"\xc3", b"-", b"1e999", b"nan", b"NaN", b"|"]))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif data:
            data[at:at] = data[at:at + draw(st.integers(1, 200))]
    return bytes(data)


def _only_compose_errors(call: Callable[[], Any]) -> None:
    with contextlib.suppress(ComposeError):
        call()


# --- schema text -------------------------------------------------------------------------------------

_PARAM_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                          st.sampled_from(["many", "auto", "sqrt", "", "[1, 2]", "{}", "balanced"]),
                          st.lists(st.integers(-2, 3), max_size=3))
_PARAM_NAMES = st.sampled_from(["n_estimators", "min_samples_leaf", "max_depth", "C", "max_iter", "alpha",
                                "class_weight", "max_features", "penalty", "n_neighbors", "l2_regularization",
                                "learning_rate", "criterion"])
_ESTIMATORS = st.sampled_from(["logistic_regression", "linear_svc", "sgd", "ridge", "random_forest", "extra_trees",
                               "hist_gradient_boosting", "complement_nb", "multinomial_nb", "knn",
                               "sklearn.svm.SVC", "sklearn.cluster.KMeans", "os.path", "x.y"])


@_settings(80)
@given(st.sampled_from([PENGUINS, MOVIES]).map(str.encode).flatmap(mutated))
def test_mutated_schema_text_gives_a_schema_or_a_compose_error(data: bytes) -> None:
    _only_compose_errors(lambda: compose.parse_schema(data.decode("utf-8", errors="replace"), source="f.yaml"))


@_settings(60)
@given(_ESTIMATORS, st.dictionaries(_PARAM_NAMES, _PARAM_VALUES, max_size=4))
def test_any_estimator_parameters_give_a_schema_or_a_compose_error(estimator: str, params: dict[str, Any]) -> None:
    text = PENGUINS.replace("model: {estimator: random_forest, params: {n_estimators: 200, min_samples_leaf: 3}}",
                            "model: " + json.dumps({"estimator": estimator, "params": params}))
    _only_compose_errors(lambda: compose.parse_schema(text, source="f.yaml"))


# --- data files ---------------------------------------------------------------------------------------

FORMATS = [".csv", ".tsv", ".jsonl", ".json", ".parquet"]
COMPRESSIONS = ["", ".gz", ".bz2", ".xz", ".zip"]


@pytest.fixture(scope="module")
def birds() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins().sample(60, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, birds: pd.DataFrame) -> compose.ComposedModel:
    store = tmp_path_factory.mktemp("fuzzstore")
    compose.fit_and_release(compose.parse_schema(PENGUINS), birds, store, n_jobs=1)
    return compose.load(store)


def _encode(df: pd.DataFrame, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == ".csv":
        df.to_csv(buf, index=False)
    elif fmt == ".tsv":
        df.to_csv(buf, index=False, sep="\t")
    elif fmt == ".jsonl":
        df.to_json(buf, orient="records", lines=True)
    elif fmt == ".json":
        df.to_json(buf, orient="records")
    else:
        df.to_parquet(buf, index=False)
    return buf.getvalue()


def _compress(raw: bytes, compression: str, name: str) -> bytes:
    if compression == ".gz":
        return gzip.compress(raw)
    if compression == ".bz2":
        return bz2.compress(raw)
    if compression == ".xz":
        return lzma.compress(raw)
    if compression == ".zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(name, raw)
        return buf.getvalue()
    return raw


_CELLS = st.one_of(st.none(), st.text(max_size=6), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(["[", "[" * 2000, "[]", '["Adelie"]', "Adelie|Gentoo", "male", "yes", "1e400",
                                    "2020-01-01"]))


@st.composite
def data_files(draw: st.DrawFn, birds: pd.DataFrame) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(FORMATS))
    compression = draw(st.sampled_from(COMPRESSIONS))
    df = birds.iloc[: draw(st.integers(0, 12))].copy()
    for _ in range(draw(st.integers(0, 3))):  # odd cells, odd columns
        column = draw(st.sampled_from([*df.columns, "species.1", "extra", ""]))
        if len(df):
            df[column] = df[column].astype(object) if column in df.columns else None
            df.loc[draw(st.integers(0, len(df) - 1)), column] = draw(_CELLS)
    if draw(st.booleans()) and len(df.columns) > 1:
        df = df.drop(columns=[draw(st.sampled_from(list(df.columns)))])
    name = f"rows{fmt}"
    try:
        raw = _encode(df, fmt)
    except (ValueError, TypeError, OverflowError, ImportError, Exception):
        raw = _encode(birds.iloc[:3], fmt)
    whole = _compress(raw, compression, name)
    return name + compression, draw(mutated(whole)) if draw(st.booleans()) else whole


@contextlib.contextmanager
def _file(name: str, content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        yield path


@_settings(60)
@given(data=st.data())
def test_mutated_data_files_give_rows_or_a_compose_error(data: st.DataObject, birds: pd.DataFrame,
                                                        model: compose.ComposedModel) -> None:
    name, content = data.draw(data_files(birds))
    schema = model.schema
    with _file(name, content) as path:
        def run() -> None:
            df = compose.read_table(path)
            compose.prepare_inputs(df, schema)
            compose.check(schema, df)
            if len(df):
                model.predict(df)
        _only_compose_errors(run)


@_settings(4)
@given(data=st.data())
def test_training_on_mutated_data_files_gives_a_release_or_a_compose_error(data: st.DataObject,
                                                                          birds: pd.DataFrame) -> None:
    name, content = data.draw(data_files(birds))
    with _file(name, content) as path, tempfile.TemporaryDirectory() as store:
        _only_compose_errors(lambda: compose.fit_and_release(compose.parse_schema(PENGUINS), path, store, n_jobs=1))


# --- store records -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, birds: pd.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("records") / "store"
    schema = compose.parse_schema(PENGUINS)
    compose.fit_and_release(schema, birds, root, n_jobs=1)
    compose.retrain(schema, birds, root, group="sex", force=True, n_jobs=1)
    return root


def _records(root: Path) -> list[Path]:
    model_dir = root / "penguins"
    return sorted([model_dir / "CURRENT", *model_dir.glob("releases/*.json"), *model_dir.glob("*/*/v*/meta.json")])


_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True),
                               st.text(max_size=5)),
                     lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)),
                     max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def record_mutation(draw: st.DrawFn, original: bytes) -> bytes:
    """A JSON record with one value retyped or removed (keeping its sha256 stale), or its bytes mutated."""
    try:
        obj = json.loads(original)
    except ValueError:
        obj = None
    if obj is None or not isinstance(obj, dict) or draw(st.booleans()):
        return draw(mutated(original))
    path = draw(st.sampled_from(_paths(obj)[1:] or [()]))
    if not path:
        return json.dumps(draw(_JSON)).encode()
    parent = obj
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_JSON)
    return json.dumps(obj).encode()


def _exercise(root: Path) -> None:
    """Every public read of a store, and its CLI commands: only compose errors, never "internal error"."""
    for call in (lambda: compose.verify_store(root), lambda: compose.list_versions(root),
                 lambda: compose.list_releases(root), lambda: compose.load(root).predict([{"bill_length_mm": 40}]),
                 lambda: compose.collect_garbage(root, dry_run=True),
                 lambda: compose.diff_releases(root, "r0001", "r0002")):
        _only_compose_errors(call)
    for args in (["verify"], ["versions"], ["releases"], ["gc", "--dry-run"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([*args, "--store", str(root)])
        assert "internal error" not in err.getvalue(), (args, err.getvalue())


@_settings(15)
@given(data=st.data())
def test_mutated_store_records_give_only_compose_errors(data: st.DataObject, store: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "store"
        shutil.copytree(store, root)
        for target in data.draw(st.lists(st.sampled_from(_records(root)), min_size=1, max_size=2, unique=True)):
            target.write_bytes(data.draw(record_mutation(target.read_bytes())))
        _exercise(root)


# --- every command that reads a data file, through the command line ------------------------------------
#
# One reader (compose.data.io) serves every command; a broken file gets the same answer from each:
# exit 2 and one sentence that names the file and, where the file has lines or rows, the one where it
# broke. No command may answer with "internal error" or a traceback.

READERS = ["predict", "predict --batch-size 3", "evaluate", "learn", "train", "retrain", "audit", "queue",
           "samples --import", "tune"]


def _argv(command: str, schema: Path, store: Path, data: Path, out: Path) -> list[str]:
    s, d = str(store), str(data)
    argv = {
        "predict": ["predict", "--store", s, "--data", d, "--out", str(out / "p.jsonl")],
        "predict --batch-size 3": ["predict", "--store", s, "--data", d, "--out", str(out / "p.csv"),
                                   "--batch-size", "3"],
        "evaluate": ["evaluate", "--store", s, "--data", d],
        "learn": ["learn", "--store", s, "--data", d, "--jobs", "1"],
        "train": ["train", str(schema), "--data", d, "--store", s, "--jobs", "1"],
        "retrain": ["retrain", str(schema), "--group", "species", "--data", d, "--store", s, "--jobs", "1"],
        "audit": ["audit", "--store", s, "--data", d, "--folds", "2"],
        "queue": ["queue", "--store", s, "--group", "species", "--data", d, "--out", str(out / "q.csv")],
        "samples --import": ["samples", "--store", s, "--import", d],
        "tune": ["tune", "--store", s, "--group", "sex", "--target", "precision=0.9", "--data", d, "--dry-run"],
    }[command]
    return ["-q", *argv]


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def reader_store(tmp_path_factory: pytest.TempPathFactory, birds: pd.DataFrame) -> tuple[Path, Path]:
    """A linear penguins schema (fast fits) and a store released from it, shared by the broken-file runs
    (a broken file changes nothing; the test checks that too)."""
    folder = tmp_path_factory.mktemp("readers")
    schema = folder / "penguins.yaml"
    schema.write_text("\n".join(line for line in PENGUINS.splitlines() if "random_forest" not in line) + "\n",
                      encoding="utf-8")
    compose.fit_and_release(compose.load_schema(schema), birds, folder / "store", n_jobs=1)
    return schema, folder / "store"


_NOT_OBJECTS = ["1", "[1, 2]", '"Adelie"', "null", "true", '{"bill_length_mm": ', "{", "tru", "[" * 3000]


Broken = tuple[str, bytes | None, str | None]  # file name, content (None: a folder or nothing), "line N" to name


def _truncated_gzip(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    whole = gzip.compress(_encode(rows, fmt))
    return "rows" + fmt + ".gz", whole[: draw(st.integers(1, len(whole) - 1))], None


def _garbage(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    junk = bytearray(draw(st.binary(min_size=1, max_size=400)))
    junk[draw(st.integers(0, len(junk))):0] = b"\xff\xfe\x80"  # never UTF-8, never Parquet
    return "rows" + draw(st.sampled_from(FORMATS)), bytes(junk), None


def _bad_utf8(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    at = draw(st.integers(2 if fmt != ".jsonl" else 1, len(lines)))  # a data line, 1-based
    raw = [line.encode() for line in lines]
    raw[at - 1] = raw[at - 1][:-1] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"]))
    compression = draw(st.sampled_from(["", ".gz", ".bz2"]))
    return "rows" + fmt + compression, _compress(b"\n".join(raw) + b"\n", compression, "rows" + fmt), f"line {at}"


def _not_objects(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    lines = _encode(rows, ".jsonl").decode().splitlines()
    at = draw(st.integers(1, len(lines)))
    lines[at - 1] = draw(st.sampled_from(_NOT_OBJECTS))
    return "rows.jsonl", ("\n".join(lines) + "\n").encode(), f"line {at}"


def _cut_parquet(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    whole = _encode(rows, ".parquet")
    return "rows.parquet", whole[: draw(st.integers(0, len(whole) - 1))] or b"P", None


def _ragged(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    lines = _encode(rows, ".csv").decode().splitlines()
    at = draw(st.integers(2, len(lines)))
    lines[at - 1] += ",x" * draw(st.integers(1, 3))
    return "rows.csv", ("\n".join(lines) + "\n").encode(), f"line {at}"


def _empty(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    return "rows" + draw(st.sampled_from(FORMATS)) + draw(st.sampled_from(["", ".gz"])), b"", None


def _header_only(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    return "rows" + fmt, (lines[0] + "\n").encode() if fmt != ".jsonl" else b"\n\n", None


def _nothing(draw: st.DrawFn, rows: pd.DataFrame, fmt: str, lines: list[str]) -> Broken:
    return "rows" + fmt, None, None  # a folder, or nothing at all


BROKEN: dict[str, Callable[[st.DrawFn, pd.DataFrame, str, list[str]], Broken]] = {
    "truncated gzip": _truncated_gzip, "binary garbage": _garbage, "bad UTF-8": _bad_utf8,
    "JSON Lines line not an object": _not_objects, "Parquet cut short": _cut_parquet, "ragged CSV": _ragged,
    "empty file": _empty, "header only": _header_only, "folder": _nothing, "missing": _nothing}


@st.composite
def broken_files(draw: st.DrawFn, kind: str, birds: pd.DataFrame) -> Broken:
    """A file of `kind` (see BROKEN) made from 3 to 20 real rows, broken at a drawn place."""
    rows = birds.iloc[: draw(st.integers(3, 20))]
    fmt = draw(st.sampled_from([".csv", ".tsv", ".jsonl"]))
    return BROKEN[kind](draw, rows, fmt, _encode(rows, fmt).decode("utf-8").splitlines())


def _place(path: Path, kind: str, content: bytes | None) -> None:
    if kind == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)


def _assert_one_sentence(command: str, code: int, out: str, err: str, path: Path, line: str | None) -> None:
    said = [text for text in err.splitlines() if text.strip()]
    assert "internal error" not in err and "Traceback" not in err, (command, err)
    assert code == 2 and len(said) == 1 and said[0].startswith("compose: error: "), (command, code, out, err)
    assert path.name in said[0], (command, said[0])
    if line is not None:
        assert f"{line}:" in said[0], (command, line, said[0])


@pytest.mark.parametrize("kind", sorted(BROKEN))
@_settings(8)
@given(data=st.data())
def test_a_broken_file_gets_one_sentence_from_every_command(data: st.DataObject, kind: str, birds: pd.DataFrame,
                                                           reader_store: tuple[Path, Path]) -> None:
    schema, store = reader_store
    name, content, line = data.draw(broken_files(kind, birds))
    releases = sorted(p.name for p in (store / "penguins" / "releases").iterdir())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        _place(path, kind, content)
        for command in READERS:
            code, out, err = _cli(_argv(command, schema, store, path, Path(folder)))
            if kind == "header only" and command.startswith("predict"):  # no rows: an output without rows
                assert (code, "error" in err) == (0, False), (command, err)
                continue
            _assert_one_sentence(command, code, out, err, path, line)
    assert sorted(p.name for p in (store / "penguins" / "releases").iterdir()) == releases


@_settings(20)
@given(data=st.data())
def test_every_command_on_mutated_data_files_gives_a_result_or_one_sentence(
        data: st.DataObject, birds: pd.DataFrame, reader_store: tuple[Path, Path]) -> None:
    schema, store = reader_store
    name, content = data.draw(data_files(birds))
    with _file(name, content) as path:
        for command in READERS:
            with tempfile.TemporaryDirectory() as folder:
                copy = Path(folder) / "store"
                shutil.copytree(store, copy)
                code, _, err = _cli(_argv(command, schema, copy, path, Path(folder)))
            assert "internal error" not in err and "Traceback" not in err, (command, err)
            if code not in (0, 3):  # 3: the gate refused a candidate, or tune met no target
                said = [text for text in err.splitlines() if text.strip()]
                assert code == 2 and said and said[-1].startswith("compose: error: "), (command, code, err)
