"""Loading a release: every artifact checked against its meta.json and the release, tuned decisions applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose.errors import IntegrityError, PluginError, RegistryError, SchemaError, StoreError
from compose.heads.head import Head
from compose.registry import Registry, resolve
from compose.runtime.model import ComposedModel
from compose.schema.load import schema_from_dict
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import Release, decision_version
from compose.store.remote import RemotePath
from compose.store.store import ModelStore


def with_decisions(schema: Schema, decisions: dict[str, dict[str, Any]], source: str, *,
                   registry: Registry | None = None) -> Schema:
    """The schema with the decisions of some groups replaced, validated like a schema file."""
    data = schema.to_dict()
    for group, decision in decisions.items():
        data["groups"][group]["decision"] = decision
    return schema_from_dict(data, source=source, registry=registry)


def apply_released_decisions(schema: Schema, release: Release, store: ModelStore, *,
                             registry: Registry | None = None) -> Schema:
    """The schema with each group's decision replaced by the tuned version the release pins, if any."""
    active = {g: v for g in release.decisions if g in schema.groups
              and (v := decision_version(release, g)) is not None}
    if not active:
        return schema
    decisions: dict[str, dict[str, Any]] = {}
    for group, version in active.items():
        pin = release.decisions[group]
        decision = store.load_version("decisions", group, version, pin.sha256, pin.meta_sha256)
        if not isinstance(decision, dict):
            raise IntegrityError(f"decision {group!r} {version_name(version)} in {store.path} is not a mapping; "
                                 f"tune the group again: compose tune --group {group} ...")
        decisions[group] = decision
    source = f"{store.path}/releases/{release.release}.json"
    try:
        return with_decisions(schema, decisions, source, registry=registry)
    except SchemaError as exc:
        raise IntegrityError(f"a tuned decision pinned by release {release.release} does not fit the "
                             f"schema: {exc}. Tune the group again or roll back the release") from exc


def _features(store: ModelStore, schema: Schema, record: Release) -> dict[str, Any]:
    features: dict[str, Any] = {}
    for name, pin in record.features.items():
        meta = store.feature_meta(name, pin.version)
        if meta.spec_hash != schema.feature_fingerprint(name):
            raise StoreError(f"feature {name!r} {version_name(pin.version)} was fitted for another definition of "
                             f"the feature; retrain it: compose retrain SCHEMA --feature {name} ...")
        features[name] = store.load_version("features", name, pin.version, pin.sha256, pin.meta_sha256)
    return features


def _heads(store: ModelStore, schema: Schema, record: Release) -> dict[str, Head]:
    heads: dict[str, Head] = {}
    for group, pin in record.groups.items():
        if group not in schema.groups:
            continue
        meta = store.group_meta(group, pin.version)
        if meta.spec_hash != schema.group_fingerprint(group):
            raise StoreError(f"group {group!r} {version_name(pin.version)} was trained for another definition of "
                             "the group (labels, features, model or when changed); retrain it: "
                             f"compose train SCHEMA --only {group} --data FILE --store DIR")
        for f, v in meta.parents.items():
            fpin = record.features.get(f)
            if fpin is None or fpin.version != v:
                raise IntegrityError(f"group {group!r} {version_name(pin.version)} reads feature {f!r} "
                                     f"{version_name(v)}, but release {record.release} pins another version; "
                                     "retrain the group")
        heads[group] = store.load_version("groups", group, pin.version, pin.sha256, pin.meta_sha256)
    return heads


def load(path: str | Path | RemotePath, *, model: str | None = None, release: str | None = None,
         registry: Registry | None = None, key: str | bytes | None = None) -> ComposedModel:
    """Load the live release (or `release`) of a model folder, or of the only model under a store root.

    Every artifact's sha256 is checked against its meta.json and the release before it is loaded.
    `registry` must know the featurizers the release was trained with (default: the built-ins and
    installed plugins); an artifact whose plugin is not installed raises PluginError naming it.
    With a signing `key` (default: `COMPOSE_SIGNING_KEY`), CURRENT, the release and every meta.json
    must carry a valid signature, checked before anything is unpickled.
    """
    registry = resolve(registry)
    store = ModelStore.open(path, model, key=key)
    record = store.release(release)
    _check_plugins(store, record, registry)
    schema = schema_from_dict(record.schema_document, source=f"{store.path}/releases/{record.release}.json",
                              registry=registry)
    features = _features(store, schema, record)
    heads = _heads(store, schema, record)
    schema = apply_released_decisions(schema, record, store, registry=registry)  # tuned for these head versions
    return ComposedModel(schema, features, heads, record, store, registry=registry)


def _check_plugins(store: ModelStore, record: Release, registry: Registry) -> None:
    """Refuse, naming the package to install, a release whose features were made by a featurizer
    this registry does not have (before the schema check would call it merely unknown)."""
    for name, pin in record.features.items():
        plugin = store.feature_meta(name, pin.version).plugin
        if plugin is None:
            continue  # made before plugins were recorded: built-ins only
        try:
            registry.featurizer(plugin.name)
        except (RegistryError, PluginError) as exc:
            made = plugin.as_plugin()
            source = f"{made.distribution} {made.version}".strip() or "no installed distribution"
            raise PluginError(f"feature {name!r} {version_name(pin.version)} in {store.path} was made by featurizer "
                              f"{made.name!r} (module {made.module!r}, {source}), which is not available here "
                              f"({exc}); {made.install_hint()}, or pass a registry that has it: "
                              "compose.load(..., registry=...)") from exc
