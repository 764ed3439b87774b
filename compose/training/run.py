"""Training: per-group row selection, a stable holdout, parallel head fits, gating and a release.

One function, `fit_and_release`, serves every lifecycle command: `train` (every feature and head),
`train --only G` (new heads on the live features), `retrain --group G` and `retrain --feature F`
(gated against the live versions). It runs named steps: select the rows of each group, then
under the store's lock (held from reading the live release to writing the new one, so two
trainers never interleave) read the live release, fit the features, fit the heads, gate and
write the new versions, and compose the release.

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

from compose.data.io import as_frame
from compose.data.targets import (
    GroupTargets,
    fingerprint,
    holdout_mask,
    parse_targets,
    prepare_inputs,
    split_hashes,
)
from compose.errors import DataError, UsageError
from compose.featurize.base import featurizer_of, hstack
from compose.heads.auto import AUTO, SearchResult, search
from compose.heads.head import Head, assemble_head
from compose.heads.zero_shot import answers_zero_shot, label_counts, zero_shot_feature, zero_shot_head
from compose.metrics import gate_metric_name
from compose.plan import Plan, build_plan
from compose.registry import Registry, resolve
from compose.schema.hierarchy import head_hint
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import FeaturePin, GateVerdict, GroupPin, Holdout, Release, ReleaseBody, kept_decisions
from compose.store.remote import RemotePath, StorePath, store_location
from compose.store.sample_records import SampleSet
from compose.store.samples import SampleStore
from compose.store.store import ModelStore
from compose.training.executor import AutoExecutor, FitExecutor, FitJob
from compose.training.fitting import counts_of, evaluate_head, fit_feature, jobs_for
from compose.training.gate import gate_verdict, live_holdout, score_on, union
from compose.training.splits import GroupRows, select_rows
from compose.training.stored import Incoming, fitted_rows, groups_to_train, read_incoming, refuse_stale_heads
from compose.training.warm import warm_jobs

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
    gate: GateVerdict | None = None
    search: dict[str, Any] | None = None  # `model: auto`: the search record (as in meta.json)
    source: str = "model"  # `zero-shot`: the version reads its label texts (compose.heads.zero_shot)


@dataclass
class TrainReport:
    """The outcome of a training run: new versions, the release written (if any), and warnings."""

    store: StorePath
    release: str | None
    features: dict[str, int] = field(default_factory=dict)
    groups: dict[str, GroupReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what happened to the groups this run did not train

    @property
    def refused(self) -> list[str]:
        return [g for g, r in self.groups.items() if not r.released]


def _warn(report: TrainReport, message: str) -> None:
    report.warnings.append(message)
    log.warning(message)


@dataclass
class TrainingRun:
    """The state of one training run, filled in step by step by the steps of `fit_and_release`
    (`select_training_rows` makes one; each later step reads what the earlier ones left)."""

    schema: Schema
    plan: Plan
    store: ModelStore
    inputs: pd.DataFrame
    hashes: np.ndarray
    hold: np.ndarray
    report: TrainReport
    trained: list[str]
    selections: dict[str, GroupRows]
    registry: Registry
    live: Release | None = None
    references: dict[str, Holdout | None] = field(default_factory=dict)
    to_fit: list[str] = field(default_factory=list)
    transformers: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, Any] = field(default_factory=dict)  # every row's features, where fitting gave them
    versions: dict[str, int] = field(default_factory=dict)
    xs: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, Head] = field(default_factory=dict)
    artifact_format: str | None = None  # None: the live release's format
    fit_seconds: float = 0.0
    released: dict[str, bool] = field(default_factory=dict)
    searches: dict[str, SearchResult] = field(default_factory=dict)  # `model: auto` groups
    samples: SampleStore | None = None  # the sample store the run reads (None: trained from the file alone)
    sample_set: SampleSet | None = None
    accept_new_labels: bool = False
    zero_shot: set[str] = field(default_factory=set)  # groups answering from their label texts this run
    warm_start: bool = False  # start each head from its live version's coefficients where sound
    warm: dict[str, int | None] = field(default_factory=dict)  # group -> the live version its fits started from
    loaded: dict[tuple[str, str, int], Any] = field(default_factory=dict)  # versions loaded by this run
    holdout_x: dict[str, Any] = field(default_factory=dict)  # group -> its gate rows' features

    def load(self, kind: str, name: str, version: int, sha256: str | None = None, meta: str | None = None) -> Any:
        """A stored version, loaded (and checked) once per run: versions never change once written."""
        key = (kind, name, version)
        if key not in self.loaded:
            self.loaded[key] = self.store.load_version(kind, name, version, sha256, meta)
        return self.loaded[key]

    @property
    def train_rows(self) -> np.ndarray:
        """The rows features are fitted on: every row outside the hash holdout."""
        return np.flatnonzero(~self.hold)

    def warn(self, message: str) -> None:
        _warn(self.report, message)


def fit_and_release(  # noqa: PLR0913 - the lifecycle commands' options, keyword-only
    schema: Schema,
    data: Any,
    store: str | Path | RemotePath,
    *,
    groups: list[str] | None = None,
    refit: set[str] | None = None,
    gate: bool = False,
    force: bool = False,
    note: str = "train",
    n_jobs: int | None = None,
    lock_timeout: float = 600.0,
    registry: Registry | None = None,
    budget_s: float | None = None,
    accept_new_labels: bool = False,
    samples: bool = True,
    artifact_format: str | None = None,
    executor: FitExecutor | None = None,
    warm_start: bool = False,
) -> TrainReport:
    """Fit `groups` and release what passes.

    With `samples` (the default) the rows of `data` are first added to the model's sample store
    (`data` may be None: the store alone), and each group is trained on ALL its stored samples of
    the train split; `groups` None trains the groups `data` labels (a live group it does not label
    keeps its live version, unless it reads a refitted feature: then it is retrained from its
    stored samples). Without `samples`, `data` alone is read, as in store format 1.

    `refit` names the features to fit anew (None: every feature the groups read); the others are
    taken from the live release. With `gate`, each new head of a live group is released only if
    its metric is not worse than the live head's on the same rows, none of which either was
    fitted on (or with `force`); a changed label set is released only with `accept_new_labels`.
    `registry` builds the featurizers and estimators (default: `compose.registry.default_registry()`).
    New versions are saved as `artifact_format` (`joblib` or `skops`), else the schema's
    `store.artifact_format`, else in the format of the live release. `executor` says where the
    estimator fits run (default: `AutoExecutor(n_jobs)`, `compose.training.executor`). `budget_s`
    overrides the search budget of every `model: auto` group. `warm_start` (learn): start heads from
    their live coefficients where sound (`compose.training.warm`).
    """
    if n_jobs is not None and (not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1):
        raise UsageError(f"--jobs (n_jobs) must be a number of parallel fits of at least 1, or -1 for every core; "
                         f"got {n_jobs!r}")
    model_store = ModelStore(store_location(store) / schema.name)
    reg = resolve(registry)
    if samples:
        incoming = read_incoming(schema, data, groups)
    else:
        run = select_training_rows(schema, data, model_store, groups, reg)
    with model_store.lock(lock_timeout, on_wait=log.warning):
        if samples:
            run = read_samples(schema, model_store, incoming, groups, refit, reg)
        run.accept_new_labels, run.warm_start = accept_new_labels, warm_start
        run.artifact_format = artifact_format or schema.store.artifact_format
        fit_and_write(run, refit, executor if executor is not None else AutoExecutor(n_jobs), budget_s,
                      gate=gate, force=force, note=note)
    if run.samples is not None:
        run.samples.close()
    return run.report


def fit_and_write(run: TrainingRun, refit: set[str] | None, executor: FitExecutor, budget_s: float | None, *,
                  gate: bool, force: bool, note: str) -> None:
    """Steps 2 to 8, under the store's lock: fit the features and heads, write the versions, gate
    them, and write the release of what passes."""
    read_live_release(run)
    fit_features(run, refit)
    choose_zero_shot(run)
    fit_heads(run, executor, budget_s)
    write_feature_versions(run)
    for g in run.trained:
        gate_and_write_head(run, g, gate=gate, force=force, note=note)
    hold_back_refused_features(run)
    body = compose_release(run, note)
    if body is not None:
        run.report.release = run.store.write_release(body)
        log.info("release %s is live (%s)", run.report.release, note)


def _groups_read(schema: Schema, live: Release | None, groups: list[str] | None,
                 refit: set[str] | None) -> list[str] | None:
    """The groups whose samples a run must read: for named groups on the live features (learn,
    retrain --group, train --only), those and the groups their `when` reads; None: every sample."""
    if groups is None or refit is None or refit or live is None:
        return None
    if not {f for g in groups for f in schema.features_of(g)} <= set(live.features):
        return None  # a feature is fitted for the first time: on every stored training sample
    return sorted({*groups, *(gate for g in groups for gate in (schema.groups[g].when or {}))})


def read_samples(schema: Schema, store: ModelStore, incoming: Incoming | None, groups: list[str] | None,
                 refit: set[str] | None, registry: Registry) -> TrainingRun:
    """Step 1 from the sample store (under the lock): add the data's rows, read every stored
    sample, choose the groups to train and each group's training and held-out rows."""
    report = TrainReport(store.path, None)
    samples = SampleStore.open(store.samples_home, schema=schema)
    try:
        if incoming is not None:
            added = samples.upsert(incoming.frame, schema)
            report.warnings.extend(added.warnings)
            log.info("%s: %d rows, %d new samples; the sample store holds %d (revision %d)", incoming.source,
                     added.rows, added.new_samples, samples.counts().samples, samples.revision)
        live = store.release() if store.release_numbers() else None
        subset = _groups_read(schema, live, groups, refit)
        data = samples.read(schema, subset, annotated_only=subset is not None)
        plan = build_plan(schema)
        trained, notes = groups_to_train(schema, plan, data, live, incoming, groups, refit)
    except BaseException:
        samples.close()
        raise
    for note in notes:
        if note.kind == "warning":
            _warn(report, note.text)
        else:
            report.notes.append(note.text)
            log.info(note.text)
    selections = {}
    for g in trained:
        selections[g] = select_rows(schema, g, data.targets, data.holdout, data.hashes, len(data.hashes),
                                    keys=schema.training.group_by is None)  # group_by: the stored split
        if selections[g].excluded_by_when:
            log.info("group %r: %d labelled samples left out because their %s label is outside `when`",
                     g, selections[g].excluded_by_when, "/".join(schema.groups[g].when or {}))
    run = TrainingRun(schema, plan, store, data.inputs, data.hashes, data.holdout, report, trained, selections,
                      registry)
    run.samples, run.sample_set = samples, data
    return run


