"""History of a model: list versions and releases, roll back, promote a kept version, diff releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import ArtifactNotFoundError, StoreError
from compose.store.layout import next_release
from compose.store.names import parse_version, release_name, version_name
from compose.store.records import DecisionMeta, FeatureMeta, GroupMeta, GroupPin, VersionMeta
from compose.store.store import ModelStore


def _open(store: str | Path, model: str | None) -> ModelStore:
    return ModelStore.open(store, model)


def list_versions(store: str | Path, *, model: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
    """Every stored version of every group (or of one group) and feature, with whether it is live."""
    s = _open(store, model)
    live = s.release() if s.release_numbers() else None
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
                pin = live.pins(kind).get(name) if live is not None else None
                rows.append(_version_row(s.meta(kind, name, v), pin is not None and pin.version == v))
    return rows


def _version_row(meta: VersionMeta, live: bool) -> dict[str, Any]:
    """One row of `compose versions` (and of its --json output)."""
    group = meta if isinstance(meta, GroupMeta) else None
    other = meta if isinstance(meta, FeatureMeta | DecisionMeta) else None
    return {"kind": meta.kind, "name": meta.name, "version": meta.version, "live": live, "created": meta.created,
            "rows": group.n_train if group else other.n_rows if other else None,
            "holdout_rows": group.n_holdout if group else None,
            "data": group.data_fingerprint if group else meta.data_fingerprint if isinstance(meta, FeatureMeta)
            else None,
            "parents": group.parents if group else {}, "metrics": group.metrics if group else {},
            "gate_metric": group.gate_metric if group else None, "note": meta.note,
            "for_group_version": meta.for_group_version if isinstance(meta, DecisionMeta) else None,
            "estimator": _estimator_of(group) if group else None, "search": group.search if group else None}


def _estimator_of(meta: GroupMeta) -> str | None:
    """The estimator a head version was fitted with: the search's winner for `model: auto`, `zero-shot`
    for a head that reads its label texts (the cold start)."""
    if meta.source == "zero-shot":
        return "zero-shot"
    if meta.search is not None:
        return f"auto:{meta.search.get('estimator')}"
    model = meta.spec.get("model")
    return str(model.get("estimator")) if isinstance(model, dict) else None


def list_releases(store: str | Path, *, model: str | None = None) -> list[dict[str, Any]]:
    s = _open(store, model)
    current = s.current_name() if s.release_numbers() else None
    out = []
    for number in s.release_numbers():
        name = release_name(number)
        rec = s.release(name)
        out.append({"release": name, "live": name == current, "created": rec.created,
                    "note": rec.note, "parent": rec.parent,
                    "features": {f: p.version for f, p in rec.features.items()},
                    "groups": {g: p.version for g, p in rec.groups.items()},
                    "decisions": {g: p.version for g, p in rec.decisions.items()}})
    return out


def _release_with(s: ModelStore, group: str, version: int, note: str) -> str:
    with s.lock():
        live = s.release()
        if version not in s.versions("groups", group):
            raise ArtifactNotFoundError(f"group {group!r} has no version {version_name(version)}; versions: "
                                        f"{[version_name(v) for v in s.versions('groups', group)]}")
        meta = s.group_meta(group, version)
        for f, v in meta.parents.items():
            fpin = live.features.get(f)
            pinned = fpin.version if fpin is not None else None
            if pinned != v:
                raise StoreError(f"group {group!r} {version_name(version)} reads feature {f!r} {version_name(v)}, "
                                 f"but the live release pins {version_name(pinned) if pinned else 'none'}; "
                                 "retrain the group on the live features instead")
        pin = GroupPin(version=version, sha256=meta.sha256, parents=meta.parents)
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
        pa, pb = ra.pins(kind), rb.pins(kind)
        for name in sorted(set(pa) | set(pb)):
            va = pa[name].version if name in pa else None
            vb = pb[name].version if name in pb else None
            if va == vb:
                continue
            label = f"{kind[:-1]} {name}: "
            if va is None and vb is not None:
                lines.append(label + f"added at {version_name(vb)}")
            elif vb is None and va is not None:
                lines.append(label + f"removed (was {version_name(va)})")
            elif va is not None and vb is not None:
                change = _metric_change(s, kind, name, va, vb)
                lines.append(label + f"{version_name(va)} -> {version_name(vb)}" + change)
    if ra.schema_hash != rb.schema_hash:
        lines.append("schema: changed")
    return lines or [f"{a} and {b} pin the same versions"]


def _metric_change(s: ModelStore, kind: str, name: str, va: int, vb: int) -> str:
    if kind != "groups":
        return ""  # features have no metric of their own; a decision's tuning report is in its meta.json
    ma, mb = s.group_meta(name, va), s.group_meta(name, vb)
    metric = mb.gate_metric
    x, y = ma.metrics.get(metric), mb.metrics.get(metric)
    if x is None or y is None:
        return ""
    return f" (holdout {metric} {x:.4f} -> {y:.4f}; each on its own holdout)"
