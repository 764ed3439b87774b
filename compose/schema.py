"""The YAML schema: pydantic models of the format and `load_schema`, which reports every problem.

Structural problems (a wrong type, an unknown key) come from pydantic; reference problems (a group
naming an undeclared feature, a `when` on an unknown label, a cycle) from `_check_references`. Both
are reported together, each with its key path and YAML line.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from compose._yaml import Path_, YamlDocument, parse_yaml
from compose.errors import SchemaError

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
GroupType = Literal["multiclass", "binary", "multilabel"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _label_text(value: Any) -> Any:
    """Labels are strings: `true`, 3 or 2.5 written unquoted in YAML still mean the text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class InputSpec(_Strict):
    """A column that models may read."""

    type: Literal["text", "number", "category"]
    required: bool = True


class FeatureSpec(_Strict):
    """A shared featurizer, fitted once per training run and reused by every head that names it."""

    type: Literal["tfidf", "tabular"]
    inputs: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(_Strict):
    """The estimator of a head: a short name or a dotted scikit-learn path, and its parameters."""

    estimator: str = "logistic_regression"
    params: dict[str, Any] = Field(default_factory=dict)


Policy = Literal["argmax", "min_confidence", "top_k", "cumulative", "zones", "threshold"]


class DecisionSpec(_Strict):
    """How scores become labels: a `policy` and its parameters (see compose.decisions).

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
            return {_label_text(k): v for k, v in value.items()}
        return value


class GateSpec(_Strict):
    """How a retrained head is compared with the live one before it is released."""

    metric: Literal["accuracy", "balanced_accuracy", "macro_f1", "micro_f1"] | None = None
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class GroupSpec(_Strict):
    """One independent head: a mutually exclusive set (multiclass, binary) or a set of tags."""

    type: GroupType
    labels: list[str] | None = None
    features: list[str] | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    when: dict[str, list[str]] | None = None
    gate: GateSpec = Field(default_factory=GateSpec)
    calibration: Literal["sigmoid", "isotonic"] | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_label_text(v) for v in value]
        return value

    @field_validator("when", mode="before")
    @classmethod
    def _when_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [_label_text(v) for v in vs] if isinstance(vs, list) else vs for k, vs in value.items()}
        return value


class TrainingSpec(_Strict):
    """How training splits rows: a fraction held out per group, chosen by a seeded row hash."""

    holdout: Annotated[float, Field(ge=0.0, lt=0.9)] = 0.2
    seed: int = 0


class Schema(_Strict):
    """A whole schema file (`schema_version: 1`)."""

    schema_version: Literal[1]
    name: Name
    description: str | None = None
    inputs: dict[str, InputSpec] = Field(min_length=1)
    features: dict[Name, FeatureSpec] = Field(min_length=1)
    groups: dict[Name, GroupSpec] = Field(min_length=1)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    #: A flat tag column (`red|shirt|adults`): a data file that has it and no group column is split
    #: into one column per group by the declared labels, as `compose convert` does.
    tags: str | None = None

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
            "model": spec.model.model_dump(mode="json"),
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
        return _digest(self.model_dump(mode="json"))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------------
# Loading and reporting


def load_schema(path: str | Path) -> Schema:
    """Read and validate a schema file; raise SchemaError listing every problem with its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"schema file {str(p)!r} does not exist; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {str(p)!r}: {exc}") from exc
    return parse_schema(text, source=str(p))


def parse_schema(text: str, source: str = "<string>") -> Schema:
    """Validate schema text; raise SchemaError listing every problem with its line."""
    try:
        doc = parse_yaml(text, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaError(f"{where}: invalid YAML: {problem}; fix the syntax at that line") from exc
    return schema_from_document(doc)


def schema_from_dict(data: dict[str, Any], source: str = "<dict>") -> Schema:
    """Validate an already-parsed schema (for example one stored in a release)."""
    return schema_from_document(YamlDocument(data, {}, source))


def schema_from_document(doc: YamlDocument) -> Schema:
    if not isinstance(doc.data, dict):
        raise SchemaError(
            f"{doc.where(())}: a schema must be a mapping with schema_version, name, inputs, "
            f"features and groups; got {type(doc.data).__name__}"
        )
    problems: list[tuple[Path_, str]] = [(p, f"key {p[-1]!r} is written twice") for p in doc.duplicates]
    schema: Schema | None = None
    try:
        schema = Schema.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, doc.data))
    from compose.schema_checks import check_references  # it reads the models defined here

    problems.extend(check_references(doc.data))
    if problems:
        problems.sort(key=lambda item: doc.line_of(item[0]) or 0)
        seen: set[str] = set()
        lines: list[str] = []
        for path, message in problems:
            dotted = ".".join(str(p) for p in path) or "(top level)"
            line = f"{dotted} at {doc.where(path)}: {message}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
        head = f"{doc.source}: {len(lines)} problem{'s' if len(lines) > 1 else ''} in the schema"
        raise SchemaError(head + ":\n  " + "\n  ".join(lines), lines)
    assert schema is not None
    return schema


def _suggest(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found at `loc` inside Schema, for listing allowed keys."""
    current: Any = Schema
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
        while typing.get_origin(current) in (typing.Union, types.UnionType, typing.Annotated):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """The key path of a pydantic error location in `data`, without the tags pydantic adds there.

    A part that is a key (or index) of the data is kept even if it looks like a tag (a user's key
    `s[x` is one); other parts with `[` or ending in `-str` are pydantic's union or validator tags.
    """
    out: list[str | int] = []
    current: Any = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        if in_dict or (isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            current = current[part]
        elif isinstance(part, str) and ("[" in part or part.endswith("-str")):
            continue
        else:
            current = None
        out.append(part)
    return tuple(out)


def _pydantic_problems(exc: ValidationError, data: Any) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    for err in exc.errors():
        loc = _data_path(err["loc"], data)
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed = sorted(model.model_fields) if model else []
            key = str(loc[-1])
            out.append((loc, f"unknown key {key!r}.{_suggest(key, allowed)} Allowed keys: {allowed}."))
        elif kind == "missing":
            out.append((loc, "this required key is missing; add it"))
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            out.append((loc, f"got {err['input']!r}; allowed: {expected}"))
        elif kind == "string_pattern_mismatch":
            out.append((loc, f"name {err['input']!r} may hold only letters, digits, '_', '.' and '-' "
                             "and must not start with '.' or '-'"))
        else:
            out.append((loc, f"{err['msg']}; got {err['input']!r}"))
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML format, for editors (written to schemas/compose.schema.json)."""
    out = Schema.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["$id"] = "https://github.com/compose-ml/compose/schemas/compose.schema.json"
    return out