def _groups_to_train(schema: Schema, plan: Plan, df: pd.DataFrame, groups: list[str] | None,
                     report: TrainReport) -> tuple[list[str], dict[str, GroupTargets]]:
    """The groups of this run in plan order, and the targets of every column they need."""
    wanted = list(groups) if groups is not None else list(schema.groups)
    unknown = [g for g in wanted if g not in schema.groups]
    if unknown:
        raise DataError(f"unknown group{'s' if len(unknown) > 1 else ''} {unknown}; the schema declares "
                        f"{list(schema.groups)}.{head_hint(schema.hierarchies, unknown)}")
    gates = {gate for g in wanted for gate in (schema.groups[g].when or {})}
    targets = parse_targets(df, schema, [g for g in schema.groups if g in wanted or g in gates])
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
    return trained, targets


def select_training_rows(schema: Schema, data: Any, store: ModelStore, groups: list[str] | None,
                         registry: Registry) -> TrainingRun:
    """Step 1: read the data and choose each group's training and holdout rows (no store access)."""
    df = as_frame(data)
    if len(df) == 0:
        raise DataError(f"{df.attrs.get('source', 'the data')} has a header but no rows; training needs rows with "
                        "inputs and labels")
    inputs = prepare_inputs(df, schema)
    report = TrainReport(store.path, None)
    plan = build_plan(schema)
    trained, targets = _groups_to_train(schema, plan, df, groups, report)
    hashes = split_hashes(df, inputs, schema)
    hold = holdout_mask(hashes, schema.training.holdout)
    selections: dict[str, GroupRows] = {}
    for g in list(trained):
        rows = select_rows(schema, g, targets, hold, hashes)
        if len(rows.train) == 0 and zero_shot_feature(schema, g) is None:
            _warn(report, f"group {g!r}: no labelled training rows in this file; not trained")
            trained.remove(g)
            continue
        if rows.excluded_by_when:
            log.info("group %r: %d labelled rows left out because their %s label is outside `when`",
                     g, rows.excluded_by_when, "/".join(schema.groups[g].when or {}))
        selections[g] = rows
    if not trained:
        raise DataError("no group has labelled rows in this file; fill in at least one group column")
    return TrainingRun(schema, plan, store, inputs, hashes, hold, report, trained, selections, registry)


