"""Writing to a store on object storage, where there is no lock and no rename: a version is
uploaded under a number claimed by creating its `.pending` marker exclusively, and written once;
a release is created exclusively (`If-None-Match: *`) and CURRENT moved by compare-and-swap
(`If-Match` on its ETag). Writers meet at the release: one that lost the race carries its changes
onto the release the other published (`rebase`), or says that both changed the same node.

Called by `ModelStore.write_version` and `ModelStore.write_release` for a `RemotePath` store.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from compose.errors import ArtifactNotFoundError, ComposeError, StoreConflictError
from compose.store.files import now
from compose.store.layout import KINDS, META, PENDING
from compose.store.names import release_name, version_name
from compose.store.records import Release, ReleaseBody, kept_decisions
from compose.store.remote import RemotePath, StorePath
from compose.store.signing import current_text
from compose.store.version_files import meta_record, stage_files

log = logging.getLogger(__name__)


class StoreLike(Protocol):
    """What this module needs of a `ModelStore` (typed structurally: the store imports this module)."""

    path: StorePath
    key: bytes | None

    def versions(self, kind: str, name: str, *, claimed: bool = False) -> list[int]: ...
    def node_dir(self, kind: str, name: str) -> StorePath: ...
    def written(self, target: StorePath) -> None: ...
    def current_tagged(self) -> tuple[str, str | None]: ...
    def release_numbers(self) -> list[int]: ...
    def release(self, name: str | None = None) -> Release: ...
    def release_record(self, name: str, body: ReleaseBody) -> dict[str, Any]: ...

#: How long a writer waits for another writer's release, created and not yet made live, to become live.
IN_FLIGHT_S = 5.0


def write_remote_version(store: StoreLike, kind: str, name: str, obj: Any, meta: dict[str, Any],
                  extras: dict[str, Any] | None, fmt: str) -> tuple[int, str]:
    """A version on object storage: staged in a local folder, then uploaded under a version number
    claimed by creating its `.pending` marker exclusively; meta.json, written last, makes it whole."""
    with tempfile.TemporaryDirectory(prefix="compose-") as tmp:
        staging = Path(tmp)
        artifact, files, trusted = stage_files(staging, kind, obj, extras, fmt)
        existing = store.versions(kind, name, claimed=True)
        version = (existing[-1] if existing else 0) + 1
        note = f"written by a run that has not finished (pid {os.getpid()}, {now()})\n".encode()
        target = store.node_dir(kind, name) / version_name(version)
        assert isinstance(target, RemotePath)  # a store on object storage
        while not (target / PENDING).create(note):
            version += 1  # another writer took this number first
            target = target.with_name(version_name(version))
        store.written(target)
        sealed = meta_record(store.key, kind, name, version, meta, (artifact, files, trusted), fmt,
                                   target / META)
        for filename in files:
            target_file = target / filename
            assert isinstance(target_file, RemotePath)
            target_file.upload(staging / filename)
        meta_key = target / META
        assert isinstance(meta_key, RemotePath)
        if not meta_key.create(json.dumps(sealed, indent=2).encode("utf-8")):
            raise StoreConflictError(f"{meta_key} was written by another writer although this run claimed "
                                     f"{version_name(version)}; run again")
        return version, files[artifact]



def publish(store: StoreLike, body: ReleaseBody, *, make_current: bool, attempts: int = 25) -> str:
    """On object storage: create the next release exclusively, then move CURRENT to it by
    compare-and-swap. When another writer published first, this run's changes are carried onto
    the new live release (`rebase`) and tried again; when both changed the same node, StoreConflictError.

    A release that names the live one as its parent while CURRENT does not name it yet is another
    writer's, between its two writes: this run waits for CURRENT to move (up to `IN_FLIGHT_S`)
    rather than publishing beside it a release that would lose the compare-and-swap."""
    patience = time.monotonic() + IN_FLIGHT_S
    for attempt in range(attempts):
        try:
            live, tag = store.current_tagged()
        except ArtifactNotFoundError:
            live, tag = None, None
        numbers = store.release_numbers()
        newest = release_name(numbers[-1]) if numbers else None
        if newest != live and time.monotonic() < patience and _in_flight(store, newest, live):
            time.sleep(0.05)
            continue
        if make_current and live is not None and body.parent != live:
            body = rebase(store, body, live)
        name = release_name((numbers[-1] if numbers else 0) + 1)
        key = store.path / "releases" / f"{name}.json"
        assert isinstance(key, RemotePath)
        if key.create(json.dumps(store.release_record(name, body), indent=2).encode("utf-8")):
            current = store.path / "CURRENT"
            assert isinstance(current, RemotePath)
            if not make_current or current.replace_if(current_text(name, store.key).encode("utf-8"), tag):
                return name
            log.info("%s: CURRENT moved while %s was published; trying again", store.path, name)
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # another writer is publishing: let it finish
    raise StoreConflictError(f"{store.path}: {attempts} attempts to publish a release lost to other writers; "
                             "run again when they have finished")


def _in_flight(store: StoreLike, newest: str | None, live: str | None) -> bool:
    """Whether `newest` is another writer's release made on `live`, whose CURRENT has not moved yet."""
    if newest is None:
        return False
    try:
        return store.release(newest).parent == live
    except ComposeError:
        return False


