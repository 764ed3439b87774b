"""The YAML schema: pydantic models of the format and `load_schema`, which reports every problem.

Structural problems (a wrong type, an unknown key) come from pydantic; reference problems (a group
naming an undeclared feature, a `when` on an unknown label, a cycle) from `_check_references`. Both
are reported together, each with its key path and YAML line.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from compose.schema.hierarchy import Tree, head_specs, parse_tree, tree_problems

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
GroupType = Literal["multiclass", "binary", "multilabel", "hierarchy"]
ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def label_text(value: Any) -> Any:
    """Labels are strings: `true`, 3 or 2.5 written unquoted in YAML still mean the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class InputSpec(_Strict):
    """A column that models may read; `type` is an input kind of the registry (built in: text,
    number, category, image), checked by `compose.schema.checks`."""

    type: Annotated[str, Field(min_length=1)]
    required: bool = True


class FeatureSpec(_Strict):
    """A shared featurizer, fitted once per training run and reused by every head that names it.

    `type` names a featurizer of the registry (built in: tfidf, tabular, embedding,
    color_histogram, hog, onnx_embedding; plugins add more),
    checked by `compose.schema.checks`.
    """

    type: Annotated[str, Field(min_length=1)]
    inputs: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(_Strict):
    """The estimator of a head: a short name or a dotted scikit-learn path, and its parameters."""

    estimator: str = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)
    #: `estimator: auto` only: the search's wall-clock budget in seconds (default 60), its
    #: portfolio (default: every estimator that fits the features) and a cap on its trials.
    budget_s: Annotated[float, Field(gt=0.0)] | None = None
    candidates: list[str] | None = None
    max_trials: Annotated[int, Field(ge=1)] | None = None


Policy = Literal["argmax", "min_confidence", "top_k", "cumulative", "zones", "threshold"]


class DecisionSpec(_Strict):
    """How scores become labels: a `policy` and its parameters (see compose.heads.decide).

    Which policies and keys apply depends on the group's type; `policy` may be left out (the
    multiclass default is `min_confidence` when that key is given, else `argmax`; binary and
    multilabel groups always use `threshold`).
    """

    policy: Policy | None = None
    min_confidence: Probability | None = None
    k: Annotated[int, Field(ge=1)] | None = None
    p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    accept: Probability | None = None
    review: Probability | None = None
    threshold: Probability | None = None
    thresholds: dict[str, Probability] = Field(default_factory=dict)
    min_labels: Annotated[int, Field(ge=0)] | None = None
    max_labels: Annotated[int, Field(ge=1)] | None = None

    def policy_of(self, kind: str) -> str:
        """The policy in force for a group of type `kind`, with the defaults filled in."""
        if self.policy is not None:
            return self.policy
        if kind != "multiclass":
            return "threshold"
        return "min_confidence" if self.min_confidence is not None else "argmax"

    @field_validator("thresholds", mode="before")
    @classmethod
    def _label_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {label_text(k): v for k, v in value.items()}
        return value


class GateSpec(_Strict):
    """How a retrained head is compared with the live one before it is released."""

    metric: Literal["accuracy", "balanced_accuracy", "macro_f1", "micro_f1"] | None = None
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class MonitorSpec(_Strict):
    """What `compose monitor` flags for a group: `drift`, the Jensen-Shannon distance (0 to 1) between the
    served label distribution and the version's holdout predictions above which the group is flagged."""

    drift: Probability = 0.1


class ColdStartSpec(_Strict):
    """The zero-shot cold start of a multiclass or binary group that reads a `type: embedding` feature.

    While a label has fewer than `min_per_label` labelled training samples (0 turns the cold start
    off), the group answers from a zero-shot head: the cosine similarity of the rows' embedding with
    each label's text (its `descriptions:` entry, else its name), `scale` times it through a softmax.
    """

    min_per_label: Annotated[int, Field(ge=0)] = 2
    scale: Annotated[float, Field(gt=0.0, le=1000.0)] = 15.0


class GroupSpec(_Strict):
    """One independent head: a mutually exclusive set (multiclass, binary) or a set of tags.

    A `hierarchy` group's labels are a nested mapping (see `compose.schema.hierarchy`); the schema
    expands it into one multiclass head per parent node.
    """

    type: GroupType
    labels: list[str] | dict[str, Any] | None = None
    features: list[str] | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    when: dict[str, list[str]] | None = None
    gate: GateSpec = Field(default_factory=GateSpec)
    calibration: Literal["sigmoid", "isotonic"] | None = None
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    #: Per label, a text that says what the label means; the zero-shot head reads it instead of the name.
    descriptions: dict[str, Annotated[str, Field(min_length=1)]] = Field(default_factory=dict)
    cold_start: ColdStartSpec = Field(default_factory=ColdStartSpec)

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        """`model: auto` (or any estimator name) stands for `model: {estimator: auto}`."""
        return {"estimator": value} if isinstance(value, str) else value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("type") == "hierarchy":
            return _tree_form(value)
        if isinstance(value, list):
            return [label_text(v) for v in value]
        return value

    @field_validator("descriptions", mode="before")
    @classmethod
    def _description_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {label_text(k): v for k, v in value.items()}
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _when_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [label_text(v) for v in vs] if isinstance(vs, list) else vs for k, vs in value.items()}
        return value


