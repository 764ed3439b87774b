"""Records of the store, as types: releases and their pins, the meta.json of a version, a gate
verdict and a stored holdout, and the rules that read them.

They are parsed once, where the store reads a file (`compose.store.store`); everything above works
with these types and never with the raw JSON. A file that does not parse (a missing field, a field
of the wrong type, an unknown field) is an `IntegrityError` that names the file and the field.

Store formats are numbered. Format 1 is the first layout (written by compose 0.1.0: decisions
pickled, a holdout stored as a mapping; `tests/fixtures/store-0.1.0` is one); format 2 is today's
(decisions written as data, release signatures, fit files). A format 1 store parses as it is: every
field added since is optional, so format 2 reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compose.errors import IntegrityError
from compose.registry import Plugin
from compose.store.remote import StorePath

#: The store format this code writes; it reads every earlier one (see the module docstring).
STORE_FORMAT = 2
#: The first store format: the layout the first release (compose 0.1.0) wrote.
FIRST_STORE_FORMAT = 1

#: The file name of a pickled artifact (features, heads, and decisions written in store format 1).
ARTIFACT = "model.joblib"
#: The file name of a tuned decision written as data.
DECISION = "decision.json"


class Record(BaseModel):
    """A record read from or written to the store: strict types, no unknown field, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object written to disk (optional fields left unset are omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


# --------------------------------------------------------------------------------------------------
# Releases


class FeaturePin(Record):
    """A release's pin of one feature version (and the checksum of its meta.json, since signing)."""

    version: int
    sha256: str | None = None
    meta_sha256: str | None = None


class GroupPin(Record):
    """A release's pin of one head version, with the feature versions it reads."""

    version: int
    sha256: str | None = None
    meta_sha256: str | None = None
    parents: dict[str, int] = Field(default_factory=dict)


class DecisionPin(Record):
    """A release's pin of a tuned decision, with the head version it was tuned for."""

    version: int
    sha256: str | None = None
    meta_sha256: str | None = None
    for_group_version: int


Pin = FeaturePin | GroupPin | DecisionPin


class ReleaseBody(Record):
    """What a release pins: every version of the model, the schema it was made for, and a note."""

    note: str | None = None
    parent: str | None = None
    schema_hash: str | None = None
    schema_document: dict[str, Any] = Field(alias="schema")
    features: dict[str, FeaturePin] = Field(default_factory=dict)
    groups: dict[str, GroupPin] = Field(default_factory=dict)
    decisions: dict[str, DecisionPin] = Field(default_factory=dict)

    def pins(self, kind: str) -> Mapping[str, Pin]:
        """The pins of `kind` (`features`, `groups` or `decisions`)."""
        if kind == "features":
            return self.features
        if kind == "groups":
            return self.groups
        if kind == "decisions":
            return self.decisions
        raise ValueError(f"unknown kind {kind!r}; use features, groups or decisions")

    def body_json(self) -> dict[str, Any]:
        """The body as written in a release file (no `decisions` key when there are none, as in store format 1)."""
        out = {"note": self.note, "parent": self.parent, "schema_hash": self.schema_hash,
               "schema": self.schema_document,
               "features": {k: p.to_json() for k, p in self.features.items()},
               "groups": {k: p.to_json() for k, p in self.groups.items()}}
        if self.decisions:
            out["decisions"] = {k: p.to_json() for k, p in self.decisions.items()}
        return out


class Release(ReleaseBody):
    """A release file `releases/rNNNN.json`: its body, its name, when it was made and its own sha256."""

    release: str
    created: str
    sha256: str
    #: The HMAC-SHA256 of the release (without `sha256` and `signature`), in a signed store.
    signature: str | None = None

    @property
    def body(self) -> ReleaseBody:
        """The pins and schema of this release, without its name, date and digest."""
        return ReleaseBody.model_validate(self.body_json())


def kept_decisions(groups: Mapping[str, GroupPin], decisions: Mapping[str, DecisionPin]) -> dict[str, DecisionPin]:
    """The tuned decisions that still apply: a decision follows the head version it was tuned for,
    so one whose group now pins another version (or no version) is dropped."""
    return {g: p for g, p in decisions.items() if g in groups and groups[g].version == p.for_group_version}


def decision_version(release: ReleaseBody, group: str) -> int | None:
    """The version of the tuned decision that `release` applies to `group`, or None (the schema's own)."""
    pin = kept_decisions(release.groups, release.decisions).get(group)
    return None if pin is None else pin.version


# --------------------------------------------------------------------------------------------------
# Version metadata (meta.json)


class TrainingRule(Record):
    """How the rows of a version were split (the schema's `training` section)."""

    holdout: float
    seed: int
    rows: str | None = None
    group_by: str | None = None  # `training.group_by`: the column hashed for the holdout


class GateVerdict(Record):
    """A retrained head against the live one on the same held-out rows."""

    metric: str
    tolerance: float
    against: int
    n_holdout: int
    passed: bool
    reason: str | None = None
    candidate: float | None = None
    live: float | None = None
    live_metrics: dict[str, Any] | None = None
    forced: bool = False


class PluginRecord(Record):
    """The registry entry (built-in or plugin) that made an artifact: `compose.registry.Plugin`."""

    name: str
    module: str
    distribution: str
    version: str

    def as_plugin(self) -> Plugin:
        return Plugin(self.name, self.module, self.distribution, self.version)


class VersionMeta(Record):
    """What every meta.json holds: the artifact's sha256 (and those of extra files), when and with
    which libraries it was made."""

    kind: Literal["feature", "group", "decision"]
    name: str
    version: int
    sha256: str
    files: dict[str, str] = Field(default_factory=dict)
    created: str
    libraries: dict[str, str] = Field(default_factory=dict)
    note: str | None = None
    artifact: str = ARTIFACT
    #: How the artifact and extra files are saved (compose.store.artifacts): `joblib` or `skops`.
    format: Literal["joblib", "skops"] = "joblib"
    #: skops only: per file, the types it holds that skops does not trust by default (trusted at load).
    trusted_types: dict[str, list[str]] = Field(default_factory=dict)
    #: Set by `compose convert-store`: the version, format and sha256 this one was written from.
    converted_from: dict[str, Any] | None = None
    #: A checksum of this record's own content (compose.store.signing); absent in stores made before it.
    meta_sha256: str | None = None
    #: The HMAC-SHA256 of the same content, in a signed store.
    signature: str | None = None

    @property
    def scikit_learn(self) -> str | None:
        """The scikit-learn version the artifact was made with."""
        return self.libraries.get("scikit-learn")


class FeatureMeta(VersionMeta):
    """meta.json of a feature version."""

    kind: Literal["feature"]
    spec_hash: str
    spec: dict[str, Any]
    n_rows: int
    data_fingerprint: str
    width: int
    training: TrainingRule
    plugin: PluginRecord | None = None


class SamplesUsed(Record):
    """Which stored samples a head version was fitted on: the sample store's revision it read (the
    exact sample keys are in the store's `fits` table) and how many rows that was."""

    revision: int
    n_train: int


class GroupMeta(VersionMeta):
    """meta.json of a head version: its rows, holdout metrics, gate verdict and parent features."""

    kind: Literal["group"]
    spec_hash: str
    spec: dict[str, Any]
    type: Literal["multiclass", "binary", "multilabel"]
    labels: list[str]
    parents: dict[str, int]
    n_train: int
    n_holdout: int
    data_fingerprint: str
    holdout_fingerprint: str
    class_counts: dict[str, int]
    holdout_class_counts: dict[str, int]
    metrics: dict[str, Any]
    gate_metric: str
    gate: GateVerdict | None = None
    excluded_by_when: int = 0
    training: TrainingRule
    fit_seconds_all_heads: float | None = None
    plugin: PluginRecord | None = None
    search: dict[str, Any] | None = None  # `model: auto`: the search (compose.heads.auto.SearchResult)
    samples: SamplesUsed | None = None  # None: trained from a file, before compose kept samples
    #: `zero-shot`: the head reads its label texts (compose.heads.zero_shot); `model`: fitted on samples.
    source: Literal["model", "zero-shot"] = "model"
    warm_start: dict[str, int] | None = None  # {"from": live version}: the fits started from its coefficients


class DecisionMeta(VersionMeta):
    """meta.json of a tuned decision: what it was tuned for, on which rows, and the tuning report."""

    kind: Literal["decision"]
    for_group_version: int
    target: str
    report: dict[str, Any]
    previous: dict[str, Any]
    n_rows: int
    source: str
    rows_fingerprint: str


META_TYPES: dict[str, type[VersionMeta]] = {"features": FeatureMeta, "groups": GroupMeta, "decisions": DecisionMeta}


# --------------------------------------------------------------------------------------------------
# The holdout kept with a head version


@dataclass(frozen=True)
class Holdout:
    """The held-out rows of a head version: prepared inputs, labels and row hashes.

    Stored as a mapping (`holdout.joblib`, as store format 1 has it); `from_stored` checks its shape.
    """

    inputs: pd.DataFrame
    y: np.ndarray
    hashes: np.ndarray
    known: np.ndarray | None = None  # multilabel per-label truth: the known cells (None: all known)

    def __len__(self) -> int:
        return len(self.y)

    def known_cells(self) -> np.ndarray:
        """The (n_rows, n_labels) mask of known cells of a multilabel holdout."""
        return np.ones(self.y.shape, dtype=bool) if self.known is None else self.known

    def to_stored(self) -> dict[str, Any]:
        stored = {"inputs": self.inputs, "y": self.y, "hashes": self.hashes}
        if self.known is not None:
            stored["known"] = self.known
        return stored

    @classmethod
    def from_stored(cls, obj: Any, path: StorePath) -> Holdout:
        ok = (isinstance(obj, Mapping) and isinstance(obj.get("inputs"), pd.DataFrame)
              and isinstance(obj.get("y"), np.ndarray) and isinstance(obj.get("hashes"), np.ndarray))
        if not ok:
            raise IntegrityError(f"{path} is not a stored holdout (a mapping of inputs, y and hashes); "
                                 "retrain the group")
        if not len(obj["inputs"]) == len(obj["y"]) == len(obj["hashes"]):
            raise IntegrityError(f"{path}: inputs, y and hashes have different lengths; retrain the group")
        known = obj.get("known")
        return cls(obj["inputs"], obj["y"], obj["hashes"], None if known is None else np.asarray(known, dtype=bool))


# --------------------------------------------------------------------------------------------------
# Parsing at the edge

R = TypeVar("R", bound=Record)


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(the whole file)"


def parse_record(model: type[R], data: Any, path: StorePath, fix: str) -> R:
    """`data` (read from `path`) as a `model`; an IntegrityError naming the file and each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            got = "" if err["type"] == "missing" else f" (got {err['input']!r:.60})"
            problems.append(f"field {_where(err['loc'])!r}: {err['msg'].lower()}{got}")
        more = f" and {exc.error_count() - 5} more" if exc.error_count() > 5 else ""
        raise IntegrityError(f"{path} is not a valid {model.__name__.lower()} record: {'; '.join(problems)}{more}. "
                             f"{fix}") from exc
