"""Rewriting a whole store's records: `sign_store` signs every meta.json, release and CURRENT.

An existing store (unsigned, or signed with an old key) becomes readable with a new key only when
every checksum in it holds: `verify_store` must find nothing wrong first, so signing never blesses
a store that was changed after it was written.
"""

from __future__ import annotations

import json
from pathlib import Path

from compose.errors import IntegrityError, StoreError
from compose.store.names import release_name, version_name
from compose.store.signing import NO_KEY, seal, signing_key
from compose.store.store import KINDS, META, ModelStore, read_json
from compose.store.verify import verify_store


def sign_store(store: str | Path, *, model: str | None = None, key: str | bytes | None = None) -> int:
    """Sign every record of a store with `key` (default `COMPOSE_SIGNING_KEY`); return how many were signed."""
    from compose.data.io import atomic_write

    raw = signing_key(key)
    if raw is None:
        raise StoreError("no signing key: set COMPOSE_SIGNING_KEY or pass --key-file FILE")
    reader = ModelStore.open(store, model, key=NO_KEY)  # read what is there, whatever key the environment holds
    check = verify_store(reader.path, key=NO_KEY)
    if not check.ok:
        raise IntegrityError(f"{reader.path} is not signed: verify found {len(check.problems)} problem(s), and a "
                             f"store is signed only when every checksum holds. First: {check.problems[0]}")
    writer = ModelStore(reader.path, key=raw)
    count = 0
    with writer.lock():
        checksums: dict[tuple[str, str, int], str] = {}
        for kind in KINDS:
            for node in reader.names(kind):
                for v in reader.versions(kind, node):
                    reader.meta(kind, node, v)  # checked, then sealed as it is on disk
                    path = reader.node_dir(kind, node) / version_name(v) / META
                    sealed = seal(read_json(path, "Verify the store"), raw)
                    checksums[(kind, node, v)] = sealed["meta_sha256"]
                    atomic_write(path, json.dumps(sealed, indent=2))
                    count += 1
        for number in reader.release_numbers():
            record = reader.release(release_name(number))
            pins = {kind: {node: pin.model_copy(update={"meta_sha256": checksums[(kind, node, pin.version)]})
                           for node, pin in record.pins(kind).items()} for kind in KINDS}
            writer.rewrite_release(record.model_copy(update=pins))
            count += 1
        if (reader.path / "CURRENT").is_file():
            writer.set_current(reader.current_name())
            count += 1
    return count
