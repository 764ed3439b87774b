"""`learn`: add samples and annotations, then retrain exactly the groups whose labelled data changed.

A group's labelled data changed when its annotations have a revision newer than the one its live
version was trained from (`samples.revision` in meta.json), or, for a conditional group, when a
group its `when` reads changed and that changes its training rows (the samples its live version
was fitted on are compared with the ones it would be fitted on now). Each such group is retrained
on ALL its stored samples of the train split, on the live features, starting from its live
version's coefficients where the estimator allows (`compose.training.warm`), and gated against
its live head on the same rows; every other artifact stays as it is.

A crash at any point leaves the sample store consistent (each write is one SQLite transaction) and
the previous release live (versions and releases are written atomically); the annotations added
before the crash are kept, so the next `learn` (with or without data) retrains what they changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compose.errors import ArtifactNotFoundError, DataError
from compose.metrics import gate_metric_name
from compose.registry import Registry
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import Release
from compose.store.remote import RemotePath, StorePath, store_location
from compose.store.sample_access import fitted_keys
from compose.store.sample_db import sample_store_exists
from compose.store.sample_records import UpsertReport
from compose.store.samples import SampleStore
from compose.store.store import ModelStore
from compose.training.gate import live_holdout
from compose.training.run import TrainReport, fit_and_release
from compose.training.splits import select_rows

log = logging.getLogger("compose")


@dataclass
class GroupLearning:
    """What `learn` did to one group: its training rows and gate metric before and after."""

    group: str
    rows_before: int | None
    rows_after: int
    metric: str
    live: float | None
    candidate: float | None
    compared_on: int
    version: int
    released: bool
    reason: str | None = None

    def line(self) -> str:
        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.4f}"

        before = "new" if self.rows_before is None else str(self.rows_before)
        verdict = "released" if self.released else "REFUSED, the live version stays"
        out = (f"group {self.group}: training rows {before} -> {self.rows_after}, {self.metric} {f(self.live)} -> "
               f"{f(self.candidate)} on the same {self.compared_on} held-out rows: {verdict} "
               f"({version_name(self.version)})")
        return out + (f"; {self.reason}" if self.reason else "")


@dataclass
class LearnReport:
    """The outcome of `learn`: what was added, which groups were retrained and how they fared."""

    store: StorePath
    added: UpsertReport | None
    changed: list[str]
    groups: dict[str, GroupLearning] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    train: TrainReport | None = None

    @property
    def release(self) -> str | None:
        return None if self.train is None else self.train.release

    @property
    def refused(self) -> list[str]:
        return [g for g, r in self.groups.items() if not r.released]

    def lines(self) -> list[str]:
        out = []
        if self.added is not None:
            out.append(f"added {self.added.new_samples} new samples ({self.added.known_samples} already stored); "
                       "annotations added " + ", ".join(f"{g} {n}" for g, n in self.added.added.items() if n)
                       + (", changed " + ", ".join(f"{g} {n}" for g, n in self.added.changed.items() if n)
                          if any(self.added.changed.values()) else ""))
        out.extend(r.line() for r in self.groups.values())
        if self.unchanged:
            out.append(f"unchanged (no new annotations since their live version): {', '.join(self.unchanged)}")
        if not self.changed:
            out.append("no group's annotations changed since its live version: nothing to retrain")
        if self.release:
            out.append(f"release {self.release} is live in {self.store}")
        elif self.changed:
            out.append(f"no new release; the live release in {self.store} is unchanged")
        return out


def _baseline(store: ModelStore, live: Release, group: str, seeded: int | None) -> int | None:
    """The sample-store revision the live version of `group` was trained from (None: unknown)."""
    meta = store.group_meta(group, live.groups[group].version)
    return meta.samples.revision if meta.samples is not None else seeded


def changed_groups(schema: Schema, samples: SampleStore, store: ModelStore, live: Release) -> list[str]:
    """The groups whose labelled data changed since their live version (new groups with
    annotations too), and the conditional groups whose `when` reads one of them, in schema order."""
    seeded_text = samples.info("seeded")
    seeded = int(seeded_text) if seeded_text is not None else None
    changed = set()
    for g in schema.groups:
        last = samples.last_change(g)
        if g not in live.groups:
            if last:
                changed.add(g)
            continue
        base = _baseline(store, live, g, seeded)
        if base is not None and last > base:
            changed.add(g)
    for g, spec in schema.groups.items():  # a changed gate may change the rows of its conditional groups
        if set(spec.when or {}) & changed and g in live.groups and g not in changed \
                and _rows_changed(schema, samples, store, live, g):
            changed.add(g)
    return [g for g in schema.groups if g in changed]


def _rows_changed(schema: Schema, samples: SampleStore, store: ModelStore, live: Release, group: str) -> bool:
    """Whether the training rows of the conditional `group` (whose own annotations did not change)
    differ from the samples its live version was fitted on, now that a group its `when` reads
    changed: a retrain on the same rows with the same labels would make the same head."""
    pin = live.groups[group]
    fitted = fitted_keys(store, samples, group, pin.version)
    if fitted is None:
        return True
    data = samples.read(schema, [group, *(schema.groups[group].when or {})], annotated_only=True)
    if group not in data.targets:
        return True
    rows = select_rows(schema, group, data.targets, data.holdout, data.hashes,
                       keys=schema.training.group_by is None)
    train = rows.train
    reference = live_holdout(schema, store, live, group)
    if reference is not None:  # rows the live version was judged on are never trained on (`read_live_release`)
        train = train[~np.isin(data.hashes[train], reference.hashes)]
    same = np.array_equal(np.sort(data.sids[train]), np.sort(fitted))
    if same:
        log.info("group %r: its training rows are those of its live %s, so it is not retrained", group,
                 version_name(pin.version))
    return not same


def learn(  # noqa: PLR0913 - the lifecycle options, keyword-only
        schema: Schema, data: Any, model_dir: str | Path | RemotePath, *, force: bool = False,
        accept_new_labels: bool = False,
        n_jobs: int | None = None, lock_timeout: float = 600.0, source: str | None = None,
        registry: Registry | None = None, budget_s: float | None = None) -> LearnReport:
    """Upsert `data` (may be None) into the sample store of `model_dir`, then retrain, gate and
    release exactly the groups whose labelled data changed (see the module docstring). `budget_s`
    overrides the search budget of every `model: auto` group."""
    store = ModelStore(store_location(model_dir))
    if not store.release_numbers():
        raise ArtifactNotFoundError(f"{store.path} has no release to learn on; train it first "
                                    f"(compose train SCHEMA --data FILE --store {store.path.parent})")
    live = store.release()
    if not sample_store_exists(store.samples_home):
        raise ArtifactNotFoundError(
            f"{store.path} was made before compose kept samples: it has no sample store to learn into. Seed it "
            f"with the data the live release was trained on: compose samples --store {store.path.parent} --import "
            f"ORIGINAL_TRAINING_FILE (or compose learn --store {store.path.parent} --data ORIGINAL_TRAINING_FILE "
            "after that), then learn the new labels")
    with SampleStore.open(store.samples_home, schema=schema) as samples:
        legacy = [g for g, pin in live.groups.items() if g in schema.groups
                  and store.group_meta(g, pin.version).samples is None]
        if legacy and samples.info("seeded") is None:
            raise DataError(f"the live versions of {legacy} were trained before the sample store, which does not "
                            f"know their training rows; seed it with the data they were trained on: compose samples "
                            f"--store {store.path.parent} --import ORIGINAL_TRAINING_FILE, then learn again")
        added = samples.upsert(data, schema, source=source) if data is not None else None
        changed = changed_groups(schema, samples, store, live)
    report = LearnReport(store.path, added, changed, unchanged=[g for g in live.groups if g not in changed])
    if not changed:
        return report
    log.info("learning: %s changed since their live version%s", changed, "s" * (len(changed) > 1))
    train = fit_and_release(schema, None, store.path.parent, groups=changed, refit=set(), gate=True, force=force,
                            accept_new_labels=accept_new_labels, note=f"learn {','.join(changed)}", n_jobs=n_jobs,
                            lock_timeout=lock_timeout, warm_start=True, registry=registry, budget_s=budget_s)
    report.train = train
    for g, r in train.groups.items():
        spec = schema.groups[g]
        before = store.group_meta(g, live.groups[g].version).n_train if g in live.groups else None
        v = r.gate
        metric = v.metric if v is not None else gate_metric_name(spec.type, spec.gate.metric)
        value = r.metrics.get(metric)
        candidate = v.candidate if v is not None and v.candidate is not None else (
            value if isinstance(value, float) else None)
        report.groups[g] = GroupLearning(g, before, r.n_train, metric, None if v is None else v.live, candidate,
                                         r.n_holdout, r.version, r.released, None if v is None else v.reason)
    return report