def _changes(base: ReleaseBody | None, new: ReleaseBody) -> dict[tuple[str, str], Any]:
    """What `new` changed against `base`: (kind, node) -> its new pin, or None where it was removed."""
    out: dict[tuple[str, str], Any] = {}
    for kind in KINDS:
        before = base.pins(kind) if base is not None else {}
        after = new.pins(kind)
        for node in set(before) | set(after):
            a, b = before.get(node), after.get(node)
            if (a.version if a else None) != (b.version if b else None):
                out[(kind, node)] = b
    if base is None or base.schema_hash != new.schema_hash:
        out[("schema", "")] = new.schema_hash
    return out


def rebase(store: StoreLike, body: ReleaseBody, live_name: str) -> ReleaseBody:
    """`body`'s changes (against the release it was made from, `body.parent`) carried onto `live_name`,
    which another writer published meanwhile. StoreConflictError when both changed the same node
    or the schema, or when a head would read a feature version the result does not pin."""
    base = store.release(body.parent) if body.parent else None
    live = store.release(live_name)
    ours, theirs = _changes(base, body), _changes(base, live)
    clash = sorted(f"{kind[:-1]} {node!r}" if kind != "schema" else "the schema"
                   for kind, node in set(ours) & set(theirs))
    fix = "its versions are not released; run it again on the new live release"
    if clash:
        raise StoreConflictError(f"{store.path}: another writer released {live_name} while this run was writing, and "
                                 f"both changed {', '.join(clash)}; {fix}")
    pins: dict[str, dict[str, Any]] = {kind: dict(live.pins(kind)) for kind in KINDS}
    for (kind, node), pin in ours.items():
        if kind == "schema":
            continue
        if pin is None:
            pins[kind].pop(node, None)
        else:
            pins[kind][node] = pin
    for group, gpin in pins["groups"].items():
        for feature, version in gpin.parents.items():
            fpin = pins["features"].get(feature)
            if fpin is None or fpin.version != version:
                raise StoreConflictError(f"{store.path}: another writer released {live_name} while this run was "
                                         f"writing; group {group!r} reads feature {feature!r} {version_name(version)}, "
                                         f"which that release replaced; {fix}")
    schema = body if ("schema", "") in ours else live
    return body.model_copy(update={**pins, "decisions": kept_decisions(pins["groups"], pins["decisions"]),
                                   "parent": live_name, "schema_hash": schema.schema_hash,
                                   "schema_document": schema.schema_document})
