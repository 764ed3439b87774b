"""Training: per-group row selection, a stable holdout, parallel head fits, gating and a release.

One function, `fit_and_release`, serves every lifecycle command: `train` (every feature and head),
`train --only G` (new heads on the live features), `retrain --group G` and `retrain --feature F`
(gated against the live versions). It holds the store's lock from reading the live release to
writing the new one, so two trainers never interleave.

The holdout: a row is held out when a seeded hash of its input values falls in the lowest
`training.holdout` fraction (default 0.2). The hash ignores labels and row order, so a row is held
out every time it is seen, whatever file it comes in: a retrained head and the live head are then
compared on rows that neither was fitted on. Features are fitted on the non-holdout rows only.
Released heads are the ones fitted on the training rows (not refitted on all rows), so the
holdout metrics in meta.json describe exactly the artifact that serves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from compose.data.io import as_frame
from compose.data.targets import fingerprint, holdout_mask, parse_targets, prepare_inputs, row_hashes
from compose.errors import DataError, SchemaError, TrainingError
from compose.featurize.base import featurizer_of, hstack
from compose.heads.decide import raw_predictions
from compose.heads.head import Head, assemble_head, fit_estimator
from compose.metrics import gate_metric_name, group_metrics
from compose.plan import build_plan, feature_node
from compose.registry import Registry, resolve
from compose.schema.models import Schema
from compose.store.store import ModelStore
from compose.training.gate import gate_verdict, live_holdout, score_on, union
from compose.training.splits import GroupRows, select_rows

log = logging.getLogger("compose")


@dataclass
class GroupReport:
    """What happened to one group in a training run."""

    group: str
    version: int
    released: bool
    n_train: int
    n_holdout: int
    metrics: dict[str, Any]
    gate: dict[str, Any] | None = None


@dataclass
class TrainReport:
    """The outcome of a training run: new versions, the release written (if any), and warnings."""

    store: Path
    release: str | None
    features: dict[str, int] = field(default_factory=dict)
    groups: dict[str, GroupReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[str]:
        return [g for g, r in self.groups.items() if not r.released]


def _warn(report: TrainReport, message: str) -> None:
    report.warnings.append(message)
    log.warning(message)


def _jobs_for(schema: Schema, rows: GroupRows, x: Any, registry: Registry) -> list[tuple[Any, ...]]:
    spec = schema.groups[rows.group]
    # An unfitted template built here from the registry: workers clone it and resolve no names.
    name = registry.build_estimator(spec.model.estimator, dict(spec.model.params))
    params: dict[str, Any] = {}
    xt = x[rows.train]
    if spec.type == "multilabel":
        labels = schema.labels_of(rows.group)
        return [(name, params, xt, rows.y[rows.train, j], f"group {rows.group!r}, label {label!r}", True,
                 spec.calibration) for j, label in enumerate(labels)]
    return [(name, params, xt, rows.y[rows.train], f"group {rows.group!r}", False, spec.calibration)]


def _counts(schema: Schema, group: str, y: np.ndarray) -> dict[str, int]:
    labels = schema.labels_of(group)
    if schema.groups[group].type == "multilabel":
        return {label: int(y[:, j].sum()) for j, label in enumerate(labels)}
    return {label: int((y == i).sum()) for i, label in enumerate(labels)}


def _evaluate(schema: Schema, head: Head, x: Any, rows: GroupRows) -> dict[str, Any]:
    if len(rows.holdout) == 0:
        return {"n": 0}
    spec = schema.groups[head.group]
    scores = head.scores(x[rows.holdout])
    pred = raw_predictions(spec, head.labels, scores)
    return group_metrics(spec.type, rows.y[rows.holdout], pred, head.labels)


def _n_jobs(requested: int | None, jobs: list[tuple[Any, ...]]) -> int:
    if requested is not None:
        return requested
    # Worker start-up costs about a second: processes pay off only for many rows over several fits.
    rows = [j[2].shape[0] for j in jobs]
    return -1 if len(jobs) > 1 and sum(rows) >= 100_000 and sum(rows) / len(rows) >= 2_000 else 1


def fit_and_release(  # noqa: PLR0912, PLR0913, PLR0915 - the one place a run is orchestrated
    schema: Schema,
    data: Any,
    store: str | Path,
    *,
    groups: list[str] | None = None,
    refit: set[str] | None = None,
    gate: bool = False,
    force: bool = False,
    note: str = "train",
    n_jobs: int | None = None,
    lock_timeout: float = 600.0,
    registry: Registry | None = None,
) -> TrainReport:
    """Fit `groups` (default: every group with a column in the data) and release what passes.

    `refit` names the features to fit anew (None: every feature the groups read); the others are
    taken from the live release. With `gate`, each new head is released only if its holdout
    metric is not worse than the live head's on the same rows (or with `force`). `registry` builds
    the featurizers and estimators (default: `compose.registry.default_registry()`).
    """
    registry = resolve(registry)
    plan = build_plan(schema)
    df = as_frame(data)
    inputs = prepare_inputs(df, schema)
    wanted = list(groups) if groups is not None else list(schema.groups)
    unknown = [g for g in wanted if g not in schema.groups]
    if unknown:
        raise DataError(f"unknown group{'s' if len(unknown) > 1 else ''} {unknown}; the schema declares "
                        f"{list(schema.groups)}")
    gates = {gate for g in wanted for gate in (schema.groups[g].when or {})}
    targets = parse_targets(df, schema, [g for g in schema.groups if g in wanted or g in gates])
    model_store = ModelStore(Path(store) / schema.name)
    report = TrainReport(model_store.path, None)
    absent = [g for g in wanted if g not in targets]
    if groups is not None and absent:
        raise DataError(f"{df.attrs.get('source', 'the data')}: no column for group{'s' if len(absent) > 1 else ''} "
                        f"{absent}; add the column with its labels")
    for g in absent:
        _warn(report, f"group {g!r}: the data has no column {g!r}, so it is not trained from this file")
    trained = [g for g in plan.groups_in_order() if g in wanted and g in targets]
    if not trained:
        raise DataError(f"{df.attrs.get('source', 'the data')}: no group column found; expected one of "
                        f"{list(schema.groups)} (one column per group, named after it)")

    hashes = row_hashes(inputs, schema.training.seed)
    hold = holdout_mask(hashes, schema.training.holdout)
    selections: dict[str, GroupRows] = {}
    for g in list(trained):
        rows = select_rows(schema, g, targets, hold, hashes)
        if len(rows.train) == 0:
            _warn(report, f"group {g!r}: no labelled training rows in this file; not trained")
            trained.remove(g)
            continue
        if rows.excluded_by_when:
            log.info("group %r: %d labelled rows left out because their %s label is outside `when`",
                     g, rows.excluded_by_when, "/".join(schema.groups[g].when or {}))
        selections[g] = rows
    if not trained:
        raise DataError("no group has labelled rows in this file; fill in at least one group column")

    with model_store.lock(lock_timeout, on_wait=log.warning):
        live = _live_release(model_store)
        _refuse_stale_heads(schema, model_store, live, trained)
        references = {g: live_holdout(schema, model_store, live, g) for g in trained}
        for g, reference in references.items():
            if reference is not None:  # rows the live version was judged on are never trained on
                rows = selections[g]
                rows.train = rows.train[~np.isin(hashes[rows.train], reference["hashes"])]
                if len(rows.train) == 0:
                    raise DataError(f"group {g!r}: every labelled row of this file is in the live version's "
                                    "holdout, so none is left to train on; add rows that were not labelled before")
        needed = sorted({f for g in trained for f in schema.features_of(g)})
        to_fit = [f for f in needed if (refit is None or f in refit or f not in live.get("features", {}))]
        for f in to_fit:
            readers = [n for n in plan.dependents(feature_node(f)) if n.startswith("head:")]
            others = [r.split(":", 1)[1] for r in readers if r.split(":", 1)[1] not in trained]
            others = [g for g in others if g in live.get("groups", {})]
            if others and live:
                _warn(report, f"feature {f!r} is refitted, so the live heads {others} that read it cannot stay in "
                              "the release; retrain them too (compose retrain --feature " + f + ")")
        transformers: dict[str, Any] = {}
        versions: dict[str, int] = {}
        train_rows = np.flatnonzero(~hold)
        for f in needed:
            if f in to_fit:
                t0 = time.perf_counter()
                transformer = _fit_feature(schema, f, inputs.iloc[train_rows], registry)
                transformers[f] = transformer
                log.info("feature %-14s fitted on %d rows, %d columns (%.1fs)", f, len(train_rows),
                         featurizer_of(schema, f, registry).width(transformer), time.perf_counter() - t0)
            else:
                pin = live["features"][f]
                transformers[f] = model_store.load_version("features", f, pin["version"], pin.get("sha256"))
                versions[f] = pin["version"]
        blocks = {f: transformers[f].transform(inputs) for f in needed}

        jobs: list[tuple[Any, ...]] = []
        owners: list[str] = []
        xs: dict[str, Any] = {}
        for g in trained:
            xs[g] = hstack([blocks[f] for f in schema.features_of(g)])
            new = _jobs_for(schema, selections[g], xs[g], registry)
            jobs.extend(new)
            owners.extend([g] * len(new))
        workers = _n_jobs(n_jobs, jobs)
        log.info("fitting %d head%s (%d estimator fit%s) on %s worker%s", len(trained), "s" * (len(trained) > 1),
                 len(jobs), "s" * (len(jobs) > 1), "all" if workers == -1 else workers, "s" * (workers != 1))
        t0 = time.perf_counter()
        fitted = Parallel(n_jobs=workers, prefer="processes")(
            delayed(fit_estimator)(name, params, x, y, what, allow_constant=allow, calibration=calibration)
            for name, params, x, y, what, allow, calibration in jobs
        )
        fit_seconds = time.perf_counter() - t0
        heads: dict[str, Head] = {}
        for g in trained:
            ests = [e for e, o in zip(fitted, owners, strict=True) if o == g]
            heads[g] = assemble_head(g, schema.groups[g].type, schema.labels_of(g), schema.features_of(g), ests)

        # Score, gate and store. Feature versions are written first: heads record them as parents.
        for f in to_fit:
            meta = {"spec_hash": schema.feature_fingerprint(f), "spec": schema.features[f].model_dump(mode="json"),
                    "n_rows": len(train_rows), "data_fingerprint": fingerprint(hashes[train_rows]),
                    "width": featurizer_of(schema, f, registry).width(transformers[f]),
                    "plugin": registry.plugin("featurizers", schema.features[f].type).to_dict(),
                    "training": schema.training.model_dump()}
            versions[f], _ = model_store.write_version("features", f, transformers[f], meta)
            report.features[f] = versions[f]
        released: dict[str, bool] = {}
        for g in trained:
            rows = selections[g]
            spec = schema.groups[g]
            own = {"inputs": inputs.iloc[rows.holdout].reset_index(drop=True), "y": rows.y[rows.holdout],
                   "hashes": hashes[rows.holdout]}
            reference = references[g]
            holdout = own if reference is None else union(reference, own)
            if reference is None:
                metrics = _evaluate(schema, heads[g], xs[g], rows)
            else:
                metrics = score_on(schema, heads[g], [transformers[f] for f in schema.features_of(g)], holdout)
            verdict = None
            if gate and g in live.get("groups", {}):
                verdict = gate_verdict(schema, model_store, live, g, metrics, holdout, reference is not None)
                verdict["forced"] = bool(force and not verdict["passed"])
            ok = verdict is None or verdict["passed"] or force
            meta = {
                "spec_hash": schema.group_fingerprint(g), "spec": spec.model_dump(mode="json"),
                "type": spec.type, "labels": schema.labels_of(g),
                "parents": {f: versions[f] for f in schema.features_of(g)},
                "n_train": len(rows.train), "n_holdout": len(holdout["y"]),
                "data_fingerprint": fingerprint(hashes[rows.train], rows.y[rows.train]),
                "holdout_fingerprint": fingerprint(holdout["hashes"], holdout["y"]),
                "class_counts": _counts(schema, g, rows.y[rows.train]),
                "holdout_class_counts": _counts(schema, g, holdout["y"]),
                "metrics": metrics, "gate_metric": gate_metric_name(spec.type, spec.gate.metric),
                "gate": verdict, "excluded_by_when": rows.excluded_by_when,
                "training": {**schema.training.model_dump(), "rows": "hash(inputs) >= holdout"},
                "fit_seconds_all_heads": round(fit_seconds, 3), "note": note,
                "plugin": registry.plugin("estimators", spec.model.estimator).to_dict(),
            }
            version, _ = model_store.write_version("groups", g, heads[g], meta, extras={"holdout": holdout})
            released[g] = ok
            report.groups[g] = GroupReport(g, version, ok, len(rows.train), len(holdout["y"]), metrics, verdict)
            _log_group(schema, report.groups[g])

        # A refitted feature is released only with every head that reads it.
        for f in to_fit:
            readers = [g for g in trained if f in schema.features_of(g)]
            if any(not released[g] for g in readers):
                for g in readers:
                    if released[g]:
                        released[g] = False
                        report.groups[g].released = False
                _warn(report, f"feature {f!r} v{versions[f]:04d} is not released: a head that reads it was refused "
                              "by the gate, and the live heads need the live feature")
        body = _compose_release(schema, model_store, live, report, versions, released, note)
        if body is not None:
            report.release = model_store.write_release(body)
            log.info("release %s is live (%s)", report.release, note)
    return report


def _fit_feature(schema: Schema, name: str, rows: pd.DataFrame, registry: Registry) -> Any:
    """A featurizer fitted on the training rows; a failure names the feature, its inputs and the cause."""
    featurizer = featurizer_of(schema, name, registry)
    spec = schema.features[name]
    transformer = featurizer.build(spec, schema)
    try:
        transformer.fit(rows)
    except ValueError as exc:
        hint = f" {featurizer.fit_hint}" if featurizer.fit_hint else ""
        raise TrainingError(f"feature {name!r} ({spec.type} over {spec.inputs}) cannot be fitted on "
                            f"{len(rows)} training row{'s' * (len(rows) != 1)}: {exc}.{hint}") from exc
    return transformer


def _refuse_stale_heads(schema: Schema, store: ModelStore, live: dict[str, Any], trained: list[str]) -> None:
    """Refuse a run that would release live heads whose definition the schema has since changed."""
    stale = [g for g, pin in live.get("groups", {}).items()
             if g in schema.groups and g not in trained
             and store.meta("groups", g, pin["version"]).get("spec_hash") != schema.group_fingerprint(g)]
    if stale:
        raise SchemaError(f"the schema changes the definition (labels, features, model or when) of live "
                          f"group{'s' if len(stale) > 1 else ''} {stale}, which this run does not retrain; "
                          f"train {'them' if len(stale) > 1 else 'it'} too (--only {','.join([*trained, *stale])}) "
                          "or undo the change")


def _live_release(store: ModelStore) -> dict[str, Any]:
    if not store.release_numbers():
        return {}
    return store.release()


def _log_group(schema: Schema, r: GroupReport) -> None:
    metric = gate_metric_name(schema.groups[r.group].type, schema.groups[r.group].gate.metric)
    value = r.metrics.get(metric)
    shown = f"{metric} {value:.3f}" if isinstance(value, float) else "no holdout rows"
    line = f"group {r.group:<16} v{r.version:04d}: {r.n_train} training rows, {r.n_holdout} holdout rows, {shown}"
    if r.gate is not None and "live" in r.gate:
        line += f" (live v{r.gate['against']:04d}: {r.gate['live']:.3f})"
    log.info(line + ("" if r.released else "  NOT RELEASED"))


def _compose_release(schema: Schema, store: ModelStore, live: dict[str, Any], report: TrainReport,
                     versions: dict[str, int], released: dict[str, bool], note: str) -> dict[str, Any] | None:
    features: dict[str, Any] = {f: p for f, p in live.get("features", {}).items() if f in schema.features}
    groups: dict[str, Any] = {}
    for g, p in live.get("groups", {}).items():
        if g in schema.groups:
            groups[g] = p
        else:
            _warn(report, f"group {g!r} is no longer in the schema; it is dropped from the new release")
    for g, ok in released.items():
        if not ok:
            continue
        r = report.groups[g]
        meta = store.meta("groups", g, r.version)
        groups[g] = {"version": r.version, "sha256": meta["sha256"], "parents": meta["parents"]}
        for f, v in meta["parents"].items():
            features[f] = {"version": v, "sha256": store.meta("features", f, v)["sha256"]}
    for g, p in list(groups.items()):
        stale = [f for f, v in p.get("parents", {}).items() if features.get(f, {}).get("version") != v]
        if stale:
            del groups[g]
            _warn(report, f"group {g!r} is left out of the new release: it reads {stale}, which were refitted "
                          "without it; retrain it with data labelled for it")
    used = {f for p in groups.values() for f in p.get("parents", {})}
    features = {f: p for f, p in features.items() if f in used}
    # A tuned decision belongs to the head version it was tuned on: it follows that version only.
    decisions = {g: p for g, p in live.get("decisions", {}).items()
                 if g in groups and p.get("for_group_version") == groups[g]["version"]}
    for g in set(live.get("decisions", {})) - set(decisions):
        if g in groups:
            log.info("group %r: its tuned decision was tuned for another version; the schema's decision applies "
                     "until it is tuned again (compose tune --group %s)", g, g)
    if not any(released.values()) and not [g for g in live.get("groups", {}) if g not in schema.groups]:
        return None
    if not groups:
        return None
    body = {"note": note, "parent": live.get("release"), "schema_hash": schema.fingerprint(),
            "schema": schema.to_dict(), "features": features, "groups": groups}
    if decisions:
        body["decisions"] = decisions
    return body
