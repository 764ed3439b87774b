"""The annotation commands: audit (labels that look wrong) and queue (rows to label next)."""

from __future__ import annotations

import argparse

from compose.cli._output import Adder, emit, store_args


def cmd_audit(a: argparse.Namespace) -> int:
    from compose.audit.labels import audit, write_audit

    report = audit(a.store, data=a.data, group=a.group, model=a.model, folds=a.folds, seed=a.seed)
    for line in report.lines(top=a.top):
        emit(line)
    if a.out:
        write_audit(report, a.out)
        emit(f"wrote {len(report.issues)} flagged annotations to {a.out}")
    return 0


def cmd_queue(a: argparse.Namespace) -> int:
    from compose.audit.queue import queue
    from compose.data.io import write_table

    q = queue(a.store, a.group, data=a.data, n=a.n, strategy=a.strategy, model=a.model)
    for line in q.lines():
        emit(line)
    write_table(q.frame, a.out)
    emit(f"wrote {len(q.frame)} rows to {a.out}: fill in the {a.group!r} column, then feed the file to "
         f"`compose learn --store {a.store} --data {a.out}`")
    return 0


def register(add: Adder) -> None:
    sp = add("audit", cmd_audit, "find annotations that look wrong, per group (out-of-fold scores, confident learning)")
    store_args(sp)
    sp.add_argument("--data", help="labelled rows to audit (default: every sample of the model's sample store)")
    sp.add_argument("--group", help="audit only this group (default: every group with a column in the data)")
    sp.add_argument("--out", help="write every flagged annotation: .csv/.parquet/.jsonl, or .json (the report)")
    sp.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--top", type=int, default=10, help="flagged rows printed per group (default 10)")
    sp = add("queue", cmd_queue, "rows to label next for a group, most informative first, as a file to fill in")
    store_args(sp)
    sp.add_argument("--group", required=True)
    sp.add_argument("--data", help="candidate rows; those not annotated for the group are ranked (default: the "
                                   "unannotated samples of the sample store, captured invocations included)")
    sp.add_argument("--n", type=int, default=100, help="rows to pick (default 100)")
    sp.add_argument("--strategy", choices=["margin", "entropy", "least"], default="margin")
    sp.add_argument("--out", required=True, help="the file to write (.csv, .parquet, .jsonl)")
