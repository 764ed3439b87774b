"""Reference checks of a schema: what pydantic cannot see field by field.

They run on the raw YAML data, so that they work even when pydantic found problems too: a group
naming an undeclared feature, a feature reading an undeclared input or the wrong kind of input,
duplicate labels, decision keys of another group type, estimator parameters, `when` references and
cycles. Each problem is a (key path, message) pair; `compose.schema.models` adds the YAML line.
"""

from __future__ import annotations

from typing import Any

from compose._text import did_you_mean
from compose.errors import PluginError, RegistryError
from compose.registry import (
    AUTO,
    AUTO_CANDIDATES,
    SAFE_PREFIXES,
    Registry,
    check_dotted_path,
    estimator_params,
    parameter_problems,
    resolve,
)
from compose.schema.document import Path_
from compose.schema.hierarchy import tree_problems
from compose.schema.models import DecisionSpec, label_text
from compose.schema.policies import check_policy

_DECISION_KEYS: dict[str, set[str]] = {
    "multiclass": {"policy", "min_confidence", "k", "p", "accept", "review"},
    "binary": {"policy", "threshold"},
    "multilabel": {"policy", "threshold", "thresholds", "min_labels", "max_labels"},
    "hierarchy": {"min_confidence"},
}
_GATE_METRICS: dict[str, set[str]] = {
    "multiclass": {"accuracy", "balanced_accuracy", "macro_f1"},
    "binary": {"accuracy", "balanced_accuracy", "macro_f1"},
    "multilabel": {"micro_f1", "macro_f1"},
    "hierarchy": {"accuracy", "balanced_accuracy", "macro_f1"},  # each node's head is gated on its own
}


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def check_references(data: dict[str, Any], registry: Registry | None = None) -> list[tuple[Path_, str]]:
    """Every reference problem of raw schema data; the registry says which input kinds, feature
    types, feature params and estimators exist (default: `compose.registry.default_registry()`)."""
    registry = resolve(registry)
    problems: list[tuple[Path_, str]] = []
    inputs = _d(data.get("inputs"))
    features = _d(data.get("features"))
    groups = _d(data.get("groups"))
    input_names = list(inputs)
    kinds = registry.input_kinds()
    for iname, ispec in inputs.items():
        itype = _d(ispec).get("type")
        if isinstance(itype, str) and itype and itype not in kinds:
            problems.append((("inputs", iname, "type"), f"unknown input type {itype!r}.{did_you_mean(itype, kinds)} "
                                                         f"Allowed: {kinds}."))
    for fname, fspec in features.items():
        problems.extend(_check_feature(str(fname), _d(fspec), inputs, input_names, registry))
    tags = data.get("tags")
    if isinstance(tags, str) and (tags in inputs or tags in groups):
        problems.append((("tags",), f"the tag column {tags!r} has the name of an input or a group; "
                                    "name the flat tag column apart from them"))
    for gname in groups:
        if gname in inputs:
            problems.append(
                (("groups", gname), f"group {gname!r} has the name of an input; a data file has one column "
                                    "per input and per group, so rename one of them")
            )
    for gname, gspec in groups.items():
        problems.extend(_check_group(str(gname), _d(gspec), list(features), groups, registry,
                                     tuple(_names(data.get("trusted_modules")))))
    problems.extend(_check_cold_start(features, groups))
    problems.extend(_check_when_cycles(groups))
    return problems


def _check_descriptions(base: Path_, gtype: str | None, gspec: dict[str, Any],
                        labels: list[Any] | None) -> list[tuple[Path_, str]]:
    """`descriptions:` name declared labels; it and `cold_start:` apply to multiclass and binary groups."""
    problems: list[tuple[Path_, str]] = []
    if labels is not None:
        for key in _d(gspec.get("descriptions")):
            if label_text(key) not in labels:
                problems.append(((*base, "descriptions", key),
                                 f"unknown label {key!r}.{did_you_mean(str(key), [str(x) for x in labels])} "
                                 f"Declared: {labels}."))
    if gtype == "multilabel" and ("cold_start" in gspec or "descriptions" in gspec):
        key = "cold_start" if "cold_start" in gspec else "descriptions"
        problems.append(((*base, key), f"{key!r} applies to multiclass and binary groups only (the zero-shot "
                                        "cold start); remove it from this multilabel group"))
    return problems


