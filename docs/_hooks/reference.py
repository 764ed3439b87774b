"""The generated pages of the manual: the CLI reference from compose's own argparse parsers, the
Python API reference from `compose.__all__`, and the home page from README.md.

`mkdocs.yml` names this file under `hooks:`, so every `mkdocs build` writes both pages afresh
(they exist in the built site only, never in docs/): a new command, option or public name appears in
the manual without an edit, and a removed one disappears. `tests/system/test_docs.py` reads the same text.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

#: The section of the Python reference that each room of the package falls in (a room not listed
#: here gets a section named after it, so a new public name is never left out).
SECTIONS: dict[str, str] = {
    "schema": "Schemas and plans",
    "plan": "Schemas and plans",
    "registry": "Schemas and plans",
    "api": "Training and learning",
    "training": "Training and learning",
    "cluster": "Training and learning",
    "runtime": "Models and predictions",
    "estimator": "Models and predictions",
    "typing": "Models and predictions",
    "data": "Data files",
    "advisor": "Data files",
    "store": "Stores and samples",
    "evaluation": "Evaluation, tuning and export",
    "tuning": "Evaluation, tuning and export",
    "export": "Evaluation, tuning and export",
    "errors": "Errors",
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    takes_value = action.nargs != 0
    metavar = action.metavar or (action.dest.upper() if takes_value else "")
    if action.choices and not action.metavar:
        metavar = "{" + ",".join(str(c) for c in action.choices) + "}"
    return ", ".join(f"`{s} {metavar}`" if takes_value and metavar else f"`{s}`" for s in action.option_strings)


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS, False, [], ""):
        return ""
    return f"`{action.default}`"


def _table(parser: argparse.ArgumentParser) -> list[str]:
    rows = [a for a in parser._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
            and not isinstance(a, argparse._SubParsersAction)]
    if not rows:
        return []
    lines = ["| argument | meaning | default |", "|---|---|---|"]
    for action in rows:
        help_text = (action.help or "") % {"default": action.default, "prog": parser.prog} if action.help else ""
        lines.append(f"| {_option(action)} | {_cell(help_text)} | {_default(action)} |")
    return [*lines, ""]


def _usage(parser: argparse.ArgumentParser) -> list[str]:
    usage = parser.format_usage().removeprefix("usage: ").rstrip()
    return ["```text", usage, "```", ""]


def cli_reference() -> str:
    """The Markdown of the CLI reference: one section per command, in the parser's order."""
    from compose.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    lines = ["# CLI reference", "",
             "Generated from compose's own argparse parsers (`compose.cli.main.build_parser`) when the manual "
             "is built, so it lists exactly the commands and options of this version. `compose COMMAND --help` "
             "prints the same. Exit codes: 0 done, 1 a check found a problem (`verify`, `check`), 2 a mistake "
             "in the input, 3 a refused gate or export, 4 a fault of the machine (disk, permissions), "
             "130 interrupted.", "",
             "## compose", "", *_usage(parser), *_table(parser)]
    for name, command in sub.choices.items():
        lines += [f"## compose {name}", "", _cell(command.description or ""), "", *_usage(command), *_table(command)]
    return "\n".join(lines)


def python_reference() -> str:
    """The Markdown of the Python API reference: every name of `compose.__all__`, by section."""
    import compose

    lazy: dict[str, tuple[str, str]] = compose._LAZY
    sections: dict[str, list[str]] = {}
    for name in compose.__all__:
        if name not in lazy:  # __version__
            continue
        room = lazy[name][0].split(".")[1]
        sections.setdefault(SECTIONS.get(room, f"compose.{room}"), []).append(name)
    lines = ["# Python API reference", "",
             "Every public name of `compose` (its `__all__`), from the docstrings, generated when the manual is "
             "built. `import compose` is cheap: each name loads its module on first use. "
             f"This is compose {compose.__version__}.", ""]
    for title in dict.fromkeys([*SECTIONS.values(), *sections]):
        if title not in sections:
            continue
        lines += [f"## {title}", ""]
        for name in sorted(sections[title], key=str.lower):
            lines += [f"::: compose.{name}", "    options:", "      heading_level: 3", ""]
    return "\n".join(lines)


def front_page(readme: str) -> str:
    """The site's home page: the README, its links into docs/ made relative to the site."""
    return re.sub(r"\]\(docs/", "](", readme)


GENERATED = {"reference/cli.md": cli_reference, "reference/python.md": python_reference}


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated pages to the site (they are not files in docs/)."""
    from mkdocs.structure.files import File

    for path, render in GENERATED.items():
        files.append(File.generated(config, path, content=render()))
    readme = Path(config["config_file_path"]).parent / "README.md"
    files.append(File.generated(config, "index.md", content=front_page(readme.read_text(encoding="utf-8"))))
    return files
