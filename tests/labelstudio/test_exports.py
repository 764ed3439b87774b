"""Label Studio's exports as samples, and samples as Label Studio tasks: no Label Studio needed.

The exports in tests/fixtures/labelstudio/ were written by a real Label Studio 1.23.2 (see SOURCE.md
there): the same project exported as JSON, JSON-MIN and CSV. Each must give the same samples.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import compose
from compose.cli.main import main
from compose.data.io import read_table
from compose.errors import SampleNotFoundError
from compose.labelstudio import export_kind, read_export, task_rows

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "labelstudio"
MOVIES = ROOT / "schemas" / "movies.yaml"
EXPORTS = ["movies.json", "movies.min.json", "movies.csv"]
# What tests/fixtures/labelstudio/SOURCE.md says each task was annotated with (task 3: cancelled only;
# task 4: its second annotation; task 5: none; task 6: the annotation that was not cancelled).
EXPECTED = {
    "ls-1": {"language": "English", "country": "other", "decade": "2010s", "genres": ["Comedy", "Western"]},
    "ls-2": {"language": "English", "genres": ["Documentary"], "mpaa": "PG"},
    "ls-4": {"language": "other", "decade": "1960s"},
    "ls-5": {},
    "ls-6": {"language": "English", "country": "Germany"},
}


@pytest.fixture(scope="module")
def movies() -> compose.Schema:
    return compose.load_schema(MOVIES)


def film(title: str) -> dict[str, Any]:
    frame = pd.read_csv(ROOT / "tests" / "fixtures" / "movies_sample.csv")
    row = frame[frame["title"] == title].iloc[0]
    return {k: None if isinstance(v, float) and math.isnan(v) else v
            for k, v in row[["title", "director", "writer", "cast", "runtime"]].items()}


@pytest.mark.parametrize("name", EXPORTS)
def test_each_export_gives_the_tasks_as_samples_with_their_latest_annotation(name: str,
                                                                             movies: compose.Schema) -> None:
    frame = read_table(DATA / name)
    assert export_kind(frame) == {"movies.json": "JSON", "movies.min.json": "JSON_MIN", "movies.csv": "CSV"}[name]
    found = read_export(frame, movies)
    assert found is not None
    got = {r["id"]: {g: r[g] for g in movies.groups if g in r} for r in found.rows}
    assert got == EXPECTED
    mpaa = next(r for r in found.rows if r["id"] == "ls-2")
    assert {k: mpaa[k] for k in movies.inputs} == film("Mad Hot Ballroom")  # "" read as empty, numbers as numbers
    assert next(r for r in found.rows if r["id"] == "ls-1")["runtime"] == 92.0
    assert found.ignored == {"quality": 1, "notes": 1} and found.superseded == 1
    assert found.mapped == {"language": 4, "country": 2, "decade": 2, "genres": 2, "mpaa": 1}
    assert (found.annotated, found.unannotated) == (4, 1)
    if name == "movies.json":  # JSON-MIN and CSV never hold cancelled annotations
        assert found.cancelled == ["task 3", "task 6"] and found.skipped_tasks == ["task 3"]


def test_an_ordinary_table_is_not_an_export(movies: compose.Schema) -> None:
    assert export_kind(read_table(ROOT / "tests" / "fixtures" / "movies_sample.csv")) is None
    assert read_export(read_table(ROOT / "tests" / "fixtures" / "movies_sample.csv"), movies) is None


def test_import_says_what_it_mapped_and_ignored_and_the_three_exports_agree(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    args = ["samples", "--store", str(store), "--schema", str(MOVIES), "--import"]
    assert main([*args, str(DATA / "movies.json")]) == 0
    out = capsys.readouterr().out
    assert "a Label Studio JSON export of 5 tasks -> samples ls-<task id> (4 annotated, 1 without" in out
    assert "mapped (each control to the group it names): country 2, decade 2, genres 2, language 4, mpaa 1" in out
    assert "control 'notes' (1 annotation: names no group of the schema)" in out
    assert "control 'quality' (1 annotation: names no group of the schema)" in out
    assert "2 cancelled annotations (task 3, task 6); so task 3 (only cancelled annotations) is not imported" in out
    assert "1 older annotation of tasks annotated more than once (the latest is taken)" in out
    assert "5 rows, 5 new samples, 0 already stored" in out
    for name in ("movies.min.json", "movies.csv"):  # the same samples, the same inputs: nothing changes
        assert main([*args, str(DATA / name)]) == 0
        out = capsys.readouterr().out
        assert "5 rows, 0 new samples, 5 already stored" in out and "changed" not in out.split("imported")[-1]
        assert "column 'quality'" in out and "holds none (Label Studio leaves them out)" in out
    samples, _ = compose.open_samples(store, schema=compose.load_schema(MOVIES))
    with samples:
        assert {s.id: s.annotations for s in samples.samples(limit=10).samples} == EXPECTED
        assert samples.counts().sources == {str(DATA / "movies.json"): 5}


def test_a_later_export_changes_the_annotations_it_changed(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    args = ["-q", "samples", "--store", str(store), "--schema", str(MOVIES), "--import"]
    assert main([*args, str(DATA / "movies.min.json")]) == 0
    rows = json.loads((DATA / "movies.min.json").read_text(encoding="utf-8"))
    later = [{**r, "language": "French", "updated_at": "2030-01-01T00:00:00Z"} if r["annotation_id"] == 5 else r
             for r in rows]
    (tmp_path / "later.json").write_text(json.dumps(later), encoding="utf-8")
    assert main([*args, str(tmp_path / "later.json")]) == 0
    samples, _ = compose.open_samples(store)
    with samples:
        assert samples.get("ls-4").annotations == {"language": "French", "decade": "1960s"}
        assert [c.value for c in samples.history("ls-4", "language")] == ["other", "French"]


def edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    path = tmp_path / name
    text = (DATA / name).read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "old", "new"), [
    ("movies.json", '"Documentary"', '"Docu"'),
    ("movies.min.json", '"genres": "Documentary"', '"genres": "Docu"'),
    ("movies.csv", '"Documentary"', '"Docu"'),
])
def test_an_undeclared_label_is_one_sentence_naming_the_task(name: str, old: str, new: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = edited(tmp_path, name, old, new)
    assert main(["-q", "samples", "--store", str(tmp_path / "s"), "--schema", str(MOVIES), "--import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, task 2: group 'genres' is annotated 'Docu', a label the schema does not declare" in err
    assert "Did you mean 'Documentary'?" in err or "'Documentary'" in err
    assert "groups.genres.labels" in err and "Traceback" not in err


def test_several_choices_for_a_single_label_group_name_the_task(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = edited(tmp_path, "movies.min.json", '"mpaa": "PG"', '"mpaa": {"choices": ["PG", "R"]}')
    assert main(["-q", "samples", "--store", str(tmp_path / "s"), "--schema", str(MOVIES), "--import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}, task 2: the annotation's 'mpaa' choices ['PG', 'R']: group 'mpaa' takes one label" in err


def test_an_export_of_another_project_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 linear_penguins_schema: Path) -> None:
    assert main(["-q", "samples", "--store", str(tmp_path / "s"), "--schema", str(linear_penguins_schema),
                 "--import", str(DATA / "movies.csv")]) == 2
    assert "whose tasks hold none of the schema's inputs" in capsys.readouterr().err


# --- samples as Label Studio tasks ---------------------------------------------------------------

@pytest.fixture()
def penguins_store(linear_penguins_store: Path, tmp_path: Path) -> Path:
    shutil.copytree(linear_penguins_store, tmp_path / "store")
    return tmp_path / "store"


def test_export_writes_tasks_with_the_predictions_of_compose_predict(
        penguins_store: Path, penguins_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tasks.json"
    assert main(["samples", "--store", str(penguins_store), "--export", str(out), "--format", "labelstudio"]) == 0
    assert "344 Label Studio tasks with the predictions of release r0001 as pre-annotations" in capsys.readouterr().out
    tasks = json.loads(out.read_text(encoding="utf-8"))
    cli = tmp_path / "cli.jsonl"
    assert main(["-q", "predict", "--store", str(penguins_store), "--data", str(penguins_csv), "--out", str(cli)]) == 0
    expected = [json.loads(line) for line in cli.read_text(encoding="utf-8").splitlines()]
    assert len(tasks) == len(expected) == 344  # the sample store holds the training rows, in their order
    schema = compose.load(penguins_store).schema
    blanks = 0
    for task, want in zip(tasks, expected, strict=True):
        assert set(task) == {"data", "predictions"} and None not in task["data"].values()
        blanks += "" in task["data"].values()  # Label Studio refuses null: an empty value is ""
        (pred,) = task["predictions"]
        assert pred["model_version"] == "r0001"
        chosen = {r["from_name"]: r["value"]["choices"] for r in pred["result"]}
        assert chosen == {g: [a["label"]] for g, a in want["groups"].items() if a.get("label") is not None}
        assert all(r["to_name"] == "bill_length_mm" and r["type"] == "choices" for r in pred["result"])
    assert blanks == 2  # the two birds without measurements
    rows = task_rows(tasks, schema)  # the tasks read back as the backend reads them: the stored inputs
    assert rows[0] == {k: float(v) for k, v in tasks[0]["data"].items() if k != "compose_id"}
    samples, _ = compose.open_samples(penguins_store)
    with samples:  # each task names the sample it was exported from
        assert [t["data"]["compose_id"] for t in tasks] == list(samples.frame(schema)["id"])


def test_export_of_one_group_and_a_non_json_file(penguins_store: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tasks.json"
    assert main(["-q", "samples", "--store", str(penguins_store), "--export", str(out), "--format", "labelstudio",
                 "--group", "sex"]) == 0
    names = {r["from_name"] for t in json.loads(out.read_text(encoding="utf-8")) for r in t["predictions"][0]["result"]}
    assert names == {"sex"}
    assert main(["-q", "samples", "--store", str(penguins_store), "--export", str(tmp_path / "t.csv"),
                 "--format", "labelstudio"]) == 2
    assert "Label Studio imports tasks from a JSON file; name it *.json" in capsys.readouterr().err


def test_exported_tasks_annotated_in_label_studio_come_back_as_their_samples(
        penguins_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tasks as Label Studio keeps them after an import (an id each) with the pre-annotations changed
    and accepted as annotations, exported as JSON: imported, each is the sample it was exported from
    (its data's compose_id), with the annotator's labels, and no sample is added; a task made in Label
    Studio itself (no compose_id) is the new sample ls-<id>."""
    out = tmp_path / "tasks.json"
    assert main(["-q", "samples", "--store", str(penguins_store), "--export", str(out), "--format", "labelstudio"]) == 0
    tasks = json.loads(out.read_text(encoding="utf-8"))[:20]
    samples, _ = compose.open_samples(penguins_store)
    with samples:
        before = samples.counts().samples
    flipped = {"male": "female", "female": "male"}
    for t in tasks:  # the annotator disagrees with the pre-annotation of sex
        for r in t["predictions"][0]["result"]:
            if r["from_name"] == "sex":
                r["value"]["choices"] = [flipped[r["value"]["choices"][0]]]
    export = [{"id": 100 + i, "data": t["data"], "predictions": [],
               "annotations": [{"id": 500 + i, "result": t["predictions"][0]["result"], "was_cancelled": False,
                                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}]}
              for i, t in enumerate(tasks)]
    fresh = {k: v for k, v in tasks[0]["data"].items() if k != "compose_id"}
    export.append({"id": 999, "data": fresh, "annotations": []})
    (tmp_path / "export.json").write_text(json.dumps(export), encoding="utf-8")
    assert main(["samples", "--store", str(penguins_store), "--import", str(tmp_path / "export.json")]) == 0
    assert "a Label Studio JSON export of 21 tasks" in capsys.readouterr().out
    samples, _ = compose.open_samples(penguins_store)
    with samples:
        assert samples.counts().samples == before + 1  # only the task made in Label Studio is a new sample
        assert samples.get("ls-999").annotations == {}
        with pytest.raises(SampleNotFoundError):
            samples.get("ls-100")
        for t in tasks:
            want = {r["from_name"]: r["value"]["choices"][0] for r in t["predictions"][0]["result"]}
            got = samples.get(t["data"]["compose_id"]).annotations
            assert {g: got[g] for g in want} == want  # the annotator's sex, the accepted species and island


def test_a_value_without_choices_answers_nothing(tmp_path: Path, movies: compose.Schema) -> None:
    path = edited(tmp_path, "movies.min.json", '"genres": "Documentary"', '"genres": {"text": ["a dance film"]}')
    found = read_export(read_table(path), movies)
    assert found is not None
    assert next(r for r in found.rows if r["id"] == "ls-2") == {
        "id": "ls-2", **film("Mad Hot Ballroom"), "language": "English", "mpaa": "PG"}
