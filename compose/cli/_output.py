"""What every command shares: exit codes, printing, `--json` files and the store options."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import compose

EXIT_USER_ERROR = 2


EXIT_REFUSED = 3


EXIT_ENVIRONMENT = 4  # the machine stopped the work: disk full, read-only, no permission, a file for a folder


Adder = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")


def write_json(path: str | None, obj: Any) -> None:
    """Write `obj` as JSON to the path of a `--json` option, if one was given, and say so."""
    if path:
        from compose.data.io import atomic_write  # pandas: not on the path of `compose --help`

        atomic_write(path, json.dumps(obj, indent=2))
        emit(f"wrote {path}")


def read_schema(path: str) -> compose.Schema:
    return compose.load_schema(path)


def key_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--key-file", help="sign what is written, and require valid signatures on what is read, with "
                                       "the key in this file (default: the COMPOSE_SIGNING_KEY variable)")
    sp.add_argument("--samples", metavar="URL", help="where the sample database lives: postgresql://USER@HOST/DB "
                                                    "(one database for every replica and machine), or a folder for "
                                                    "the SQLite files of a store on object storage (default: the "
                                                    "COMPOSE_SAMPLES variable, else samples.sqlite in the model "
                                                    "folder; docs/stores.md)")


def store_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--store", required=True, help="the store's root folder (or a model folder in it), or a URL: "
                                                   "s3://bucket/prefix, memory://name (docs/stores.md)")
    sp.add_argument("--model", help="the model's name, when the store holds more than one")
    key_arg(sp)


def gate_args(sp: argparse.ArgumentParser) -> None:
    """`--force` and `--accept-new-labels`, for the commands that gate a candidate against the live head."""
    sp.add_argument("--force", action="store_true", help="release even if the gate refuses")
    sp.add_argument("--accept-new-labels", action="store_true",
                    help="release a group whose label set changed: such a candidate cannot be compared with the "
                         "live head, so it is refused without this flag")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--budget takes a positive number of seconds; got {text!r}")
    return value


def budget_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--budget", type=_seconds, metavar="SECONDS",
                    help="search seconds of every `model: auto` group (overrides its budget_s)")
