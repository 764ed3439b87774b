"""The files of a new version, written into a local staging folder, and its sealed meta.json:
the part of writing a version that is the same in a folder and on object storage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from compose.store import artifacts
from compose.store.files import library_versions, now, sha256_file
from compose.store.records import ARTIFACT, DECISION, META_TYPES, parse_record
from compose.store.remote import StorePath
from compose.store.signing import seal


def stage_files(staging: Path, kind: str, obj: Any, extras: dict[str, Any] | None,
                fmt: str) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    """Write a version's files into the local folder `staging`: (artifact, sha256 of each file, skops types)."""
    artifact = DECISION if kind == "decisions" else artifacts.filename("model", fmt)
    files: dict[str, str] = {}
    trusted: dict[str, list[str]] = {}
    for filename, content in [(artifact, obj),
                              *((artifacts.filename(k, fmt), v) for k, v in (extras or {}).items())]:
        if filename == DECISION:
            with (staging / filename).open("wb") as fh:
                fh.write(json.dumps(content, indent=2, sort_keys=True).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        else:
            types = artifacts.dump(content, staging / filename, fmt)
            if types is not None:
                trusted[filename] = types
        files[filename] = sha256_file(staging / filename)
    return artifact, files, trusted

def meta_record(key: bytes | None, kind: str, name: str, version: int, meta: dict[str, Any],
                staged: tuple[str, dict[str, str], dict[str, list[str]]], fmt: str,
                 where: StorePath) -> dict[str, Any]:
    """The sealed meta.json of a new version (checked against its record type first); `staged` is
    what `_stage_files` returned."""
    artifact, files, trusted = staged[0], dict(staged[1]), staged[2]
    digest = files.pop(artifact)
    record = {"kind": kind[:-1], "name": name, "version": version, "sha256": digest, "files": files,
              "created": now(), **meta, "libraries": library_versions()}
    if artifact != ARTIFACT:
        record["artifact"] = artifact
    if fmt != "joblib" and kind != "decisions":
        record.update(format=fmt, trusted_types=trusted)
    typed = parse_record(META_TYPES[kind], json.loads(json.dumps(record, default=str)), where,
                         "This is a bug in compose: the version was not written")
    return seal(typed.to_json(), key)  # its own checksum and, with a key, its signature
