"""The `learn` command: add samples and annotations, retrain exactly the groups they change, gated."""

from __future__ import annotations

import argparse
import sys

import compose
from compose.cli._output import EXIT_REFUSED, Adder, budget_arg, emit, gate_args, store_args


def cmd_learn(a: argparse.Namespace) -> int:
    try:
        report = compose.learn(a.store, a.data, model=a.model, schema=a.schema, force=a.force,
                               accept_new_labels=a.accept_new_labels, n_jobs=a.jobs, budget_s=a.budget)
    except compose.GateRefusedError as exc:
        if isinstance(exc.report, compose.LearnReport):
            for line in exc.report.lines():
                emit(line)
        sys.stderr.write(f"compose: {exc}\n")
        return EXIT_REFUSED
    for line in report.lines():
        emit(line)
    return 0


def register(add: Adder) -> None:
    sp = add("learn", cmd_learn, "add labelled rows to the sample store and retrain exactly the groups they change")
    store_args(sp)
    sp.add_argument("--data", help="rows to add (the format compose train reads); without it, retrain the groups "
                                   "whose stored annotations changed since their live version")
    sp.add_argument("--schema", help="a schema to learn with (default: the live release's)")
    gate_args(sp)
    sp.add_argument("--jobs", type=int, help="parallel fits (default: automatic)")
    budget_arg(sp)
