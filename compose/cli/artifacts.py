"""Store-wide rewrites: `convert-store` (artifact format) and `sign`; `compose.cli.main` adds them with `register`."""

from __future__ import annotations

import argparse

from compose.cli._output import Adder, emit, store_args


def cmd_convert_store(a: argparse.Namespace) -> int:
    from compose.store.convert import convert_store

    name = convert_store(a.store, a.to, model=a.model)
    if name is None:
        emit(f"the live release already stores every artifact as {a.to}; nothing to do")
    else:
        emit(f"release {name} is live: every artifact of the previous release written again as {a.to}, as new "
             "versions (the earlier releases are unchanged)")
    return 0


def cmd_sign(a: argparse.Namespace) -> int:
    from compose.store.convert import sign_store

    count = sign_store(a.store, model=a.model)
    emit(f"signed {count} records (every meta.json, release and CURRENT); read the store with the same key")
    return 0


def register(add: Adder) -> None:
    sp = add("convert-store", cmd_convert_store,
             "write the live release again in another artifact format (new versions and a new release)")
    store_args(sp)
    sp.add_argument("--to", required=True, choices=["skops", "joblib"], help="the artifact format to write")
    sp = add("sign", cmd_sign, "sign every meta.json, release and CURRENT of a store whose checksums all hold")
    store_args(sp)
