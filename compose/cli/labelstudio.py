"""`compose labelstudio config SCHEMA` and `compose labelstudio schema CONFIG`: Label Studio's labelling
config from a schema, and a draft schema from a config (`compose.labelstudio`)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import compose
from compose.cli._output import Adder, emit


def cmd_config(a: argparse.Namespace) -> int:
    from compose.labelstudio import label_config

    text = label_config(compose.load_schema(a.schema))
    if a.out:
        from compose.data.io import atomic_write

        emit(f"wrote the labelling config of {a.schema} to {atomic_write(a.out, text)}; paste it into Label "
             "Studio under Settings > Labeling Interface > Code")
    else:
        emit(text.rstrip("\n"))
    return 0


def cmd_schema(a: argparse.Namespace) -> int:
    import yaml

    from compose.labelstudio import draft_schema

    path = Path(a.config)
    name = a.name or (re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "labelstudio")
    draft = draft_schema(path.read_text(encoding="utf-8"), str(path), name)
    text = ("# A draft schema read from a Label Studio labelling config: check the input types and the\n"
            "# features (one per kind of input) before training.\n"
            + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True, width=100))
    compose.parse_schema(text, source=a.out or "<draft>")  # the draft validates, or this says why
    if a.out:
        from compose.data.io import atomic_write

        emit(f"wrote the draft schema {name!r} ({len(draft['groups'])} groups) to {atomic_write(a.out, text)}")
    else:
        emit(text.rstrip("\n"))
    return 0


def register(add: Adder) -> None:
    sp = add("labelstudio", cmd_config, "Label Studio: a labelling config from a schema, a draft schema from a config")
    sub = sp.add_subparsers(dest="labelstudio_command", required=True, metavar="{config,schema}")
    config = sub.add_parser("config", help="write the labelling config (XML) of a schema: its inputs shown, one "
                                           "<Choices> per group", description="write the labelling config (XML) of "
                                           "a schema: its inputs shown, one <Choices> per group")
    config.add_argument("schema", help="the schema YAML")
    config.add_argument("--out", help="write the XML to this file (default: print it)")
    config.set_defaults(fn=cmd_config)
    schema = sub.add_parser("schema", help="read a labelling config back into a draft schema that validates",
                            description="read a labelling config back into a draft schema that validates")
    schema.add_argument("config", help="the labelling config (XML)")
    schema.add_argument("--out", help="write the YAML to this file (default: print it)")
    schema.add_argument("--name", help="the draft schema's name (default: the config file's name)")
    schema.set_defaults(fn=cmd_schema)
