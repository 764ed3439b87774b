"""The manual stays true: every shell and Python block of README.md and docs/ runs as written.

A page's blocks run in document order in one fresh workspace laid out like a clone (`schemas/`,
`examples/` with the movies data swapped for its 1,200-film sample, `tests/fixtures/`, `penguins.csv`):
shell blocks with `bash -e` (`compose` and `python` on the PATH are this interpreter's), Python
blocks in one namespace per page. An HTML comment on the line before a block changes that:

- `<!-- not run: REASON -->`: the block is not run (REASON must say why: it needs a cluster, ...).
- `<!-- setup: penguins store -->`: the block must be the canonical penguins set-up
  (`PENGUINS_SETUP`); the harness runs it once per session and copies its result in.
- `<!-- free port: 8000 -->`: every `8000` in the page's blocks becomes a free port.

A shell block runs in its own process group, killed when it ends, so a server it started in the
background never outlives it.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py", "pycon"}
PENGUINS_SETUP = """\
python -c "from palmerpenguins import load_penguins; load_penguins().to_csv('penguins.csv', index=False)"
compose train schemas/penguins.yaml --data penguins.csv --store models
"""
FENCE = re.compile(r"(?P<marks>(?:<!--[^\n]*-->\n)*)^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n"
                   r"(?P<body>.*?)^(?P=indent)```", re.S | re.M)
MARK = re.compile(r"<!--\s*(not run|setup|free port):\s*(.*?)\s*-->")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str
    marks: dict[str, str]

    @property
    def runnable(self) -> bool:
        return self.language in SHELL | PYTHON


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        indent = len(m["indent"])
        code = "\n".join(line[indent:] for line in m["body"].split("\n"))
        language = m["info"].strip().split(" ")[0].strip("{}.").lower()
        marks = dict(MARK.findall(m["marks"]))
        line = text.count("\n", 0, m.start("info")) + 1
        found.append(Block(str(path.relative_to(ROOT)), line, language, code, marks))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _workspace(path: Path) -> dict[str, str]:
    """A clone's layout in `path`, and the environment whose `compose` and `python` are this interpreter's."""
    shutil.copytree(ROOT / "schemas", path / "schemas")
    shutil.copytree(ROOT / "examples", path / "examples", ignore=shutil.ignore_patterns("movies.csv.gz", "emoji"))
    sample = (ROOT / "tests" / "fixtures" / "movies_sample.csv").read_bytes()
    (path / "examples" / "movies" / "movies.csv.gz").write_bytes(gzip.compress(sample))
    (path / "tests").mkdir()
    (path / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    from palmerpenguins import load_penguins

    load_penguins().to_csv(path / "penguins.csv", index=False)
    bin_dir = path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "compose").write_text(f'#!/bin/sh\nexec {sys.executable} -m compose "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for tool in ("compose", "python"):
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("COMPOSE_SIGNING_KEY", None)
    return env


def run_shell(code: str, cwd: Path, env: dict[str, str], where: str, timeout: float = 300) -> str:
    proc = subprocess.Popen(["bash", "-e", "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = "(timed out)"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a server the block left in the background
        proc.wait()
    assert proc.returncode == 0, f"{where} exited {proc.returncode}:\n{out[-4000:]}"
    return out


@pytest.fixture(scope="session")
def penguins_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The canonical penguins set-up run once: its `models/` folder."""
    path = tmp_path_factory.mktemp("penguins-setup")
    run_shell(PENGUINS_SETUP, path, _workspace(path), "the penguins set-up")
    return path / "models"


