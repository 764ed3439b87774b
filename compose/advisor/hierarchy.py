"""The advisor's hierarchy proposal: parent and child tags in one flat column become one tree.

A multiclass group C that the advisor made conditional on another multiclass group P (`when`) is
folded into P as a `type: hierarchy` group when each of C's labels occurs with one label of P only
(in at least `level` of its rows, 98% by default) and the children sit under two or more of P's
labels: then P's labels are the top level and each of C's labels sits under its parent. Children
under one parent label only stay a conditional group (`when: {P: [that label]}`). Several child
groups fold into one tree when no two of them put children under the same parent (two would give a
row two children).
"""

from __future__ import annotations

from compose.advisor.draft import GroupProposal


def propose_hierarchies(groups: list[GroupProposal], rows: list[list[str]], level: float) -> list[GroupProposal]:
    """`groups` with each parent group and the child groups that form a tree under it merged into one hierarchy."""
    by_name = {g.name: g for g in groups}
    children: dict[str, list[tuple[GroupProposal, dict[str, str]]]] = {}
    for g in groups:
        if g.type != "multiclass" or not g.when or len(g.when) != 1:
            continue
        ((gate, _),) = g.when.items()
        parent = by_name.get(gate)
        if parent is None or parent.type != "multiclass" or parent.when:
            continue
        parents = _parents(g, parent, rows, level)
        if parents is not None:
            children.setdefault(gate, []).append((g, parents))
    folded: set[str] = set()
    for gate, kids in children.items():
        used: set[str] = set()
        tree: dict[str, list[str]] = {label: [] for label in by_name[gate].labels}
        taken: list[GroupProposal] = []
        for child, parents in kids:
            if used & set(parents.values()):
                continue  # another child group has children under the same parent: not a tree
            used |= set(parents.values())
            for label in child.labels:
                tree[parents[label]].append(label)
            taken.append(child)
        if sum(1 for kids_of in tree.values() if kids_of) >= 2:
            _fold(by_name[gate], taken, tree)
            folded |= {c.name for c in taken}
    return [g for g in groups if g.name not in folded]


def _parents(child: GroupProposal, parent: GroupProposal, rows: list[list[str]], level: float) -> dict[str, str] | None:
    """Each of the child's labels -> the one parent label it occurs with (None when one has no such parent)."""
    out: dict[str, str] = {}
    for label in child.labels:
        mine = [r for r in rows if label in r]
        if not mine:
            return None
        counts = {p: sum(1 for r in mine if p in r) for p in parent.labels}
        best = max(counts, key=counts.__getitem__)
        if counts[best] < level * len(mine):
            return None
        out[label] = best
    return out


def _fold(parent: GroupProposal, children: list[GroupProposal], tree: dict[str, list[str]]) -> None:
    parent.type = "hierarchy"
    parent.tree = tree
    for c in children:
        parent.counts.update(c.counts)
        parent.labels.extend(c.labels)
    inner = [p for p, kids in tree.items() if kids]
    parent.rule += (f"; {sum(len(c.labels) for c in children)} labels of {', '.join(c.name for c in children)} each "
                    f"occur under one of its labels ({', '.join(inner)}) -> one hierarchy: a head per parent node")
