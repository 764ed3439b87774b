"""Loading a release: every artifact checked against its meta.json and the release, tuned decisions applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import IntegrityError, PluginError, RegistryError, SchemaError, StoreError
from compose.heads.head import Head
from compose.registry import Plugin, Registry, resolve
from compose.runtime.model import ComposedModel
from compose.schema.load import schema_from_dict
from compose.schema.models import Schema
from compose.store.records import decision_version
from compose.store.store import ModelStore


def with_decisions(schema: Schema, decisions: dict[str, dict[str, Any]], source: str, *,
                   registry: Registry | None = None) -> Schema:
    """The schema with the decisions of some groups replaced, validated like a schema file."""
    data = schema.to_dict()
    for group, decision in decisions.items():
        data["groups"][group]["decision"] = decision
    return schema_from_dict(data, source=source, registry=registry)


def apply_released_decisions(schema: Schema, release: dict[str, Any], store: ModelStore, *,
                             registry: Registry | None = None) -> Schema:
    """The schema with each group's decision replaced by the tuned version the release pins, if any."""
    active = {g: v for g in release.get("decisions", {}) if g in schema.groups
              and (v := decision_version(release, g)) is not None}
    if not active:
        return schema
    decisions: dict[str, dict[str, Any]] = {}
    for group, version in active.items():
        decision = store.load_version("decisions", group, version, release["decisions"][group].get("sha256"))
        if not isinstance(decision, dict):
            raise IntegrityError(f"decision {group!r} v{version:04d} in {store.path} is not a mapping; tune the "
                                 f"group again: compose tune --group {group} ...")
        decisions[group] = decision
    try:
        return with_decisions(schema, decisions, f"{store.path}/releases/{release.get('release')}.json",
                              registry=registry)
    except SchemaError as exc:
        raise IntegrityError(f"a tuned decision pinned by release {release.get('release')} does not fit the "
                             f"schema: {exc}. Tune the group again or roll back the release") from exc


def load(path: str | Path, *, model: str | None = None, release: str | None = None,
         registry: Registry | None = None) -> ComposedModel:
    """Load the live release (or `release`) of a model folder, or of the only model under a store root.

    Every artifact's sha256 is checked against its meta.json and the release before it is loaded.
    `registry` must know the featurizers the release was trained with (default: the built-ins and
    installed plugins); an artifact whose plugin is not installed raises PluginError naming it.
    """
    registry = resolve(registry)
    store = ModelStore.open(path, model)
    record = store.release(release)
    _check_plugins(store, record, registry)
    try:
        schema = schema_from_dict(record["schema"], source=f"{store.path}/releases/{record['release']}.json",
                                  registry=registry)
    except KeyError as exc:
        raise IntegrityError(f"release {record.get('release')!r} in {store.path} has no schema") from exc
    features: dict[str, Any] = {}
    for name, pin in record.get("features", {}).items():
        meta = store.meta("features", name, pin["version"])
        if meta.get("spec_hash") != schema.feature_fingerprint(name):
            raise StoreError(f"feature {name!r} v{pin['version']:04d} was fitted for another definition of "
                             f"the feature; retrain it: compose retrain SCHEMA --feature {name} ...")
        features[name] = store.load_version("features", name, pin["version"], pin.get("sha256"))
    heads: dict[str, Head] = {}
    for group, pin in record.get("groups", {}).items():
        if group not in schema.groups:
            continue
        meta = store.meta("groups", group, pin["version"])
        if meta.get("spec_hash") != schema.group_fingerprint(group):
            raise StoreError(f"group {group!r} v{pin['version']:04d} was trained for another definition of the "
                             f"group (labels, features, model or when changed); retrain it: "
                             f"compose train SCHEMA --only {group} --data FILE --store DIR")
        parents = meta.get("parents", {})
        for f, v in parents.items():
            if record["features"].get(f, {}).get("version") != v:
                raise IntegrityError(f"group {group!r} v{pin['version']:04d} reads feature {f!r} v{v:04d}, but "
                                     f"release {record['release']} pins another version; retrain the group")
        heads[group] = store.load_version("groups", group, pin["version"], pin.get("sha256"))
    schema = apply_released_decisions(schema, record, store, registry=registry)  # tuned for these head versions
    return ComposedModel(schema, features, heads, record, store, registry=registry)


def _check_plugins(store: ModelStore, record: dict[str, Any], registry: Registry) -> None:
    """Refuse, naming the package to install, a release whose features were made by a featurizer
    this registry does not have (before the schema check would call it merely unknown)."""
    for name, pin in record.get("features", {}).items():
        plugin = store.meta("features", name, pin["version"]).get("plugin")
        if not isinstance(plugin, dict) or not isinstance(plugin.get("name"), str):
            continue  # made before plugins were recorded: built-ins only
        try:
            registry.featurizer(plugin["name"])
        except (RegistryError, PluginError) as exc:
            made = Plugin(plugin["name"], str(plugin.get("module", "")), str(plugin.get("distribution") or ""),
                          str(plugin.get("version") or ""))
            source = f"{made.distribution} {made.version}".strip() or "no installed distribution"
            raise PluginError(f"feature {name!r} v{pin['version']:04d} in {store.path} was made by featurizer "
                              f"{made.name!r} (module {made.module!r}, {source}), which is not available here "
                              f"({exc}); {made.install_hint()}, or pass a registry that has it: "
                              "compose.load(..., registry=...)") from exc
