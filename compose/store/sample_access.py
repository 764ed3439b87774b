"""Opening the sample store of a model under a store root, seeding it, and the samples a version was
fitted on: the functions around `SampleStore` (compose.store.samples) that also read the model store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from compose.errors import ArtifactNotFoundError
from compose.schema.load import schema_from_dict
from compose.schema.models import Schema
from compose.store.sample_db import sample_store_exists
from compose.store.sample_records import UpsertReport
from compose.store.samples import SampleStore
from compose.store.store import ModelStore

__all__ = ["fitted_keys", "import_samples", "open_samples"]


def _model_folder(root: Path, model: str | None, schema: Schema | None) -> Path:
    def is_model(p: Path) -> bool:
        return (p / "releases").is_dir() or sample_store_exists(p)

    if model is not None:
        return root / model
    if is_model(root):
        return root
    if schema is not None:
        return root / schema.name
    found = sorted(p for p in root.iterdir() if p.is_dir() and is_model(p)) if root.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise ArtifactNotFoundError(f"store {str(root)!r} holds no model and no samples; train one first "
                                    f"(compose train SCHEMA --data FILE --store {root})")
    raise ArtifactNotFoundError(f"store {str(root)!r} holds several models {[p.name for p in found]}; pick one "
                                "with --model NAME")


def open_samples(root: str | Path, *, model: str | None = None, schema: Schema | None = None,
                 create: bool = False) -> tuple[SampleStore, Schema]:
    """The sample store of a model under a store root (or of a model folder) and the schema to read
    it with: `schema`, else the live release's, else the one the sample store was last written with.
    With `create`, a missing sample store is created (then a model with no release needs `schema`;
    its folder is `root/<schema name>`)."""
    folder = _model_folder(Path(root), model, schema)
    if schema is None:
        live = ModelStore(folder)
        if live.release_numbers():
            record = live.release()
            schema = schema_from_dict(record.schema_document, source=f"{folder}/releases/{record.release}.json")
    store = SampleStore.open(folder, schema=schema, create=create)
    if schema is None:
        text = store.info("schema")
        if text is None:
            store.close()
            raise ArtifactNotFoundError(f"{folder} has no release and its sample store no schema; pass the schema")
        schema = schema_from_dict(json.loads(text), source=str(store.path))
    return store, schema


def import_samples(store: SampleStore, schema: Schema, data: Any, *, source: str | None = None) -> UpsertReport:
    """Add a file's rows to the sample store without training. In a model folder that has a release
    already (a store made before the sample store), the imported revision is taken as what the live
    versions were trained on, so `learn` retrains only the groups whose annotations change after it."""
    report = store.upsert(data, schema, source=source)
    if ModelStore(store.home).release_numbers() and store.info("seeded") is None:
        store.set_info("seeded", str(store.revision))
    return report


def fitted_keys(model_store: ModelStore, samples: SampleStore, group: str, version: int) -> np.ndarray | None:
    """The sample keys version `version` of `group` was fitted on, or None when unknown: from the
    `fit` file of the version (written with it, so training never rewrites the sample database),
    else from the sample database (versions written before that file existed)."""
    try:
        fit = model_store.load_extra("groups", group, version, "fit")
    except ArtifactNotFoundError:
        old = samples.fitted(group, version)
        return None if old is None else old[0]
    return np.asarray(fit["sids"], dtype=np.int64)