def _run_page(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    env = _workspace(tmp_path)
    port = str(_free_port())
    slug = re.sub(r"\W", "_", str(page.relative_to(ROOT).with_suffix("")))
    namespace = types.ModuleType(f"docs_{slug}")  # a block's classes pickle by their module
    monkeypatch.setitem(sys.modules, namespace.__name__, namespace)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", env["PATH"])
    output = []
    for block in blocks(page):
        if not block.runnable or "not run" in block.marks:
            continue
        where = f"{block.page}:{block.line}"
        if "setup" in block.marks:
            assert block.marks["setup"] == "penguins store" and block.code == PENGUINS_SETUP, where
            shutil.copytree(request.getfixturevalue("penguins_store"), tmp_path / "models")
            continue
        code = block.code
        for page_block in blocks(page):
            if "free port" in page_block.marks:
                code = re.sub(rf"\b{page_block.marks['free port']}\b", port, code)
        if block.language in SHELL:
            output.append(run_shell(code, tmp_path, env, where))
        else:
            exec(compile(code, where, "exec"), namespace.__dict__)
    return "\n".join(output)


RUN = [p for p in pages() if any(b.runnable and "not run" not in b.marks for b in blocks(p))]


@pytest.mark.parametrize("page", RUN, ids=[str(p.relative_to(ROOT)) for p in RUN])
def test_every_block_of_the_page_runs_as_written(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 request: pytest.FixtureRequest) -> None:
    output = _run_page(page, tmp_path, monkeypatch, request)
    for check in CHECKS.get(str(page.relative_to(ROOT)), []):
        check(tmp_path, output)


def test_every_block_that_is_not_run_says_why() -> None:
    for page in pages():
        for block in blocks(page):
            if "not run" in block.marks:
                assert len(block.marks["not run"]) >= 10, f"{block.page}:{block.line}: say why it is not run"
            if not block.language:
                pytest.fail(f"{block.page}:{block.line}: a fence without a language: say `text`, `bash`, `python`, ...")


# --- what a page's run must have done, beyond exiting 0 -------------------------------------------


def _quickstart(ws: Path, output: str) -> None:
    assert (ws / "more_mpaa_labels.csv").is_file() and (ws / "out" / "predictions.jsonl").is_file()
    assert "r0002" in output  # the gated retrain of mpaa released (the same labels: not worse)


def _plugins(ws: Path, output: str) -> None:
    assert (ws / "models" / "films" / "features" / "size" / "v0001" / "meta.json").is_file()


def _serve(ws: Path, output: str) -> None:
    assert '"status":"ready"' in output and '"scheduled"' in output


CHECKS = {"docs/getting-started.md": [_quickstart], "docs/how-to/plugins.md": [_plugins],
          "docs/how-to/serve.md": [_serve]}


# --- the text of the pages ------------------------------------------------------------------------


def _text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def test_the_schema_example_validates_and_plans() -> None:
    import compose

    example = next(b.code for b in blocks(ROOT / "docs/concepts/groups.md")
                   if b.language == "yaml" and b.code.startswith("schema_version"))
    schema = compose.parse_schema(example, source="docs/concepts/groups.md")
    assert compose.build_plan(schema).requirements("sleeve") == [
        "feature:words", "feature:meta", "head:clothing_type", "head:sleeve"]


def test_every_command_the_manual_names_exists() -> None:
    import argparse

    from compose.cli.main import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = set(sub.choices)
    for page in pages():
        named = set(re.findall(r"`compose ([a-z][a-z-]+)[ `]", page.read_text(encoding="utf-8")))
        assert named <= commands, (page, named - commands)


def test_the_sample_result_has_every_group_of_the_movies_schema() -> None:
    import json

    import compose

    page = blocks(ROOT / "docs/getting-started.md")
    (sample,) = [b.code for b in page if b.language == "json" and '"release"' in b.code]
    result = json.loads(sample)
    schema = compose.load_schema(ROOT / "schemas" / "movies.yaml")
    assert list(result["groups"]) == list(schema.groups)
    labels = [g.get("label") for g in result["groups"].values() if g.get("label")]
    multi = [x for g in result["groups"].values() for x in g.get("labels", [])]
    assert result["labels"] == labels + multi


def test_the_readme_is_a_front_page_that_links_to_every_part_of_the_manual() -> None:
    readme = _text("README.md")
    assert len(readme.splitlines()) <= 300
    for heading in ("make demo", "make test", "## Known limits"):
        assert heading in readme
    linked = set(re.findall(r"\]\(docs/([^)#]+)", readme))
    for path in linked:
        assert (ROOT / "docs" / path).is_file(), path


def _reference() -> types.ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "_hooks" / "reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_lists_every_command_and_option_of_the_parsers() -> None:
    import argparse

    from compose.cli.main import build_parser

    page = _reference().cli_reference()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        section = page.split(f"\n## compose {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
                    assert f"`{option}" in section, (name, option)


def test_the_python_reference_documents_every_public_name() -> None:
    import compose

    page = _reference().python_reference()
    documented = re.findall(r"^::: compose\.(\w+)$", page, re.M)
    public: list[str] = [n for n in compose.__all__ if n != "__version__"]
    assert sorted(documented) == sorted(public)
