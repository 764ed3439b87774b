"""History of a model: list versions and releases, roll back, promote a kept version, diff releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import ArtifactNotFoundError, StoreError
from compose.store.store import ModelStore, next_release, parse_version, version_name


def _open(store: str | Path, model: str | None) -> ModelStore:
    return ModelStore.open(store, model)


def list_versions(store: str | Path, *, model: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
    """Every stored version of every group (or of one group) and feature, with whether it is live."""
    s = _open(store, model)
    live = s.release() if s.release_numbers() else {}
    kinds = ["groups", "decisions"] if group is not None else ["features", "groups", "decisions"]
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        names = [group] if kind != "features" and group is not None else s.names(kind)
        for name in names:
            versions = s.versions(kind, name)
            if not versions and group is not None and kind == "groups":
                raise ArtifactNotFoundError(f"group {group!r} has no versions in {s.path}; groups here: "
                                            f"{s.names('groups')}")
            for v in versions:
                meta = s.meta(kind, name, v)
                pin = live.get(kind, {}).get(name, {})
                rows.append({"kind": kind[:-1], "name": name, "version": v, "live": pin.get("version") == v,
                             "created": meta.get("created"), "rows": meta.get("n_train", meta.get("n_rows")),
                             "holdout_rows": meta.get("n_holdout"), "data": meta.get("data_fingerprint"),
                             "parents": meta.get("parents", {}), "metrics": meta.get("metrics", {}),
                             "gate_metric": meta.get("gate_metric"), "note": meta.get("note"),
                             "for_group_version": meta.get("for_group_version")})
    return rows


def list_releases(store: str | Path, *, model: str | None = None) -> list[dict[str, Any]]:
    s = _open(store, model)
    current = s.current_name() if s.release_numbers() else None
    out = []
    for number in s.release_numbers():
        name = f"r{number:04d}"
        rec = s.release(name)
        out.append({"release": name, "live": name == current, "created": rec.get("created"),
                    "note": rec.get("note"), "parent": rec.get("parent"),
                    "features": {f: p["version"] for f, p in rec.get("features", {}).items()},
                    "groups": {g: p["version"] for g, p in rec.get("groups", {}).items()},
                    "decisions": {g: p["version"] for g, p in rec.get("decisions", {}).items()}})
    return out


def _release_with(s: ModelStore, group: str, version: int, note: str) -> str:
    with s.lock():
        live = s.release()
        if version not in s.versions("groups", group):
            raise ArtifactNotFoundError(f"group {group!r} has no version {version_name(version)}; versions: "
                                        f"{[version_name(v) for v in s.versions('groups', group)]}")
        meta = s.meta("groups", group, version)
        for f, v in meta.get("parents", {}).items():
            pinned = live.get("features", {}).get(f, {}).get("version")
            if pinned != v:
                raise StoreError(f"group {group!r} {version_name(version)} reads feature {f!r} {version_name(v)}, "
                                 f"but the live release pins {version_name(pinned) if pinned else 'none'}; "
                                 "retrain the group on the live features instead")
        pin = {"version": version, "sha256": meta["sha256"], "parents": meta.get("parents", {})}
        return s.write_release(next_release(live, note=note, groups={group: pin}))


def rollback(store: str | Path, group: str, to: str | int, *, model: str | None = None) -> str:
    """Release version `to` of `group` with everything else as live; return the new release's name."""
    s = _open(store, model)
    v = parse_version(to)
    return _release_with(s, group, v, f"rollback --group {group} --to {version_name(v)}")


def promote(store: str | Path, group: str, version: str | int, *, model: str | None = None) -> str:
    """Release a kept (for example gate-refused) version of `group`."""
    s = _open(store, model)
    v = parse_version(version)
    return _release_with(s, group, v, f"promote --group {group} --version {version_name(v)}")


def set_release(store: str | Path, release: str, *, model: str | None = None) -> str:
    """Point CURRENT at an existing release (the way back after a bad release or a corrupt CURRENT)."""
    s = _open(store, model)
    with s.lock():
        s.release(release)  # verifies it exists and is intact
        s.set_current(release)
    return release


def diff(store: str | Path, a: str, b: str, *, model: str | None = None) -> list[str]:
    """What changed between releases `a` and `b`: versions of features and groups, and the schema."""
    s = _open(store, model)
    ra, rb = s.release(a), s.release(b)
    lines: list[str] = []
    for kind in ("features", "groups", "decisions"):
        pa, pb = ra.get(kind, {}), rb.get(kind, {})
        for name in sorted(set(pa) | set(pb)):
            va, vb = pa.get(name, {}).get("version"), pb.get(name, {}).get("version")
            if va == vb:
                continue
            label = f"{kind[:-1]} {name}: "
            if va is None:
                lines.append(label + f"added at {version_name(vb)}")
            elif vb is None:
                lines.append(label + f"removed (was {version_name(va)})")
            else:
                change = _metric_change(s, kind, name, va, vb)
                lines.append(label + f"{version_name(va)} -> {version_name(vb)}" + change)
    if ra.get("schema_hash") != rb.get("schema_hash"):
        lines.append("schema: changed")
    return lines or [f"{a} and {b} pin the same versions"]


def _metric_change(s: ModelStore, kind: str, name: str, va: int, vb: int) -> str:
    if kind != "groups":
        return ""  # features have no metric of their own; a decision's tuning report is in its meta.json
    ma, mb = s.meta(kind, name, va), s.meta(kind, name, vb)
    metric = mb.get("gate_metric")
    x, y = ma.get("metrics", {}).get(metric), mb.get("metrics", {}).get(metric)
    if x is None or y is None:
        return ""
    return f" (holdout {metric} {x:.4f} -> {y:.4f}; each on its own holdout)"
