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