def read_live_release(run: TrainingRun) -> None:
    """Step 2 (under the lock): the live release, its holdouts, and the rows they rule out of training."""
    run.live = run.store.release() if run.store.release_numbers() else None
    refuse_stale_heads(run.schema, run.store, run.live, run.trained)
    run.references = {g: live_holdout(run.schema, run.store, run.live, g) for g in run.trained}
    for g, reference in run.references.items():
        if reference is not None:  # rows the live version was judged on are never trained on
            rows = run.selections[g]
            judged = np.isin(run.hashes[rows.train], reference.hashes)
            if run.samples is not None:  # stored samples: they are judged on again
                rows.holdout = np.sort(np.concatenate([rows.holdout, rows.train[judged]]))
            rows.train = rows.train[~judged]
            if len(rows.train) == 0 and zero_shot_feature(run.schema, g) is None:
                raise DataError(f"group {g!r}: every labelled row of this file is in the live version's "
                                "holdout, so none is left to train on; add rows that were not labelled before")


def fit_features(run: TrainingRun, refit: set[str] | None) -> None:
    """Step 3: fit the features to refit on the training rows; take the others from the live release."""
    schema, live = run.schema, run.live
    live_features = live.features if live is not None else {}
    needed = sorted({f for g in run.trained for f in schema.features_of(g)})
    run.to_fit = [f for f in needed if (refit is None or f in refit or f not in live_features)]
    for f in run.to_fit:
        others = [g for g in run.plan.readers_of(f) if g not in run.trained and live is not None and g in live.groups]
        if others:
            run.warn(f"feature {f!r} is refitted, so the live heads {others} that read it cannot stay in "
                     f"the release; retrain them too (compose retrain --feature {f})")
    for f in needed:
        if f in run.to_fit:
            t0 = time.perf_counter()
            run.transformers[f], run.blocks[f] = fit_feature(schema, f, run.inputs, run.train_rows, run.registry)
            log.info("feature %-14s fitted on %d rows, %d columns (%.1fs)", f, len(run.train_rows),
                     featurizer_of(schema, f, run.registry).width(run.transformers[f]), time.perf_counter() - t0)
        else:
            pin = live_features[f]
            run.transformers[f] = run.load("features", f, pin.version, pin.sha256, pin.meta_sha256)
            run.versions[f] = pin.version


