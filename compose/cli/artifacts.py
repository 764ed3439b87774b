"""Store-wide rewrites: `sign` (HMAC-sign every record); `compose.cli.main` adds them with `register`."""

from __future__ import annotations

import argparse

from compose.cli._output import Adder, emit, store_args


def cmd_sign(a: argparse.Namespace) -> int:
    from compose.store.sealing import sign_store

    count = sign_store(a.store, model=a.model)
    emit(f"signed {count} records (every meta.json, release and CURRENT); read the store with the same key")
    return 0


def register(add: Adder) -> None:
    sp = add("sign", cmd_sign, "sign every meta.json, release and CURRENT of a store whose checksums all hold")
    store_args(sp)
