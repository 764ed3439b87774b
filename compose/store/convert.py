"""Store-wide rewrites: `convert_store` (another artifact format) and `sign_store` (HMAC every record).

`convert_store` writes the live release's artifacts again in the new format as NEW versions, with a
new release that pins them, instead of rewriting files in place: every write is the same atomic
version-and-release write as training's (a crash leaves the old release live), the releases already
written keep pinning the bytes they were made with, and rolling back to the joblib release stays
possible. Only the live release is converted; earlier versions keep their format.

`sign_store`: an existing store (unsigned, or signed with an old key) becomes readable with a new key
only when every checksum in it holds: `verify_store` must find nothing wrong first, so signing never
blesses a store that was changed after it was written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compose.data.io import atomic_write
from compose.errors import ArtifactNotFoundError, IntegrityError, StoreError
from compose.store.artifacts import FORMATS
from compose.store.layout import KINDS, META, read_json
from compose.store.names import release_name, version_name
from compose.store.records import DecisionPin, FeaturePin, GroupPin, VersionMeta
from compose.store.remote import RemotePath
from compose.store.signing import NO_KEY, seal, signing_key
from compose.store.store import ModelStore
from compose.store.verify import verify_store

#: meta.json fields that `write_version` sets itself; a converted version gets its own.
_WRITTEN = ("kind", "name", "version", "sha256", "files", "format", "artifact", "trusted_types", "created",
            "libraries", "meta_sha256", "signature", "converted_from")


def _carried(meta: VersionMeta, to: str) -> dict[str, Any]:
    kept = {k: v for k, v in meta.to_json().items() if k not in _WRITTEN}
    kept["converted_from"] = {"version": meta.version, "format": meta.format, "sha256": meta.sha256,
                              "libraries": meta.libraries}
    kept["note"] = f"convert-store --to {to}"
    return kept


def convert_store(store: str | Path, to: str, *, model: str | None = None) -> str | None:
    """Write the live release's features and heads (with their holdouts) again as `to` (`joblib` or
    `skops`), as new versions, and release them; return the new release (None: nothing to do).

    Each artifact is loaded through the usual checks (sha256s, checksums, signatures) before it is
    written again; metrics, counts and specs are carried over, with `converted_from` naming the
    source. A tuned decision in force is pinned again for the new head version.
    """
    if to not in FORMATS:
        raise StoreError(f"--to {to!r}: unknown artifact format; use one of {list(FORMATS)}")
    s = ModelStore.open(store, model)
    with s.lock():
        if not s.release_numbers():
            raise ArtifactNotFoundError(f"{s.path} has no release to convert; train a model first")
        live = s.release()
        formats = {s.meta(kind, node, pin.version).format for kind in ("features", "groups")
                   for node, pin in live.pins(kind).items()}
        if formats == {to}:
            return None
        features: dict[str, FeaturePin] = {}
        for f, fpin in live.features.items():
            meta = s.meta("features", f, fpin.version)
            obj = s.load_version("features", f, fpin.version, fpin.sha256, fpin.meta_sha256)
            v, sha = s.write_version("features", f, obj, _carried(meta, to), fmt=to)
            features[f] = FeaturePin(version=v, sha256=sha)
        groups: dict[str, GroupPin] = {}
        for g, gpin in live.groups.items():
            meta = s.meta("groups", g, gpin.version)
            obj = s.load_version("groups", g, gpin.version, gpin.sha256, gpin.meta_sha256)
            carried = _carried(meta, to)
            parents = {f: features[f].version for f in carried.get("parents", {})}
            carried["parents"] = parents
            extras = {"holdout": s.holdout(g, gpin.version).to_stored()} \
                if any(name.startswith("holdout.") for name in meta.files) else None
            v, sha = s.write_version("groups", g, obj, carried, extras=extras, fmt=to)
            groups[g] = GroupPin(version=v, sha256=sha, parents=parents)
        decisions: dict[str, DecisionPin] = {}
        for g, dpin in live.decisions.items():
            if g not in groups or dpin.for_group_version != live.groups[g].version:
                continue  # a decision tuned for another head version is not in force; it is not carried
            meta = s.meta("decisions", g, dpin.version)
            obj = s.load_version("decisions", g, dpin.version, dpin.sha256, dpin.meta_sha256)
            carried = {**_carried(meta, to), "for_group_version": groups[g].version}
            v, sha = s.write_version("decisions", g, obj, carried)
            decisions[g] = DecisionPin(version=v, sha256=sha, for_group_version=groups[g].version)
        body = live.body.model_copy(update={"features": features, "groups": groups, "decisions": decisions,
                                            "parent": live.release, "note": f"convert-store --to {to}"})
        return s.write_release(body)


def sign_store(store: str | Path | RemotePath, *, model: str | None = None, key: str | bytes | None = None) -> int:
    """Sign every record of a store with `key` (default `COMPOSE_SIGNING_KEY`); return how many were signed."""
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
                    if isinstance(path, RemotePath):  # `compose sign` rewrites records in place, by design
                        path.write_bytes(json.dumps(sealed, indent=2).encode("utf-8"))
                    else:
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