def _check_cold_start(features: dict[str, Any], groups: dict[str, Any]) -> list[tuple[Path_, str]]:
    """A group that sets `cold_start` must read a `type: embedding` feature: the zero-shot head reads it."""
    problems: list[tuple[Path_, str]] = []
    for gname, gspec in groups.items():
        spec = _d(gspec)
        if "cold_start" not in spec or _d(spec.get("cold_start")).get("min_per_label") == 0:
            continue
        names = _names(spec["features"]) if isinstance(spec.get("features"), list) else list(features)
        if not any(_d(features.get(f)).get("type") == "embedding" for f in names):
            problems.append((("groups", gname, "cold_start"),
                             f"group {gname!r} sets cold_start but reads no `type: embedding` feature, which the "
                             "zero-shot head needs; add one to its features (or set cold_start: {min_per_label: 0})"))
    return problems


def _check_feature(
    fname: str, fspec: dict[str, Any], inputs: dict[str, Any], input_names: list[str], registry: Registry
) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    ftype = fspec.get("type")
    info = None
    if isinstance(ftype, str) and ftype:  # pydantic reports a missing or non-text type
        try:
            info = registry.featurizer_info(ftype)
        except (RegistryError, PluginError) as exc:
            problems.append((("features", fname, "type"), str(exc)))
    for i, col in enumerate(_names(fspec.get("inputs"))):
        where: Path_ = ("features", fname, "inputs", i)
        if col not in inputs:
            problems.append((where, f"unknown input {col!r}.{did_you_mean(col, input_names)} Declared: {input_names}."))
            continue
        itype = _d(inputs[col]).get("type")
        if info is not None and isinstance(itype, str) and itype not in info.accepts:
            readers = [n for n in registry.names("featurizers") if _accepts(registry, n, itype)]
            fix = f"read it with a {' or '.join(repr(r) for r in readers)} feature" if readers else \
                "no registered featurizer reads it"
            problems.append((where, f"a {ftype} feature reads {_kinds(info.accepts, registry)} inputs, but input "
                                    f"{col!r} is {itype}; {fix}"))
    allowed = info.param_names() if info is not None else None
    if allowed is not None:
        allowed = sorted(allowed)
        for key in _d(fspec.get("params")):
            if key not in allowed:
                problems.append(
                    (("features", fname, "params", key),
                     f"unknown {ftype} parameter {key!r}.{did_you_mean(str(key), allowed)} Allowed: {allowed}.")
                )
    # A featurizer may also check its params' values (a required key, say): `check_params(params)`.
    check = getattr(info, "check_params", None)
    if callable(check):
        problems.extend((("features", fname, "params"), str(m)) for m in check(_d(fspec.get("params"))))
    if ftype == "tfidf" and allowed is not None:  # the built-in text featurizer: TfidfVectorizer's own constraints
        from sklearn.feature_extraction.text import TfidfVectorizer

        known = {k: v for k, v in _d(fspec.get("params")).items() if k in allowed}
        for key, message in parameter_problems(TfidfVectorizer, known).items():
            problems.append((("features", fname, "params", key), f"{message.rstrip('.')}; fix the value"))
    return problems


def _accepts(registry: Registry, name: str, kind: str) -> bool:
    try:
        return kind in registry.featurizer_info(name).accepts
    except (RegistryError, PluginError):  # a plugin that is not installed is not proposed
        return False


def _kinds(accepts: frozenset[str], registry: Registry) -> str:
    order = registry.input_kinds()
    named = sorted(accepts, key=lambda k: (order.index(k) if k in order else len(order), k))
    return " and ".join(named) if named else "no"