def fit_heads(run: TrainingRun, executor: FitExecutor, budget_s: float | None = None) -> None:
    """Step 4: every estimator of every head, run by `executor`, assembled into heads.

    A `model: auto` group is searched first (cross-validated on its training rows only, within
    `budget_s` or its own budget); its winner is then fitted like any estimator.
    """
    schema = run.schema
    needed = sorted({f for g in run.trained for f in schema.features_of(g)})
    blocks = {f: run.blocks[f] if f in run.blocks else run.transformers[f].transform(run.inputs) for f in needed}
    jobs: list[tuple[Any, ...]] = []
    owners: list[str] = []
    for g in run.trained:
        run.xs[g] = hstack([blocks[f] for f in schema.features_of(g)])
        if g in run.zero_shot:
            continue
        if schema.groups[g].model.estimator == AUTO:
            rows = run.selections[g]
            run.searches[g] = search(g, schema.groups[g], schema.labels_of(g), run.xs[g][rows.train],
                                     rows.y[rows.train], budget_s=budget_s, seed=schema.training.seed,
                                     registry=run.registry)
            log.info("group %r: %s", g, run.searches[g].summary())
        new = jobs_for(schema, run.selections[g], run.xs[g], run.registry, run.searches.get(g))
        if run.warm_start:
            new, run.warm[g] = warm_jobs(schema, run.store, run.live, g, new, run.versions, run.load)
        jobs.extend(new)
        owners.extend([g] * len(new))
    fits = [FitJob(*job) for job in jobs]
    n = len(run.trained)
    log.info("fitting %d head%s (%d estimator fit%s) %s", n, "s" * (n > 1),
             len(jobs), "s" * (len(jobs) > 1), executor.describe(fits))
    t0 = time.perf_counter()
    fitted = executor.map(fits)
    run.fit_seconds = time.perf_counter() - t0
    for g in run.trained:
        if g in run.zero_shot:
            run.heads[g] = _zero_shot(run, g)
            continue
        ests = [e for e, o in zip(fitted, owners, strict=True) if o == g]
        run.heads[g] = assemble_head(g, schema.groups[g].type, schema.labels_of(g), schema.features_of(g), ests)


