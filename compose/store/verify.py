"""`compose verify`: check a whole store without loading a model: every release, every version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from compose.errors import ComposeError
from compose.store.artifacts import check_types
from compose.store.gc import leftovers, run_in_progress, version_states
from compose.store.layout import KINDS
from compose.store.names import release_name, version_name
from compose.store.remote import RemotePath, StorePath
from compose.store.store import ModelStore


def _why_kept(s: ModelStore, kind: str, node: str, version: int) -> str:
    try:
        gate = getattr(s.meta(kind, node, version), "gate", None)
    except (ComposeError, OSError):
        return ""
    if gate is not None and gate.passed is False:
        return " (refused by the gate)"
    return ""


@dataclass
class StoreCheck:
    """What `verify_store` found: the problems (one sentence each) and what it looked at."""

    path: StorePath
    problems: list[str] = field(default_factory=list)
    releases: int = 0
    versions: int = 0
    kept: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    in_progress: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = f"{self.path}: {self.releases} releases and {self.versions} versions checked"
        if self.ok:
            out = [head + "; every sha256 matches and every release points at whole versions"]
        else:
            out = [head + f"; {len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}:",
                   *(f"  {p}" for p in self.problems)]
        if self.kept:
            out.append(f"kept, never released (whole; a gate refused them or a head beside them; `compose promote` "
                       f"can release them): {', '.join(self.kept)}")
        if self.in_progress:
            out.append("a run holds the store's lock now: versions it is writing are not judged")
        if self.leftovers:
            out.append(f"{len(self.leftovers)} leftover{'s' * (len(self.leftovers) != 1)} of aborted runs, never "
                       "released and pinned by no release (remove them with `compose gc --store "
                       f"{self.path}`):")
            out.extend(f"  {item}" for item in self.leftovers)
        return out


def verify_store(store: str | Path | RemotePath, *, model: str | None = None,
                 key: str | bytes | None = None) -> StoreCheck:
    """Check CURRENT, every release (its own sha256, the versions it pins) and every stored version
    (each file against the sha256 in its meta.json, meta.json against its checksum). With a signing
    `key` (default: `COMPOSE_SIGNING_KEY`) every signature too. Nothing is unpickled."""
    s = ModelStore.open(store, model, key=key)
    check = StoreCheck(s.path)
    try:
        s.current_name()
    except ComposeError as exc:
        check.problems.append(str(exc))
    for number in s.release_numbers():
        check.releases += 1
        name = release_name(number)
        try:
            record = s.release(name)
        except ComposeError as exc:
            check.problems.append(str(exc))
            continue
        for kind in KINDS:
            for node, pin in record.pins(kind).items():
                try:
                    s.verify_version(kind, node, pin.version, pin.sha256, pin.meta_sha256)
                except ComposeError as exc:
                    check.problems.append(f"release {name} pins {kind[:-1]} {node!r} {version_name(pin.version)}: "
                                          f"{exc}")
    for kind in KINDS:
        for node in s.names(kind):
            for v in s.versions(kind, node):
                check.versions += 1
                try:
                    _, meta = s.verify_version(kind, node, v)
                    if meta.format == "skops":  # every type in each file was there when it was written
                        for name, types in meta.trusted_types.items():
                            check_types(s.node_dir(kind, node) / version_name(v) / name, types,
                                        what=f"{kind[:-1]} {node!r}")
                except ComposeError as exc:
                    check.problems.append(str(exc))
                except (OSError, json.JSONDecodeError) as exc:
                    check.problems.append(f"{kind[:-1]} {node!r} {version_name(v)} cannot be read: {exc}")
    check.in_progress = run_in_progress(s)
    states = version_states(s)
    check.kept = [f"{kind[:-1]} {node} {version_name(v)}{_why_kept(s, kind, node, v)}"
                  for (kind, node, v), state in states.items() if state == "kept"]
    if not check.in_progress:
        check.leftovers = [f"{item.path} ({item.what})" for item in leftovers(s)]
    # Duplicate problems (a bad version pinned by several releases) are reported once per place.
    check.problems = list(dict.fromkeys(check.problems))
    return check