def _check_group(
    gname: str, gspec: dict[str, Any], feature_names: list[str], groups: dict[str, Any], registry: Registry,
    trusted: tuple[str, ...] = (),
) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    gtype = gspec.get("type") if isinstance(gspec.get("type"), str) else None  # pydantic reports a bad type
    base: Path_ = ("groups", gname)
    for i, f in enumerate(_names(gspec.get("features"))):
        if f not in feature_names:
            problems.append(((*base, "features", i),
                             f"unknown feature {f!r}.{did_you_mean(f, feature_names)} Declared: {feature_names}."))
    if "features" in gspec and isinstance(gspec["features"], list) and not gspec["features"]:
        problems.append(((*base, "features"), "a group must read at least one feature; name one or "
                                               "leave the key out to read all features"))
    problems.extend(_check_tree(base, gtype, gspec.get("labels")))
    labels = [label_text(v) for v in gspec["labels"]] \
        if isinstance(gspec.get("labels"), list) and gtype != "hierarchy" else None
    problems.extend(_check_labels(base, gtype, gspec, labels))
    problems.extend(_check_decision(base, gtype, _d(gspec.get("decision")), labels))
    problems.extend(_check_descriptions(base, gtype, gspec, labels))
    metric = _d(gspec.get("gate")).get("metric")
    if isinstance(metric, str) and gtype in _GATE_METRICS and metric not in _GATE_METRICS[str(gtype)]:
        problems.append(((*base, "gate", "metric"), f"metric {metric!r} does not apply to a {gtype} group; "
                                                     f"allowed: {sorted(_GATE_METRICS[str(gtype)])}"))
    problems.extend(_check_model(base, gspec.get("model"), registry, trusted))
    problems.extend(_check_when(gname, gspec.get("when"), groups))
    return problems


def _check_labels(base: Path_, gtype: str | None, gspec: dict[str, Any],
                  labels: list[Any] | None) -> list[tuple[Path_, str]]:
    """A group's flat labels: unique, not empty, no '|' in a multilabel one, as many as its type needs."""
    problems: list[tuple[Path_, str]] = []
    if labels is not None:
        seen: set[Any] = set()
        for i, label in enumerate(labels):
            if not isinstance(label, str):
                continue  # pydantic reports a label that is not text
            if label in seen:
                problems.append(((*base, "labels", i), f"label {label!r} is declared twice; labels must be unique"))
            seen.add(label)
            if isinstance(label, str) and not label.strip():
                problems.append(((*base, "labels", i), "a label must not be empty"))
            if gtype == "multilabel" and isinstance(label, str) and "|" in label:
                problems.append(((*base, "labels", i), f"label {label!r} contains '|', which separates the "
                                                         "labels of a multilabel cell; rename it"))
        minimum = {"multiclass": 2, "binary": 2, "multilabel": 1}.get(str(gtype), 1)
        if len(labels) < minimum:
            problems.append(((*base, "labels"), f"a {gtype} group needs at least {minimum} labels; got {labels}"))
        if gtype == "binary" and len(labels) > 2:
            problems.append(((*base, "labels"), f"a binary group has exactly two labels [negative, positive]; "
                                                 f"got {len(labels)}. Use type: multiclass for more"))
    elif gtype in ("multiclass", "multilabel") and "labels" not in gspec:
        problems.append(((*base, "labels"), f"a {gtype} group must declare its labels"))
    return problems


def _check_decision(base: Path_, gtype: str | None, decision: dict[str, Any],
                    labels: list[Any] | None) -> list[tuple[Path_, str]]:
    """A group's `decision`: keys that apply to its type, a sound policy, thresholds of declared labels."""
    problems: list[tuple[Path_, str]] = []
    allowed = _DECISION_KEYS.get(str(gtype), set())
    for key in decision:
        if gtype in _DECISION_KEYS and key in DecisionSpec.model_fields and key not in allowed:
            problems.append(((*base, "decision", key),
                             f"{key!r} does not apply to a {gtype} group; allowed here: {sorted(allowed)}"))
    if gtype in _DECISION_KEYS:
        problems.extend(((*base, "decision", *where), message)
                        for where, message in check_policy(str(gtype), decision, labels))
    thresholds = _d(decision.get("thresholds"))
    if labels is not None:
        for key in thresholds:
            if label_text(key) not in labels:
                problems.append(((*base, "decision", "thresholds", key),
                                 f"unknown label {key!r}.{did_you_mean(str(key), [str(x) for x in labels])} "
                                 f"Declared: {labels}."))
    return problems


def _check_tree(base: Path_, gtype: str | None, labels: Any) -> list[tuple[Path_, str]]:
    """A hierarchy's label tree (`compose.schema.hierarchy`); a nested mapping of labels in another group type."""
    if gtype == "hierarchy":
        return tree_problems(str(base[1]), labels)
    if isinstance(labels, dict) and gtype is not None:
        return [((*base, "labels"), f"a {gtype} group's labels are a list; a nested mapping of labels "
                                    "needs `type: hierarchy`")]
    return []