def _zero_shot(run: TrainingRun, g: str) -> Head:
    """The zero-shot head of a group whose labels are too few (`compose.heads.zero_shot`)."""
    features = run.schema.features_of(g)
    widths = {f: featurizer_of(run.schema, f, run.registry).width(run.transformers[f]) for f in features}
    head = zero_shot_head(run.schema, g, run.transformers, widths)
    counts = label_counts(run.schema, g, run.selections[g].y[run.selections[g].train])
    short = {label: n for label, n in counts.items() if n < run.schema.groups[g].cold_start.min_per_label}
    log.info("group %r answers zero-shot from its label texts: fewer than %d labelled training samples for %s",
             g, run.schema.groups[g].cold_start.min_per_label, short)
    return head


def choose_zero_shot(run: TrainingRun) -> None:
    """Step 3b: the groups that answer zero-shot this run (a label below `cold_start.min_per_label`)."""
    run.zero_shot = {g for g in run.trained
                     if answers_zero_shot(run.schema, g, run.selections[g].y[run.selections[g].train])}


def write_feature_versions(run: TrainingRun) -> None:
    """Step 5: a new version of every refitted feature (first: heads record them as parents)."""
    schema, hashes, train_rows = run.schema, run.hashes, run.train_rows
    for f in run.to_fit:
        meta = {"spec_hash": schema.feature_fingerprint(f), "spec": schema.features[f].model_dump(mode="json"),
                "n_rows": len(train_rows), "data_fingerprint": fingerprint(hashes[train_rows]),
                "width": featurizer_of(schema, f, run.registry).width(run.transformers[f]),
                "plugin": run.registry.plugin("featurizers", schema.features[f].type).to_dict(),
                "training": schema.training.model_dump()}
        run.versions[f], _ = run.store.write_version("features", f, run.transformers[f], meta,
                                                     fmt=run.artifact_format)
        run.report.features[f] = run.versions[f]


def _holdout_metrics(run: TrainingRun, g: str) -> tuple[Holdout, dict[str, Any]]:
    """The rows a new head of `g` is judged on, and its metrics there.

    From the sample store: the group's held-out samples the live version was not fitted on, plus
    the rows of the live version's holdout the store does not hold. From a file: the live holdout
    plus this file's held-out rows it does not hold yet.
    """
    rows, reference = run.selections[g], run.references[g]
    if run.samples is not None and run.sample_set is not None:
        held = rows.holdout[~fitted_rows(run.store, run.samples, run.live, g, run.sample_set.sids[rows.holdout])]
        if len(held) < len(rows.holdout):
            log.info("group %r: %d held-out samples left out of its gate rows: the live version was fitted on them",
                     g, len(rows.holdout) - len(held))
        rows.holdout = held
    own = Holdout(run.inputs.iloc[rows.holdout].reset_index(drop=True), rows.y[rows.holdout],
                  run.hashes[rows.holdout], None if rows.known is None else rows.known[rows.holdout])
    if reference is None:
        return own, evaluate_head(run.schema, run.heads[g], run.xs[g], rows)
    # The live version's stored holdout comes first, with the labels it was judged on: a file (or a
    # batch of annotations) with wrong labels cannot make the live head look bad, nor a bad candidate
    # good. Held-out samples it does not hold are added with their stored labels.
    holdout = union(reference, own)
    transformers = [run.transformers[f] for f in run.schema.features_of(g)]
    run.holdout_x[g] = hstack([t.transform(holdout.inputs) for t in transformers]) if len(holdout) else None
    return holdout, score_on(run.schema, run.heads[g], transformers, holdout, run.holdout_x[g])