class TrainingSpec(_Strict):
    """How training splits rows: a fraction held out per group, chosen by a seeded row hash."""

    holdout: Annotated[float, Field(ge=0.0, lt=0.9)] = 0.2
    seed: int = 0
    #: A column of the data whose value is hashed for the holdout instead of the inputs, so rows
    #: that share it (the skin-tone variants of one emoji) always land on the same side.
    group_by: str | None = None


class StoreSpec(_Strict):
    """How the store saves this schema's artifacts."""

    #: `joblib` (pickles, the default) or `skops` (types checked before loading); unset: new versions
    #: keep the format of the live release (joblib for a new store).
    artifact_format: Literal["joblib", "skops"] | None = None


class Schema(_Strict):
    """A whole schema file (`schema_version: 1`)."""

    schema_version: Literal[1]
    name: Name
    description: str | None = None
    inputs: dict[str, InputSpec] = Field(min_length=1)
    features: dict[Name, FeatureSpec] = Field(min_length=1)
    groups: dict[Name, GroupSpec] = Field(min_length=1)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    store: StoreSpec = Field(default_factory=StoreSpec)
    #: A flat tag column (`red|shirt|adults`): a data file that has it and no group column is split
    #: into one column per group by the declared labels, as `compose convert` does.
    tags: str | None = None
    #: Module prefixes (beside `sklearn.`) under which a dotted `model.estimator` path may be imported
    #: when training; validating a schema imports none of them.
    trusted_modules: list[ModuleName] = Field(default_factory=list)
    _declared: dict[str, GroupSpec] = PrivateAttr(default_factory=dict)
    _trees: dict[str, Tree] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _expand_hierarchies(self) -> Schema:
        """Replace each hierarchy group by its heads (`compose.schema.hierarchy`); keep the declared groups."""
        if not any(g.type == "hierarchy" for g in self.groups.values()):
            return self
        expanded: dict[str, GroupSpec] = {}
        for name, spec in self.groups.items():
            if spec.type != "hierarchy" or tree_problems(name, spec.labels):
                expanded[name] = spec  # a broken tree is reported by the schema checks
                continue
            tree = parse_tree(name, spec.labels)
            self._trees[name] = tree
            expanded.update({h: GroupSpec.model_validate(raw) for h, raw in head_specs(tree, spec).items()})
        self._declared = dict(self.groups)
        object.__setattr__(self, "groups", expanded)
        return self

    @property
    def hierarchies(self) -> dict[str, Tree]:
        """Each hierarchy group's label tree; its heads are in `groups` (the root's under the group's name)."""
        return dict(self._trees)

    @property
    def declared_groups(self) -> dict[str, GroupSpec]:
        """The groups as the schema file declares them (a hierarchy as one group, not its heads)."""
        return dict(self._declared) if self._declared else dict(self.groups)

    def hierarchy_of(self, head: str) -> tuple[Tree, str] | None:
        """(tree, node) when `head` is a head of a hierarchy group (node `""` for the root's), else None."""
        for tree in self._trees.values():
            node = tree.heads().get(head)
            if node is not None:
                return tree, node
        return None

    def labels_of(self, group: str) -> list[str]:
        """The declared labels of a group, with the binary default `[not_<group>, <group>]`."""
        spec = self.groups[group]
        if spec.labels is not None:
            return list(spec.labels)
        return [f"not_{group}", group]

    def features_of(self, group: str) -> list[str]:
        """The features a group reads; all declared features when the group names none."""
        spec = self.groups[group]
        return list(spec.features) if spec.features is not None else list(self.features)

    def group_fingerprint(self, group: str) -> str:
        """A hash of what a trained head depends on: type, labels, features, model, `when`, calibration."""
        spec = self.groups[group]
        part: dict[str, Any] = {
            "type": spec.type,
            "labels": self.labels_of(group),
            "features": {f: self.feature_fingerprint(f) for f in self.features_of(group)},
            # The budget says how long to search, not what the head is: it is left out of the hash.
            "model": spec.model.model_dump(mode="json", exclude_none=True, exclude={"budget_s"}),
            "when": spec.when,
        }
        if spec.calibration is not None:  # only when set, so heads trained before the key existed still load
            part["calibration"] = spec.calibration
        return _digest(part)

    def feature_fingerprint(self, feature: str) -> str:
        spec = self.features[feature]
        part = {**spec.model_dump(mode="json"), "input_types": {i: self.inputs[i].type for i in spec.inputs}}
        return _digest(part)

    def fingerprint(self) -> str:
        return _digest(self._dump(exclude_defaults=False))

    def to_dict(self) -> dict[str, Any]:
        """The schema as its file declares it (a hierarchy as one group): loading this gives it back."""
        return self._dump(exclude_defaults=True)

    def _dump(self, *, exclude_defaults: bool) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_defaults=exclude_defaults)
        if self._declared:
            out["groups"] = {name: spec.model_dump(mode="json", exclude_defaults=exclude_defaults)
                             for name, spec in self._declared.items()}
        return out


def _tree_form(value: Any) -> Any:
    """A hierarchy's labels as nested mappings (a leaf maps to None): lists of names or mappings folded in."""
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict):
                out.update({label_text(k): _tree_form(v) for k, v in item.items()})
            else:
                out[label_text(item)] = None
        return out
    if isinstance(value, dict):
        return {label_text(k): _tree_form(v) for k, v in value.items()}
    return value


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
