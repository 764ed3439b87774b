"""The history commands: versions, releases, rollback, promote, verify, diff."""

from __future__ import annotations

import argparse
import json

import compose
from compose.cli._output import Adder, emit, store_args
from compose.store.names import version_name


def cmd_versions(a: argparse.Namespace) -> int:
    rows = compose.list_versions(a.store, model=a.model, group=a.group)
    if a.json:
        emit(json.dumps(rows, indent=2))
        return 0
    width = max([18, *(len(r["name"]) + 2 for r in rows)])  # a hierarchy's head names run long
    emit(f"{'':2}{'kind':<10}{'name':<{width}}{'version':<9}{'rows':>7}{'holdout':>9}  {'metric':<22}{'data':<18}"
           f"{'created':<27}{'model':<30}parents")
    for r in rows:
        metric = r["gate_metric"]
        value = r["metrics"].get(metric) if metric else None
        shown = f"{metric} {value:.4f}" if isinstance(value, float) else "-"
        parents = ", ".join(f"{f} {version_name(v)}" for f, v in r["parents"].items())
        emit(f"{'*' if r['live'] else ' ':2}{r['kind']:<10}{r['name']:<{width}}{version_name(r['version'])}    "
               f"{r['rows'] or 0:>7}{r['holdout_rows'] if r['holdout_rows'] is not None else '-':>9}  "
               f"{shown:<22}{r['data'] or '-':<18}{r['created'] or '-':<27}{r['estimator'] or '-':<30}{parents}")
        search = r.get("search")
        if search:
            emit(f"{'':4}search: {len(search['trials'])} trials in {search['seconds']:.1f}s of "
                 f"{search['budget_s']:g}s, {search['folds']}-fold {search['metric']} on the training rows, "
                 f"seed {search['seed']}")
            for t in search["trials"]:
                score = f"{t['score']:.4f}" if t["score"] is not None else t["status"]
                mark = "<-" if t["estimator"] == search["estimator"] and t["params"] == search["params"] else "  "
                shown_params = ", ".join(f"{k}={v}" for k, v in t["params"].items())
                what = f"{t['estimator']} {shown_params}".strip()
                emit(f"{'':6}{mark} {what:<78}{score:<14}{t['seconds']:.2f}s")
    emit("(* = in the live release)")
    return 0


def cmd_releases(a: argparse.Namespace) -> int:
    rows = compose.list_releases(a.store, model=a.model)
    if a.json:
        emit(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        pins = ", ".join(f"{g} {version_name(v)}"
                         + (f" (decision {version_name(r['decisions'][g])})" if g in r["decisions"] else "")
                         for g, v in r["groups"].items())
        emit(f"{'*' if r['live'] else ' '} {r['release']}  {r['created']}  {r['note']:<34}  {pins}")
    return 0


def cmd_rollback(a: argparse.Namespace) -> int:
    if a.to_release:
        name = compose.set_release(a.store, a.to_release, model=a.model)
        emit(f"CURRENT now names {name}")
        return 0
    if not (a.group and a.to):
        raise compose.DataError("rollback needs --group G --to vN, or --to-release rNNNN")
    name = compose.rollback(a.store, a.group, a.to, model=a.model)
    emit(f"release {name} is live: group {a.group} at {a.to}")
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    check = compose.verify_store(a.store, model=a.model)
    for line in check.lines():
        emit(line)
    return 0 if check.ok else 1


def cmd_promote(a: argparse.Namespace) -> int:
    name = compose.promote(a.store, a.group, a.version, model=a.model)
    emit(f"release {name} is live: group {a.group} at {a.version}")
    return 0


def cmd_diff(a: argparse.Namespace) -> int:
    for line in compose.diff_releases(a.store, a.a, a.b, model=a.model):
        emit(line)
    return 0


def register(add: Adder) -> None:
    sp = add("versions", cmd_versions, "list stored versions with their metrics")
    store_args(sp)
    sp.add_argument("--group")
    sp.add_argument("--json", action="store_true")
    sp = add("releases", cmd_releases, "list releases")
    store_args(sp)
    sp.add_argument("--json", action="store_true")
    sp = add("rollback", cmd_rollback, "release an earlier version of a group, or point CURRENT at a release")
    store_args(sp)
    sp.add_argument("--group")
    sp.add_argument("--to", help="the version, e.g. v0002")
    sp.add_argument("--to-release", help="make this existing release live, e.g. r0003")
    sp = add("promote", cmd_promote, "release a kept version of a group")
    store_args(sp)
    sp.add_argument("--group", required=True)
    sp.add_argument("--version", required=True)
    sp = add("verify", cmd_verify, "check every release and version of a store (sha256s, pins) without loading")
    store_args(sp)
    sp = add("diff", cmd_diff, "what changed between two releases")
    sp.add_argument("a")
    sp.add_argument("b")
    store_args(sp)