def gate_and_write_head(run: TrainingRun, g: str, *, gate: bool, force: bool, note: str) -> None:
    """Step 6: score a new head on its holdout, gate it against the live one, write its version."""
    schema, rows, spec = run.schema, run.selections[g], run.schema.groups[g]
    holdout, metrics = _holdout_metrics(run, g)
    verdict = None
    if gate and run.live is not None and g in run.live.groups:
        verdict = gate_verdict(schema, run.store, run.live, g, metrics, holdout, force=force,
                               accept_new_labels=run.accept_new_labels, load=run.load,
                               features=lambda parents: run.holdout_x.get(g) if parents == [
                                   (f, run.versions.get(f)) for f in schema.features_of(g)] else None)
        verdict = _zero_shot_for_zero_shot(run, g, verdict, len(holdout))
    ok = verdict is None or verdict.passed or force
    meta = {
        "spec_hash": schema.group_fingerprint(g), "spec": spec.model_dump(mode="json"),
        "type": spec.type, "labels": schema.labels_of(g),
        "parents": {f: run.versions[f] for f in schema.features_of(g)},
        "n_train": len(rows.train), "n_holdout": len(holdout),
        "data_fingerprint": fingerprint(run.hashes[rows.train], rows.y[rows.train]),
        "holdout_fingerprint": fingerprint(holdout.hashes, holdout.y),
        "class_counts": counts_of(schema, g, rows.y[rows.train]),
        "holdout_class_counts": counts_of(schema, g, holdout.y),
        "metrics": metrics, "gate_metric": gate_metric_name(spec.type, spec.gate.metric),
        "gate": None if verdict is None else verdict.to_json(), "excluded_by_when": rows.excluded_by_when,
        "training": {**schema.training.model_dump(), "rows": "hash(inputs) >= holdout"},
        "fit_seconds_all_heads": round(run.fit_seconds, 3), "note": note, "source": run.heads[g].source,
        "plugin": run.registry.plugin("estimators", run.searches[g].estimator if g in run.searches
                                      else spec.model.estimator).to_dict(),
    }
    if g in run.searches:
        meta["search"] = run.searches[g].to_dict()
    if run.warm.get(g) is not None:
        meta["warm_start"] = {"from": run.warm[g]}
    if run.samples is not None and run.sample_set is not None:
        meta["samples"] = {"revision": run.sample_set.revision, "n_train": len(rows.train)}
        meta["training"] = {**schema.training.model_dump(),
                            "rows": "the sample store's train split (fixed at first sight by the hash rule)"}
    extras: dict[str, Any] = {"holdout": holdout.to_stored()}
    if run.samples is not None and run.sample_set is not None:  # the exact samples, for later gates and tuning
        extras["fit"] = {"sids": np.sort(np.asarray(run.sample_set.sids[rows.train], dtype=np.int64)),
                         "revision": int(run.sample_set.revision)}
    version, _ = run.store.write_version("groups", g, run.heads[g], meta, extras=extras, fmt=run.artifact_format)
    run.released[g] = ok
    run.report.groups[g] = GroupReport(g, version, ok, len(rows.train), len(holdout), metrics, verdict,
                                       run.searches[g].to_dict() if g in run.searches else None,
                                       run.heads[g].source)
    _log_group(schema, run.report.groups[g])


