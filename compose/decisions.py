"""Decisions: how a group's scores become its label(s), vectorised over a batch.

The `decision` of a group names a `policy` and its parameters:

- multiclass: `argmax` (the default), `min_confidence` (abstain below it), `top_k` (the k best
  labels), `cumulative` (labels in order of confidence until their scores sum to `p`) and `zones`
  (accept at or above `accept`, send to review at or above `review`, reject below). `top_k` and
  `cumulative` may also abstain below `min_confidence`; `cumulative` may cap the set at `k`.
- binary: `threshold` (P(positive) >= threshold gives the positive label; default 0.5).
- multilabel: `threshold` with per-label `thresholds`, then at least `min_labels` (the best ones,
  even below their threshold) and at most `max_labels` (the best ones above their threshold).

A decision tuned by `compose tune` is stored apart from the models, as a version of its own, and
`apply_released_decisions` puts it in place of the schema's when a release pins it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from compose.errors import IntegrityError, SchemaError
from compose.schema import GroupSpec, Schema, schema_from_dict
from compose.store import ModelStore

DEFAULT_THRESHOLD = 0.5
_EPS = 1e-9

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


@dataclass(frozen=True)
class Decided:
    """The decision of one group for a batch.

    `chosen` is an index per row (-1 for no label) for multiclass and binary groups, and a 0/1
    matrix for multilabel groups. `confidence` is the score of the chosen label (NaN if none; for
    a row sent to review or rejected, the score of the best label). `abstained` marks rows where a
    label was withheld because its score was too low (`min_confidence`, or below `review` in zones).
    `selected` (multiclass top_k and cumulative only) is the 0/1 matrix of the whole chosen set;
    `chosen` stays its best label. `review` (zones only) marks rows sent to review.
    """

    chosen: np.ndarray
    confidence: np.ndarray
    abstained: np.ndarray
    selected: np.ndarray | None = None
    review: np.ndarray | None = None


def thresholds_of(spec: GroupSpec, labels: list[str]) -> np.ndarray:
    """The per-label thresholds of a multilabel group."""
    base = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
    return np.array([spec.decision.thresholds.get(label, base) for label in labels], dtype=np.float64)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """The rank of each score in its row, 0 for the highest (ties: the first label first)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(scores.shape[1])[None, :]
    return ranks


