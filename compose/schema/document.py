"""YAML reading that keeps line numbers and reads `no`/`yes`/`on`/`off` as strings.

PyYAML follows YAML 1.1, where `no`, `yes`, `on` and `off` are booleans: a label named `no` would
silently become False. Here only `true` and `false` are booleans (as in YAML 1.2). Every mapping key
and sequence item remembers the line it was written on, so errors can point at the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

#: A schema is small; a document that expands to more values than this is refused.
MAX_NODES = 100_000


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose booleans are YAML 1.2's `true` and `false` only."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlDocument:
    """The parsed data of a YAML text, with the line (1-based) of every key path in it."""

    def __init__(self, data: Any, lines: dict[Path_, int], source: str) -> None:
        self.data = data
        self.lines = lines
        self.source = source
        self.duplicates: list[Path_] = []

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its closest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def where(self, path: Path_) -> str:
        line = self.line_of(path)
        return f"{self.source}:{line}" if line is not None else self.source


def _walk(
    loader: _Loader, node: yaml.Node, path: Path_, doc: YamlDocument, active: frozenset[int] = frozenset()
) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if len(doc.lines) > MAX_NODES:  # aliases of aliases can expand a short text exponentially
        raise yaml.constructor.ConstructorError(
            None, None, f"the document expands to more than {MAX_NODES:,} values (aliases of aliases?); "
            "write the values out", node.start_mark)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in active:
            raise yaml.constructor.ConstructorError(
                None, None, "an anchor is used inside itself (a recursive alias); write the value out", node.start_mark)
        active = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            child = (*path, key if isinstance(key, str) else str(key))
            if key in out:
                doc.duplicates.append(child)
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(loader, value_node, child, doc, active)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, (*path, i), doc, active) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, source: str = "<string>") -> YamlDocument:
    """Parse one YAML document; raise yaml.YAMLError on syntax errors."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(None, {}, source)
        if node is not None:
            doc.data = _walk(loader, node, (), doc)
        return doc
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> YamlDocument:
    p = Path(path)
    return parse_yaml(p.read_text(encoding="utf-8"), source=str(p))


def dump_yaml(data: Any) -> str:
    """YAML text that reads back to `data` with the loader above (strings like `no` quoted)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
