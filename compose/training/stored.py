"""Training from the sample store: which groups a run trains, and on which rows they are judged.

A data file is a way in, not the source of truth: its rows are added to the model's sample store
first, then every group trains on all of its stored samples (the train split) and is judged on the
stored holdout split (plus the live version's stored holdout), minus any row the live version was
fitted on. `train` without `--only` trains the groups the file labels; a live group the file does
not label keeps its live version, unless it reads a feature the run refits: then it is retrained
from its stored samples, and a run that would have to drop it (it has none) is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from compose.data.io import as_frame, source_of
from compose.data.targets import parse_targets, split_tags
from compose.errors import DataError, SchemaError
from compose.heads.zero_shot import zero_shot_feature
from compose.plan import Plan
from compose.schema.hierarchy import head_hint
from compose.schema.models import Schema
from compose.store.names import version_name
from compose.store.records import Release
from compose.store.sample_access import fitted_keys
from compose.store.sample_records import SampleSet
from compose.store.samples import SampleStore
from compose.store.store import ModelStore

log = logging.getLogger("compose")


@dataclass(frozen=True)
class Incoming:
    """A data file read and checked before the store's lock: the frame, the groups it has a column
    for and the groups it labels."""

    frame: pd.DataFrame
    columns: list[str]
    labelled: list[str]
    source: str


def read_incoming(schema: Schema, data: Any, groups: list[str] | None) -> Incoming | None:
    """The data of a run, its labels checked against the schema (None: no data, the store alone)."""
    if groups is not None:
        unknown = [g for g in groups if g not in schema.groups]
        if unknown:
            raise DataError(f"unknown group{'s' if len(unknown) > 1 else ''} {unknown}; the schema declares "
                            f"{list(schema.groups)}.{head_hint(schema.hierarchies, unknown)}")
    if data is None:
        return None
    df = split_tags(as_frame(data), schema)
    if len(df) == 0:
        raise DataError(f"{source_of(df)} has a header but no rows; training needs rows with inputs and labels")
    targets = parse_targets(df, schema)  # every label of the file is checked, whatever the run trains
    return Incoming(df, [g for g in schema.groups if g in targets],
                    [g for g in schema.groups if g in targets and targets[g].n_labelled], source_of(df))


def _stored_rows(data: SampleSet, group: str) -> int:
    t = data.targets.get(group)
    return 0 if t is None else int((t.labelled & ~data.holdout).sum())


NoteKind = Literal["note", "warning"]


@dataclass(frozen=True)
class Note:
    """One line a run says about a group: a `note` (logged, in the report's notes) or a `warning`."""

    text: str
    kind: NoteKind = "note"


def groups_to_train(schema: Schema, plan: Plan, data: SampleSet, live: Release | None, incoming: Incoming | None,
                    groups: list[str] | None, refit: set[str] | None) -> tuple[list[str], list[Note]]:
    """The groups a run trains, in plan order, and what it says about the others.

    `groups` given: exactly those (each needs stored labelled training samples). Otherwise the
    groups the data labels, and groups with stored labels that are not live yet. Then every live
    group that reads a feature the run refits (`refit`, None: every feature of the trained groups)
    is added, to be retrained from its stored samples; one that has none refuses the run.
    """
    live_groups = live.groups if live is not None else {}
    notes: list[Note] = []
    cold = {g for g in schema.groups if zero_shot_feature(schema, g) is not None}  # may train with no label
    if groups is not None:
        trained = _named_groups(groups, data, incoming, cold)
    else:
        trained = _groups_of_the_data(schema, data, live, incoming, cold, notes)
    trained.extend(_readers_of_refitted(schema, plan, data, live, trained, refit, notes))
    notes.extend(Note(f"group {g!r}: no labels in this data; its live version {version_name(live_groups[g].version)} "
                      "stays") for g in schema.groups if g in live_groups and g not in trained)
    missing = [g for g in trained if not _stored_rows(data, g) and g not in cold]
    if missing:
        raise DataError(f"no labelled training samples for group{'s' * (len(missing) > 1)} {missing}, in the data "
                        "or in the sample store; add rows labelled for it")
    order = plan.groups_in_order()
    return [g for g in order if g in trained], notes


def _named_groups(groups: list[str], data: SampleSet, incoming: Incoming | None, cold: set[str]) -> list[str]:
    """The groups a run names (learn, retrain --group, train --only), each with labels to train on."""
    absent = [g for g in groups if incoming is not None and g not in incoming.columns and not _stored_rows(data, g)
              and g not in cold]
    if absent:
        raise DataError(f"{incoming.source if incoming else 'the data'}: no column for group"
                        f"{'s' if len(absent) > 1 else ''} {absent}; add the column with its labels")
    return list(groups)


def _groups_of_the_data(schema: Schema, data: SampleSet, live: Release | None, incoming: Incoming | None,
                        cold: set[str], notes: list[Note]) -> list[str]:
    """The groups the data labels, and the groups not live yet that have stored labels or answer zero-shot."""
    live_groups = live.groups if live is not None else {}
    labelled = incoming.labelled if incoming is not None else []
    if incoming is not None and not incoming.columns and not cold:
        raise DataError(f"{incoming.source}: no group column found; expected one of {list(schema.groups)} "
                        "(one column per group, named after it)")
    if incoming is not None and not labelled and not cold:
        raise DataError(f"{incoming.source}: no group has labelled rows in this file; fill in at least one "
                        "group column")
    trained = list(labelled)
    for g in schema.groups:
        if g in trained or g in live_groups:
            continue
        if _stored_rows(data, g):
            trained.append(g)
            notes.append(Note(f"group {g!r}: no labels in this data and no live version; trained on its "
                              f"{_stored_rows(data, g)} stored training samples"))
        elif g in cold:
            trained.append(g)
            notes.append(Note(f"group {g!r}: no labelled samples yet; it answers zero-shot from its label texts"))
        elif incoming is not None:
            notes.append(Note(f"group {g!r}: the data has no column {g!r}, so it is not trained from this file"
                              if g not in incoming.columns else
                              f"group {g!r}: no labelled training rows in this file; not trained", "warning"))
    return trained


def _readers_of_refitted(schema: Schema, plan: Plan, data: SampleSet, live: Release | None, trained: list[str],
                         refit: set[str] | None, notes: list[Note]) -> list[str]:
    """The live groups to retrain along with `trained`: a refitted feature takes every live head
    that reads it along (and the features those heads read in turn)."""
    live_groups = live.groups if live is not None else {}
    live_features = live.features if live is not None else {}
    added: list[str] = []
    while True:
        needed = {f for g in [*trained, *added] for f in schema.features_of(g)}
        to_fit = {f for f in needed if refit is None or f in refit or f not in live_features}
        readers = {g for f in to_fit for g in plan.readers_of(f)}
        more = sorted(g for g in readers if g in live_groups and g in schema.groups and g not in trained
                      and g not in added)
        if not more:
            return added
        for g in more:
            reads = sorted(set(schema.features_of(g)) & to_fit)
            if not _stored_rows(data, g):
                raise DataError(
                    f"feature{'s' * (len(reads) > 1)} {reads} would be refitted, but the live group {g!r} reads "
                    f"{'them' if len(reads) > 1 else 'it'} and has no stored samples to be retrained from, so it "
                    f"would leave the release. Add data labelled for {g!r} (or seed the sample store with the data "
                    f"it was trained on: compose samples --store DIR --import FILE), or train only the groups you "
                    f"mean to on the live features (--only)")
            notes.append(Note(f"group {g!r}: reads refitted feature{'s' * (len(reads) > 1)} {reads}; retrained "
                              f"from its {_stored_rows(data, g)} stored training samples"))
        added.extend(more)


def fitted_rows(store: ModelStore, samples: SampleStore, live: Release | None, group: str,
                sids: np.ndarray) -> np.ndarray:
    """Which of the rows (by sample key) the live version of `group` was fitted on (none if unknown)."""
    if live is None or group not in live.groups:
        return np.zeros(len(sids), dtype=bool)
    keys = fitted_keys(store, samples, group, live.groups[group].version)
    if keys is None:
        return np.zeros(len(sids), dtype=bool)
    return np.isin(sids, keys)


def refuse_stale_heads(schema: Schema, store: ModelStore, live: Release | None, trained: list[str]) -> None:
    """Refuse a run that would release live heads whose definition the schema has since changed."""
    stale = [g for g, pin in (live.groups if live is not None else {}).items()
             if g in schema.groups and g not in trained
             and store.group_meta(g, pin.version).spec_hash != schema.group_fingerprint(g)]
    if stale:
        raise SchemaError(f"the schema changes the definition (labels, features, model or when) of live "
                          f"group{'s' if len(stale) > 1 else ''} {stale}, which this run does not retrain; "
                          f"train {'them' if len(stale) > 1 else 'it'} too (--only {','.join([*trained, *stale])}) "
                          "or undo the change")