def _zero_shot_for_zero_shot(run: TrainingRun, g: str, verdict: GateVerdict, n_holdout: int) -> GateVerdict:
    """With no held-out rows to compare on, a zero-shot head may replace a zero-shot head (its label texts
    or scale may have changed); a trained candidate still has to beat the live zero-shot head on rows."""
    if verdict.passed or n_holdout or g not in run.zero_shot or run.live is None:
        return verdict
    if run.store.group_meta(g, run.live.groups[g].version).source != "zero-shot":
        return verdict
    return verdict.model_copy(update={"passed": True, "forced": False, "reason": (
        "no held-out rows to compare on: a zero-shot head replaces the live zero-shot head")})


def hold_back_refused_features(run: TrainingRun) -> None:
    """Step 7: a refitted feature is released only with every head that reads it."""
    for f in run.to_fit:
        readers = [g for g in run.trained if f in run.schema.features_of(g)]
        if any(not run.released[g] for g in readers):
            for g in readers:
                if run.released[g]:
                    run.released[g] = False
                    run.report.groups[g].released = False
            run.warn(f"feature {f!r} {version_name(run.versions[f])} is not released: a head that reads it was "
                     "refused by the gate, and the live heads need the live feature")


def _log_group(schema: Schema, r: GroupReport) -> None:
    metric = gate_metric_name(schema.groups[r.group].type, schema.groups[r.group].gate.metric)
    value = r.metrics.get(metric)
    shown = f"{metric} {value:.3f}" if isinstance(value, float) else "no holdout rows"
    line = (f"group {r.group:<16} {version_name(r.version)}: {r.n_train} training rows, {r.n_holdout} holdout rows, "
            f"{shown}")
    if r.gate is not None and r.gate.live is not None:
        line += f" (live {version_name(r.gate.against)}: {r.gate.live:.3f})"
    log.info(line + ("" if r.released else "  NOT RELEASED"))


def _pins_kept(run: TrainingRun) -> tuple[dict[str, FeaturePin], dict[str, GroupPin]]:
    """The live pins of the features and groups the schema still declares, then the released new heads'."""
    schema, live = run.schema, run.live
    features = {f: p for f, p in (live.features if live else {}).items() if f in schema.features}
    groups: dict[str, GroupPin] = {}
    for g, p in (live.groups if live else {}).items():
        if g in schema.groups:
            groups[g] = p
        else:
            run.warn(f"group {g!r} is no longer in the schema; it is dropped from the new release")
    for g, ok in run.released.items():
        if ok:
            meta = run.store.group_meta(g, run.report.groups[g].version)
            groups[g] = GroupPin(version=meta.version, sha256=meta.sha256, parents=meta.parents)
            for f, v in meta.parents.items():
                features[f] = FeaturePin(version=v, sha256=run.store.feature_meta(f, v).sha256)
    return features, groups


def compose_release(run: TrainingRun, note: str) -> ReleaseBody | None:
    """Step 8: the body of the new release, or None when nothing is to be released."""
    schema, live = run.schema, run.live
    features, groups = _pins_kept(run)
    for g, p in list(groups.items()):
        stale = [f for f, v in p.parents.items() if f not in features or features[f].version != v]
        if stale:
            del groups[g]
            run.warn(f"group {g!r} is left out of the new release: it reads {stale}, which were refitted "
                     "without it; retrain it with data labelled for it")
    used = {f for p in groups.values() for f in p.parents}
    live_decisions = live.decisions if live else {}
    decisions = kept_decisions(groups, live_decisions)
    for g in sorted(set(live_decisions) - set(decisions)):
        if g in groups:
            log.info("group %r: its tuned decision was tuned for another version; the schema's decision applies "
                     "until it is tuned again (compose tune --group %s)", g, g)
    dropped = [g for g in (live.groups if live else {}) if g not in schema.groups]
    if not groups or (not any(run.released.values()) and not dropped):
        return None
    return ReleaseBody(note=note, parent=live.release if live else None, schema_hash=schema.fingerprint(),
                       schema_document=schema.to_dict(), features={f: p for f, p in features.items() if f in used},
                       groups=groups, decisions=decisions)