def _check_model(base: Path_, model: Any, registry: Registry,
                 trusted: tuple[str, ...]) -> list[tuple[Path_, str]]:
    """The estimator's name (a dotted path checked against the trusted prefixes first) and its params.

    Only registered estimators and scikit-learn classes are imported here; a path under a schema's
    `trusted_modules` is imported, and its parameters checked, when a head is trained, never while
    validating.
    """
    model = {"estimator": model} if isinstance(model, str) else _d(model)
    name = model.get("estimator", "logistic_regression")
    if not isinstance(name, str):
        return []
    if name == AUTO:
        problems: list[tuple[Path_, str]] = []
        if model.get("params"):
            problems.append(((*base, "model", "params"), "`estimator: auto` searches its own parameters; remove "
                                                         "`params`, or name an estimator to set them"))
        for i, c in enumerate(_names(model.get("candidates"))):
            if c not in AUTO_CANDIDATES:
                problems.append(((*base, "model", "candidates", i),
                                 f"unknown candidate {c!r}.{did_you_mean(c, list(AUTO_CANDIDATES))} "
                                 f"Allowed: {list(AUTO_CANDIDATES)}."))
        return problems
    problems = [((*base, "model", key), f"{key!r} applies to `estimator: auto` only; remove it or set "
                                         "`estimator: auto`")
                for key in ("budget_s", "candidates", "max_trials") if key in model]
    try:
        if registry.is_dotted(name):
            check_dotted_path(name, trusted)
            if not name.startswith(SAFE_PREFIXES):
                return []
        cls, _ = registry.estimator(name, trusted=trusted)
    except (RegistryError, PluginError) as exc:
        return [((*base, "model", "estimator"), str(exc))]
    allowed = estimator_params(cls)
    params = _d(model.get("params"))
    problems += [
        ((*base, "model", "params", key),
         f"{cls.__name__} has no parameter {key!r}.{did_you_mean(str(key), allowed)} Allowed: {allowed}.")
        for key in params
        if key not in allowed
    ]
    for key, message in parameter_problems(cls, {k: v for k, v in params.items() if k in allowed}).items():
        problems.append(((*base, "model", "params", key), f"{message.rstrip('.')}; fix the value"))
    return problems


def _check_when(gname: str, when: Any, groups: dict[str, Any]) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    base: Path_ = ("groups", gname, "when")
    for gate, wanted in _d(when).items():
        if gate == gname:
            problems.append(((*base, gate), "a group cannot be conditional on itself"))
            continue
        if gate not in groups:
            problems.append(((*base, gate), f"unknown group {gate!r}.{did_you_mean(str(gate), list(groups))} "
                                            f"Declared: {list(groups)}."))
            continue
        gspec = _d(groups[gate])
        if gspec.get("type") == "multilabel":
            problems.append(((*base, gate), f"group {gate!r} is multilabel; a `when` condition needs a "
                                            "multiclass or binary group, which gives one label per row"))
            continue
        gate_labels = (
            [label_text(v) for v in gspec["labels"]] if isinstance(gspec.get("labels"), list)
            else [f"not_{gate}", gate]
        )
        if gspec.get("type") == "hierarchy":  # the root's head decides: its labels are the top-level nodes
            gate_labels = [str(label_text(k)) for k in _d(gspec.get("labels"))] if isinstance(
                gspec.get("labels"), dict) else [str(label_text(v)) for v in _names(gspec.get("labels"))]
        if isinstance(wanted, list):
            if not wanted:
                problems.append(((*base, gate), "list at least one label of the gating group"))
            for i, label in enumerate(wanted):
                if label_text(label) not in gate_labels:
                    problems.append(((*base, gate, i),
                                     f"group {gate!r} has no label {label!r}."
                                     f"{did_you_mean(str(label_text(label)), gate_labels)} Declared: {gate_labels}."))
    return problems


def _check_when_cycles(groups: dict[str, Any]) -> list[tuple[Path_, str]]:
    import networkx as nx

    graph = nx.DiGraph()
    for gname, gspec in groups.items():
        for gate in _d(_d(gspec).get("when")):
            if gate in groups and gate != gname:
                graph.add_edge(gate, gname)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return []
    names = [a for a, _ in cycle] + [cycle[0][0]]
    return [(("groups", names[1], "when"), "the `when` conditions form a cycle: " + " -> ".join(names)
             + "; a group cannot depend on itself through others")]