def _multilabel(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> np.ndarray:
    d = spec.decision
    above = scores >= thresholds_of(spec, labels)
    if d.max_labels is not None:
        above &= _ranks(np.where(above, scores, -np.inf)) < d.max_labels
    if d.min_labels:
        above |= _ranks(scores) < d.min_labels
    return above.astype(np.int8)


def _top_set(scores: np.ndarray, policy: str, k: int | None, p: float | None) -> np.ndarray:
    """The 0/1 matrix of the labels a top_k or cumulative policy takes (labels scoring 0 never)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=1)
    take = ordered > 0
    if k is not None:
        take &= np.arange(scores.shape[1])[None, :] < k
    if policy == "cumulative" and p is not None:
        before = np.cumsum(ordered, axis=1) - ordered  # the sum of the labels taken before this one
        take &= before < p - _EPS
    out = np.zeros(scores.shape, dtype=np.int8)
    np.put_along_axis(out, order, take.astype(np.int8), axis=1)
    return out


def decide(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> Decided:
    """Apply the group's decision policy to scores of shape (n_rows, n_labels)."""
    n = scores.shape[0]
    d = spec.decision
    if spec.type == "multilabel":
        return Decided(_multilabel(spec, labels, scores), np.full(n, np.nan), np.zeros(n, dtype=bool))
    if spec.type == "binary":
        threshold = d.threshold if d.threshold is not None else DEFAULT_THRESHOLD
        positive = scores[:, 1] >= threshold
        confidence = np.where(positive, scores[:, 1], scores[:, 0])
        return Decided(positive.astype(np.int64), confidence, np.zeros(n, dtype=bool))
    best = scores.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    confidence = scores[np.arange(n), best] if n else np.zeros(0)
    policy = d.policy_of("multiclass")
    if policy == "zones":
        accept = d.accept if d.accept is not None else 0.0
        review_at = d.review if d.review is not None else accept
        accepted = confidence >= accept
        review = ~accepted & (confidence >= review_at)
        return Decided(np.where(accepted, best, -1), confidence, ~accepted & ~review, review=review)
    abstained = np.zeros(n, dtype=bool)
    if d.min_confidence is not None and policy != "argmax":
        abstained = confidence < d.min_confidence
    chosen = np.where(abstained, -1, best)
    selected = None
    if policy in ("top_k", "cumulative"):
        selected = _top_set(scores, policy, d.k, d.p) * ~abstained[:, None]
    return Decided(chosen, confidence, abstained, selected=selected)


def raw_predictions(spec: GroupSpec, labels: list[str], scores: np.ndarray) -> np.ndarray:
    """Predictions without abstaining, for metrics: an index per row, or a 0/1 matrix (multilabel)."""
    if spec.type == "multilabel":
        return _multilabel(spec, labels, scores)
    if spec.type == "binary":
        threshold = spec.decision.threshold if spec.decision.threshold is not None else DEFAULT_THRESHOLD
        return (scores[:, 1] >= threshold).astype(np.int64)
    return np.asarray(scores.argmax(axis=1))


# --------------------------------------------------------------------------------------------------
# Explained outcomes


def explain(spec: GroupSpec, labels: list[str], scores: np.ndarray, decided: Decided, r: int) -> tuple[str, str | None]:
    """The outcome of row r (`labelled`, `abstained`, `review`, `rejected`, `below_threshold`) and,
    when no label was given, why in one sentence."""
    d = spec.decision
    if spec.type == "multilabel":
        if decided.chosen[r].any():
            return "labelled", None
        th = thresholds_of(spec, labels)
        j = int(np.argmax(scores[r] - th))
        return "below_threshold", (f"no label reached its threshold; the closest is {labels[j]!r} with "
                                   f"{scores[r, j]:.2f} < {th[j]:g}")
    if int(decided.chosen[r]) >= 0:
        return "labelled", None
    best = int(np.argmax(scores[r]))
    conf = float(scores[r, best])
    if decided.review is not None and decided.review[r]:
        return "review", (f"sent to review: confidence {conf:.2f} of {labels[best]!r} is below accept {d.accept:g} "
                          f"and at or above review {d.review:g}")
    if d.policy_of(spec.type) == "zones":
        return "rejected", f"rejected: confidence {conf:.2f} of {labels[best]!r} is below review {d.review:g}"
    return "abstained", f"confidence {conf:.2f} of {labels[best]!r} is below min_confidence {d.min_confidence:g}"


# --------------------------------------------------------------------------------------------------
# Schema checks (called by compose.schema on the raw YAML data, so every problem has its key path)


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


# --------------------------------------------------------------------------------------------------
# Released decision versions


def decision_version(release: dict[str, Any], group: str) -> int | None:
    """The version of the tuned decision that `release` applies to `group`, or None (the schema's own).

    A pinned decision applies only to the head version it was tuned for.
    """
    pin = release.get("decisions", {}).get(group)
    head = release.get("groups", {}).get(group)
    if pin is None or head is None or pin.get("for_group_version") != head.get("version"):
        return None
    return int(pin["version"])


def with_decisions(schema: Schema, decisions: dict[str, dict[str, Any]], source: str) -> Schema:
    """The schema with the decisions of some groups replaced, validated like a schema file."""
    data = schema.to_dict()
    for group, decision in decisions.items():
        data["groups"][group]["decision"] = decision
    return schema_from_dict(data, source=source)


def apply_released_decisions(schema: Schema, release: dict[str, Any], store: ModelStore) -> Schema:
    """The schema with each group's decision replaced by the tuned version the release pins, if any."""
    active = {g: v for g in release.get("decisions", {}) if g in schema.groups
              and (v := decision_version(release, g)) is not None}
    if not active:
        return schema
    decisions: dict[str, dict[str, Any]] = {}
    for group, version in active.items():
        decision = store.load_version("decisions", group, version, release["decisions"][group].get("sha256"))
        if not isinstance(decision, dict):
            raise IntegrityError(f"decision {group!r} v{version:04d} in {store.path} is not a mapping; tune the "
                                 f"group again: compose tune --group {group} ...")
        decisions[group] = decision
    try:
        return with_decisions(schema, decisions, f"{store.path}/releases/{release.get('release')}.json")
    except SchemaError as exc:
        raise IntegrityError(f"a tuned decision pinned by release {release.get('release')} does not fit the "
                             f"schema: {exc}. Tune the group again or roll back the release") from exc
