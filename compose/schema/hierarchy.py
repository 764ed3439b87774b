"""Hierarchy groups: a label tree, its problems, and its expansion into one head per parent node.

A `type: hierarchy` group declares its `labels` as a nested mapping (any depth; a leaf is a
string, or a key whose value is empty)::

    labels:
      Married: [Married-civ-spouse, Married-spouse-absent]
      Not married: [Never-married, Divorced, {Separated: [Legally, Informally]}]

The schema expands such a group into ordinary multiclass heads, one per parent node with two or
more children: the root's head keeps the group's name (its labels are the top-level nodes), an
inner node's head is named `<group>/<node>` (its labels are that node's children). A node with a
single child has no head: the child follows it with probability 1. Label names are unique in the
tree, so a node's name says where it is and a cell may name any node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The separator between a hierarchy group's name and a node in the name of the node's head.
SEP = "/"
#: The decision keys a hierarchy group accepts (the path stops below `min_confidence`).
DECISION_KEYS = frozenset({"min_confidence"})

Problem = tuple[tuple[str | int, ...], str]


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


@dataclass(frozen=True)
class Tree:
    """A hierarchy group's label tree. The root is `""`; `nodes` lists every other node in preorder."""

    group: str
    children: Mapping[str, tuple[str, ...]]
    parent: Mapping[str, str]
    nodes: tuple[str, ...]
    depth: Mapping[str, int] = field(repr=False)

    @property
    def max_depth(self) -> int:
        return max(self.depth.values(), default=0)

    def path(self, node: str) -> list[str]:
        """The nodes from the top level down to `node` (root excluded)."""
        out: list[str] = []
        while node:
            out.append(node)
            node = self.parent[node]
        return out[::-1]

    def head_name(self, node: str) -> str:
        """The name of the head that chooses among `node`'s children (`""`: the root's, the group's name)."""
        return self.group if not node else f"{self.group}{SEP}{node}"

    def parents(self) -> list[str]:
        """The nodes with a head (two or more children), root first, in preorder."""
        return [n for n in ("", *self.nodes) if len(self.children.get(n, ())) >= 2]

    def heads(self) -> dict[str, str]:
        """Head name -> the node it chooses under."""
        return {self.head_name(n): n for n in self.parents()}

    def is_leaf(self, node: str) -> bool:
        return not self.children.get(node)


def _walk(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str | None, Any, tuple[str | int, ...]]]:
    """(name, subtree, key path) of each node directly under `value` (a mapping or a list)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield _text(k), v, (*where, k)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                for k, v in item.items():
                    yield _text(k), v, (*where, i, k)
            else:
                yield _text(item), None, (*where, i)


def tree_problems(group: str, labels: Any) -> list[Problem]:
    """Every problem of a hierarchy's raw `labels`: not a tree, an empty or repeated name, a lone root child."""
    base: tuple[str | int, ...] = ("groups", group, "labels")
    if not isinstance(labels, (Mapping, list)) or not labels:
        return [(base, "a hierarchy group's labels are a nested mapping (for example `{Married: [Civil, "
                       "Absent], Single: [Never, Divorced]}`); write at least two top-level labels")]
    problems: list[Problem] = []
    seen: dict[str, str] = {}

    def visit(value: Any, where: tuple[str | int, ...]) -> int:
        count = 0
        for name, sub, at in _walk(value, where):
            count += 1
            if not isinstance(name, str) or not name.strip():
                problems.append((at, "a label must be non-empty text"))
                continue
            if SEP in name:
                problems.append((at, f"label {name!r} contains {SEP!r}, which separates a hierarchy from its "
                                     "node in head names; rename it"))
            if name in seen:
                problems.append((at, f"label {name!r} appears twice in the tree (first at {seen[name]}); "
                                     "labels of a hierarchy must be unique, so rename one of them"))
            else:
                seen[name] = ".".join(str(p) for p in at)
            if sub is not None and not isinstance(sub, (Mapping, list)):
                problems.append((at, f"the children of {name!r} must be a list or a mapping; got {sub!r}"))
            elif sub:
                visit(sub, at)
        return count

    if visit(labels, base) < 2 and not problems:
        problems.append((base, "the top level of a hierarchy needs at least two labels"))
    return problems


def parse_tree(group: str, labels: Any) -> Tree:
    """The tree of valid raw labels (check them with `tree_problems` first)."""
    children: dict[str, tuple[str, ...]] = {}
    parent: dict[str, str] = {}
    depth: dict[str, int] = {}
    order: list[str] = []

    def visit(value: Any, node: str, d: int) -> None:
        kids: list[str] = []
        for name, sub, _ in _walk(value, ()):
            assert isinstance(name, str)
            kids.append(name)
            parent[name] = node
            depth[name] = d
            order.append(name)
            if sub:
                visit(sub, name, d + 1)
        children[node] = tuple(kids)

    visit(labels, "", 1)
    return Tree(group, children, parent, tuple(order), depth)


def head_specs(tree: Tree, spec: Any) -> dict[str, dict[str, Any]]:
    """The raw multiclass group specs of a hierarchy's heads, root first.

    Each reads the hierarchy's features, model, gate, calibration and `when`; its decision is
    argmax, since the hierarchy's `min_confidence` applies to the path, not to one node.
    """
    common = spec.model_dump(mode="json", exclude_defaults=True, exclude={"type", "labels", "decision"})
    return {name: {**common, "type": "multiclass", "labels": list(tree.children[node])}
            for name, node in tree.heads().items()}


def head_hint(trees: Mapping[str, Tree], names: list[str]) -> str:
    """A sentence for unknown group names that look like a hierarchy's node (`emoji/Flags`): which
    nodes have a head. Empty when none of `names` is under a hierarchy."""
    for name in names:
        group, _, node = name.partition(SEP)
        tree = trees.get(group)
        if tree is None:
            continue
        heads = list(tree.heads())
        if node in tree.parent:
            why = "is a leaf" if tree.is_leaf(node) else "has a single child"
            return f" {node!r} {why} of hierarchy {group!r}, so it has no head of its own; its heads are {heads}."
        return f" Hierarchy {group!r} has no node {node!r}; its heads are {heads}."
    return ""
