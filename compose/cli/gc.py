"""`compose gc`: remove the leftovers of aborted runs from a store, never a released or kept version."""

from __future__ import annotations

import argparse

import compose
from compose.cli._output import Adder, emit, store_args


def cmd_gc(a: argparse.Namespace) -> int:
    report = compose.collect_garbage(a.store, model=a.model, dry_run=a.dry_run)
    for line in report.lines():
        emit(line)
    return 0


def register(add: Adder) -> None:
    sp = add("gc", cmd_gc, "remove leftovers of aborted runs (staging files, never-released versions of a killed "
                           "run); released and gate-kept versions stay")
    store_args(sp)
    sp.add_argument("--dry-run", action="store_true", help="list what would be removed; change nothing")
