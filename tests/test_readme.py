"""The README stays true: its schema example validates and every command it lists exists."""

from __future__ import annotations

import re
from pathlib import Path

import compose
from compose.cli.main import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_schema_example_of_the_readme_validates_and_plans() -> None:
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if b.startswith("schema_version"))
    schema = compose.parse_schema(example, source="README.md")
    assert compose.build_plan(schema).requirements("sleeve") == [
        "feature:words", "feature:meta", "head:clothing_type", "head:sleeve"]


def test_every_command_the_readme_names_exists() -> None:
    named = set(re.findall(r"`compose ([a-z]+)[ `]", README))
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert named and named <= set(subparsers.choices)


# --- the quickstart, run as written ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _blocks(kind: str) -> list[str]:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{kind}\n(.*?)```", quickstart, re.S)


def _workspace(tmp_path: Path) -> dict[str, str]:
    """A fresh clone's layout with the movies data swapped for its 1,200-film sample (fast), and a
    `.venv/bin/activate` that puts this interpreter's `compose` and `python` first on the PATH."""
    import gzip
    import os
    import shutil
    import sys

    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    movies = tmp_path / "examples" / "movies"
    movies.mkdir(parents=True)
    for name in ("new_movies.csv", "more_labels.py"):
        shutil.copy(ROOT / "examples" / "movies" / name, movies / name)
    (movies / "movies.csv.gz").write_bytes(gzip.compress((ROOT / "tests" / "data" / "movies_sample.csv").read_bytes()))
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "compose").write_text(f'#!/bin/sh\nexec {sys.executable} -m compose "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for tool in ("compose", "python"):
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def test_the_quickstart_commands_and_python_snippet_run_as_written(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = _workspace(tmp_path)
    (bash,) = _blocks("bash")
    (snippet,) = _blocks("python")
    proc = subprocess.run(["bash", "-e", "-c", bash], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert (tmp_path / "more_mpaa_labels.csv").is_file() and (tmp_path / "out" / "predictions.jsonl").is_file()
    assert "r0002" in proc.stdout  # the gated retrain of mpaa released (the same labels: not worse)
    proc = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_sample_result_has_every_group_of_the_movies_schema() -> None:
    import json

    (sample,) = [b for b in re.findall(r"```json\n(.*?)```", README, re.S) if '"release"' in b]
    result = json.loads(sample)
    schema = compose.load_schema(ROOT / "schemas" / "movies.yaml")
    assert list(result["groups"]) == list(schema.groups)
    labels = [g.get("label") for g in result["groups"].values() if g.get("label")]
    multi = [x for g in result["groups"].values() for x in g.get("labels", [])]
    assert result["labels"] == labels + multi
