"""The layout of a model folder (its file names and kinds of versions) and the functions that read
it without a `ModelStore`: JSON records, the versions every release pins, the models of a root,
the staging files a killed process left, and the body of the release that follows another."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Protocol

from compose.errors import ComposeError, IntegrityError
from compose.store.names import release_name, version_name
from compose.store.records import DecisionPin, GroupPin, Release, ReleaseBody, kept_decisions
from compose.store.remote import RemotePath, StorePath


class _Releases(Protocol):
    """What `pinned_paths` reads of a `ModelStore`."""

    path: StorePath

    def release_numbers(self) -> list[int]: ...
    def node_dir(self, kind: str, name: str) -> StorePath: ...

META = "meta.json"
PENDING = ".pending"
KINDS = ("features", "groups", "decisions")


_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")


def temporaries(folder: Path) -> list[Path]:
    """The staging files of `compose.data.io.atomic_path` (`.NAME.<hex>.tmp`) in `folder`, left by a killed process."""
    try:
        return sorted(p for p in folder.iterdir() if _TEMPORARY.match(p.name) and p.is_file())
    except OSError:
        return []


def read_json(path: StorePath, fix: str) -> dict[str, Any]:
    """A JSON object read from `path`; an IntegrityError (naming the file) if it is not UTF-8 JSON or not an object."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{path} is corrupt: not UTF-8 text (byte {exc.start}). {fix}") from exc
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{path} is corrupt: not JSON ({exc}). {fix}") from exc
    if not isinstance(data, dict):
        raise IntegrityError(f"{path} is corrupt: it holds a JSON {type(data).__name__}, not an object. {fix}")
    return data


def next_release(live: Release, *, note: str, groups: dict[str, GroupPin] | None = None,
                 decisions: dict[str, DecisionPin] | None = None) -> ReleaseBody:
    """The body of a release that follows `live`: its pins, with `groups` and `decisions` replaced.

    A tuned decision belongs to the head version it was tuned on, so one whose group now pins
    another version is dropped (the schema's decision applies again; `kept_decisions`).
    """
    pinned = {**live.groups, **(groups or {})}
    return live.body.model_copy(update={
        "groups": pinned, "decisions": kept_decisions(pinned, {**live.decisions, **(decisions or {})}),
        "parent": live.release, "note": note})


def canonical_json(obj: dict[str, Any]) -> bytes:
    """The bytes a release's signature covers: the record without `sha256` and `signature`, as sorted JSON."""
    return json.dumps({k: v for k, v in obj.items() if k not in ("sha256", "signature")}, sort_keys=True,
                      default=str).encode()


def digest_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def pinned_paths(store: _Releases) -> set[StorePath]:
    """The folders of every version that some release pins, read leniently (a corrupt release pins nothing)."""
    out: set[StorePath] = set()
    for number in store.release_numbers():
        path = store.path / "releases" / f"{release_name(number)}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, ComposeError):
            continue
        if not isinstance(record, dict):
            continue
        for kind in KINDS:
            pins = record.get(kind)
            for node, pin in (pins.items() if isinstance(pins, dict) else ()):
                version = pin.get("version") if isinstance(pin, dict) else None
                if isinstance(version, int) and isinstance(node, str):
                    out.add(store.node_dir(kind, node) / version_name(version))
    return out


def list_models(root: StorePath) -> list[str]:
    if isinstance(root, RemotePath):
        return sorted(p.name for p in root.iterdir() if (p / "releases").is_dir())
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "releases").is_dir())
