"""Decision policies: which parameters each policy of each group type takes, and their checks.

Called by the schema checks on the raw YAML data, so every problem has its key path.
"""

from __future__ import annotations

from typing import Any

#: Per group type, per policy: (required keys, optional keys).
POLICIES: dict[str, dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "multiclass": {
        "argmax": (frozenset(), frozenset()),
        "min_confidence": (frozenset({"min_confidence"}), frozenset()),
        "top_k": (frozenset({"k"}), frozenset({"min_confidence"})),
        "cumulative": (frozenset({"p"}), frozenset({"k", "min_confidence"})),
        "zones": (frozenset({"accept", "review"}), frozenset()),
    },
    "binary": {"threshold": (frozenset(), frozenset({"threshold"}))},
    "multilabel": {"threshold": (frozenset(), frozenset({"threshold", "thresholds", "min_labels", "max_labels"}))},
}
_EXAMPLES = {"min_confidence": "0.5", "k": "3", "p": "0.9", "accept": "0.8", "review": "0.5"}




def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def check_policy(kind: str, decision: dict[str, Any], labels: list[str] | None) -> list[tuple[tuple[str, ...], str]]:
    """Problems of a group's `decision` mapping: a policy of another group type, parameters of
    another policy, a missing parameter, or values that contradict each other."""
    table = POLICIES.get(kind)
    if table is None:
        return []
    problems: list[tuple[tuple[str, ...], str]] = []
    policy = decision.get("policy")
    if policy is None:
        policy = "min_confidence" if kind == "multiclass" and "min_confidence" in decision else next(iter(table))
    elif policy not in table:
        if isinstance(policy, str) and any(policy in t for t in POLICIES.values()):
            problems.append((("policy",), f"policy {policy!r} does not apply to a {kind} group; "
                                          f"allowed: {sorted(table)}"))
        return problems  # an unknown name is reported by the type check
    required, optional = table[policy]
    known = {key for req, opt in table.values() for key in req | opt}
    for key in decision:
        if key in known and key not in required | optional:
            owners = [p for p, (req, opt) in table.items() if key in req | opt]
            problems.append(((key,), f"{key!r} is not a parameter of policy {policy!r}; it belongs to {owners}. "
                                     f"Write `policy: {owners[0]}` or remove {key!r}"))
    for key in sorted(required - set(decision)):
        problems.append(((key,), f"policy {policy!r} needs {key!r}; add it, for example {key}: {_EXAMPLES[key]}"))
    accept, review = _number(decision.get("accept")), _number(decision.get("review"))
    if accept is not None and review is not None and review > accept:
        problems.append((("review",), f"review {review:g} is above accept {accept:g}; rows at or above accept "
                                      "are accepted, rows between review and accept are sent to review"))
    low, high = _number(decision.get("min_labels")), _number(decision.get("max_labels"))
    if low is not None and high is not None and low > high:
        problems.append((("min_labels",), f"min_labels {low:g} is more than max_labels {high:g}"))
    if labels is not None:
        for key in ("k", "min_labels"):
            value = _number(decision.get(key))
            if value is not None and value > len(labels):
                problems.append(((key,), f"{key} {value:g} is more than the {len(labels)} declared labels"))
    return problems


