"""Loading a schema: from a file, text or a dict, every problem reported at once with its line."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from compose._text import did_you_mean
from compose.errors import SchemaError
from compose.registry import Registry
from compose.schema.checks import check_references
from compose.schema.document import Path_, YamlDocument, parse_yaml
from compose.schema.models import Schema


def load_schema(path: str | Path, *, registry: Registry | None = None) -> Schema:
    """Read and validate a schema file; raise SchemaError listing every problem with its line.

    `registry` says which featurizers, input kinds and estimators exist (default: the built-ins
    and installed plugins, `compose.registry.default_registry()`).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"schema file {str(p)!r} does not exist; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {str(p)!r}: {exc}") from exc
    return parse_schema(text, source=str(p), registry=registry)


def parse_schema(text: str, source: str = "<string>", *, registry: Registry | None = None) -> Schema:
    """Validate schema text; raise SchemaError listing every problem with its line."""
    try:
        doc = parse_yaml(text, source)
    except RecursionError:
        raise SchemaError(f"{source}: the YAML is nested too deeply to read (thousands of brackets or levels); a "
                          "schema is a few levels deep: fix the brackets") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SchemaError(f"{where}: invalid YAML: {problem}; fix the syntax at that line") from exc
    try:
        return schema_from_document(doc, registry=registry)
    except RecursionError:
        raise SchemaError(f"{source}: the schema is nested too deeply to check; a schema is a few levels deep: "
                          "fix the brackets") from None


def schema_from_dict(data: dict[str, Any], source: str = "<dict>", *, registry: Registry | None = None) -> Schema:
    """Validate an already-parsed schema (for example one stored in a release)."""
    return schema_from_document(YamlDocument(data, {}, source), registry=registry)


def schema_from_document(doc: YamlDocument, *, registry: Registry | None = None) -> Schema:
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
    problems.extend(check_references(doc.data, registry))
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
            out.append((loc, f"unknown key {key!r}.{did_you_mean(key, allowed)} Allowed keys: {allowed}."))
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


def json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of the YAML format, for editors (written to schemas/compose.schema.json).

    Input and feature types list the registry's names as `examples` (completions in an editor), not
    as an `enum`: a plugin's names are valid too, and `compose validate` is what checks them. The
    default lists the built-ins only, so the committed file does not depend on what is installed.
    """
    reg = registry if registry is not None else Registry(entry_points=False)
    out = Schema.model_json_schema()
    out["$defs"]["InputSpec"]["properties"]["type"]["examples"] = reg.input_kinds()
    out["$defs"]["FeatureSpec"]["properties"]["type"]["examples"] = reg.names("featurizers")
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["$id"] = "https://github.com/compose-ml/compose/schemas/compose.schema.json"
    return out
