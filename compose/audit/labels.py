"""Annotation audit: which given labels look wrong, per group, from out-of-fold scores.

For each group, the rows labelled for it are split into folds; a head with the group's estimator
is fitted on the other folds (on the live release's fitted features) and scores the held-out fold,
so every row gets a score from a model that never saw its label. Confident learning (cleanlab's
`find_label_issues`, extra `[audit]`) then flags the rows whose given label disagrees with what
the out-of-fold scores say beyond the per-class noise it estimates. For a multilabel group each
label is audited as its own yes/no question, which gives two lists: tags likely missing (given
"no", scored "yes") and tags likely wrong (given "yes", scored "no").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from compose.data.io import as_frame, atomic_write, source_of
from compose.data.targets import GroupTargets, outside_when, parse_targets, prepare_inputs, row_hashes
from compose.errors import ComposeError, DataError
from compose.featurize.base import hstack
from compose.heads.head import assemble_head, fit_estimator
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.store.sample_access import open_samples
from compose.store.sample_rows import file_ids

DEFAULT_FOLDS = 5
_INSTALL = ("the annotation audit needs cleanlab (>= 2.8, Apache-2.0); install it with "
            "`pip install 'compose-groups[audit]'`")


@dataclass(frozen=True)
class LabelIssue:
    """One annotation that looks wrong. `kind`: `wrong_label` (multiclass, binary), or for a
    multilabel group `missing_tag` (given without the label, scored with it) / `wrong_tag`."""

    group: str
    id: str
    row: int
    kind: str
    given: str
    suggested: str
    confidence: float  # out-of-fold score of the suggested label (or tag state)
    given_score: float  # out-of-fold score of the given label (or tag state): low means suspect


@dataclass
class GroupAudit:
    group: str
    type: str
    rows: int
    folds: int
    issues: list[LabelIssue] = field(default_factory=list)
    oof_accuracy: float | None = None

    def summary(self) -> str:
        acc = "" if self.oof_accuracy is None else f", out-of-fold agreement {self.oof_accuracy:.3f}"
        kinds: dict[str, int] = {}
        for issue in self.issues:
            kinds[issue.kind] = kinds.get(issue.kind, 0) + 1
        detail = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items())) or "no issues"
        return f"{self.group} ({self.type}): {self.rows} labelled rows, {self.folds} folds{acc}: {detail}"


@dataclass
class AuditReport:
    """Every group's audit; `to_frame()` lists the issues ranked (most suspect first) per group."""

    model: str
    release: str
    source: str
    groups: dict[str, GroupAudit]

    @property
    def issues(self) -> list[LabelIssue]:
        return [i for g in self.groups.values() for i in g.issues]

    def to_frame(self) -> pd.DataFrame:
        columns = [f.name for f in LabelIssue.__dataclass_fields__.values()]
        return pd.DataFrame([asdict(i) for i in self.issues], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "release": self.release, "source": self.source,
                "groups": {g: {"type": a.type, "rows": a.rows, "folds": a.folds, "oof_accuracy": a.oof_accuracy,
                               "issues": [asdict(i) for i in a.issues]} for g, a in self.groups.items()}}

    def lines(self, top: int = 10) -> list[str]:
        out = [f"audit of {self.model} release {self.release} on {self.source}"]
        for a in self.groups.values():
            out.append("  " + a.summary())
            for i in a.issues[:top]:
                out.append(f"    {i.id:<20} row {i.row:<6} {i.kind:<12} given {i.given!r} -> {i.suggested!r} "
                           f"(p={i.confidence:.2f}, given p={i.given_score:.2f})")
            if len(a.issues) > top:
                out.append(f"    ... and {len(a.issues) - top} more (write them all with --out FILE)")
        return out


def _cleanlab() -> Any:
    try:
        from cleanlab.filter import find_label_issues
    except ImportError as exc:
        raise ComposeError(_INSTALL) from exc
    return find_label_issues


def sample_ids(df: pd.DataFrame, inputs: pd.DataFrame, seed: int = 0) -> list[str]:
    """The sample id of each row, by the sample store's rule: the data's `id` column when it has
    one, else a hash of its inputs (salted with the schema's `training.seed`) and the row's order
    among the rows with equal inputs."""
    return file_ids(df, row_hashes(inputs, seed), source_of(df))


def stored_rows(store: str | Path, model: str | None, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """The model's stored samples as a table (`id`, inputs, one column per group), for the audit and
    the queue when no file is given."""
    samples, schema = open_samples(store, model=model)
    try:
        frame = samples.frame(schema, groups=groups)
    finally:
        samples.close()
    frame.attrs["source"] = f"the sample store of {schema.name}"
    return frame


def group_rows(model: ComposedModel, group: str, targets: dict[str, GroupTargets]) -> np.ndarray:
    """Rows labelled for `group` whose gating groups' given labels (if any) are in its `when`."""
    labelled = targets[group].labelled
    mask = labelled & ~outside_when(model.schema.groups[group].when, targets, len(labelled))
    return np.flatnonzero(mask)


def out_of_fold_scores(model: ComposedModel, group: str, x: Any, y: np.ndarray, *, folds: int = DEFAULT_FOLDS,
                       seed: int = 0) -> tuple[np.ndarray, int]:
    """(n_rows, n_labels) scores of `x`, each row scored by a head fitted without it; and the folds used."""
    spec = model.schema.groups[group]
    head = model.heads_[group]
    labels = head.labels
    multilabel = spec.type == "multilabel"
    if multilabel:
        k = min(folds, len(y))
    else:
        counts = np.bincount(y, minlength=len(labels))
        k = int(min(folds, max(2, counts[counts > 0].min() if (counts > 0).any() else 2)))
    if len(y) < 2 * k or k < 2:  # before the splitters, which refuse an empty or tiny group in their own words
        raise DataError(f"group {group!r}: {len(y)} labelled rows are too few to audit with {max(k, 2)} folds; "
                        "label more rows")
    splits = (KFold(n_splits=k, shuffle=True, random_state=seed).split(x) if multilabel
              else StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    out = np.zeros((len(y), len(labels)))
    est, params = spec.model.estimator, dict(spec.model.params)
    for train, test in splits:
        if multilabel:
            fitted = [fit_estimator(est, params, x[train], y[train, j], f"{group}:{label}", allow_constant=True,
                                    calibration=spec.calibration) for j, label in enumerate(labels)]
        else:
            fitted = [fit_estimator(est, params, x[train], y[train], group, calibration=spec.calibration)]
        out[test] = assemble_head(group, spec.type, labels, head.features, fitted).scores(x[test])
    return out, k


def _single_issues(group: str, labels: list[str], y: np.ndarray, scores: np.ndarray, rows: np.ndarray,
                   ids: Sequence[str]) -> list[LabelIssue]:
    find = _cleanlab()
    present = np.flatnonzero(np.bincount(y, minlength=len(labels)) > 0)
    remap = {old: new for new, old in enumerate(present)}  # cleanlab wants every class among the labels
    probs = scores[:, present]
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    ranked = find(np.array([remap[v] for v in y]), probs, return_indices_ranked_by="self_confidence")
    out = []
    for i in ranked:
        best = int(present[int(np.argmax(probs[i]))])
        out.append(LabelIssue(group, ids[rows[i]], int(rows[i]) + 1, "wrong_label", labels[y[i]], labels[best],
                              round(float(scores[i, best]), 4), round(float(scores[i, y[i]]), 4)))
    return out


def _multilabel_issues(group: str, labels: list[str], y: np.ndarray, scores: np.ndarray, rows: np.ndarray,
                       ids: Sequence[str]) -> list[LabelIssue]:
    find = _cleanlab()
    out: list[tuple[float, LabelIssue]] = []
    for j, label in enumerate(labels):
        given = y[:, j].astype(int)
        if given.min() == given.max():  # a label that is always (or never) given: nothing to contrast
            continue
        p = np.column_stack([1.0 - scores[:, j], scores[:, j]])
        for i in find(given, p, return_indices_ranked_by="self_confidence"):
            missing = given[i] == 0
            issue = LabelIssue(group, ids[rows[i]], int(rows[i]) + 1, "missing_tag" if missing else "wrong_tag",
                               "" if missing else label, label if missing else "",
                               round(float(p[i, 1 - given[i]]), 4), round(float(p[i, given[i]]), 4))
            out.append((issue.given_score, issue))
    out.sort(key=lambda t: t[0])
    return [issue for _, issue in out]


def audit_model(model: ComposedModel, data: Any, *, groups: Sequence[str] | None = None,
                folds: int = DEFAULT_FOLDS, seed: int = 0) -> AuditReport:
    """Audit the annotations of `data` (a file, a DataFrame or rows) for each group of the live `model`."""
    df = as_frame(data)
    schema = model.schema
    wanted = list(groups) if groups else [g for g in model.groups if g in df.columns]
    unknown = [g for g in wanted if g not in model.heads_]
    if unknown:
        raise DataError(f"unknown group {unknown[0]!r}; release {model.release_name} has {model.groups}")
    if not wanted:
        raise DataError(f"{source_of(df)}: no group column to audit; expected one of {model.groups}")
    _cleanlab()  # refuse before any work when the extra is missing
    inputs = prepare_inputs(df, schema)
    needed = sorted({g for w in wanted for g in [w, *(schema.groups[w].when or {})]} & set(df.columns))
    targets = parse_targets(df, schema, needed)
    ids = sample_ids(df, inputs, schema.training.seed)
    out: dict[str, GroupAudit] = {}
    for group in wanted:
        if group not in targets:
            raise DataError(f"{source_of(df)}: no column {group!r}; the audit needs the group's labels")
        rows = group_rows(model, group, targets)
        head = model.heads_[group]
        blocks = model.transform_features(inputs.iloc[rows].reset_index(drop=True), head.features)
        x = hstack([blocks[f] for f in head.features])
        y = targets[group].y[rows]
        scores, k = out_of_fold_scores(model, group, x, y, folds=folds, seed=seed)
        kind = schema.groups[group].type
        result = GroupAudit(group, kind, len(rows), k)
        if kind == "multilabel":
            result.issues = _multilabel_issues(group, head.labels, y, scores, rows, ids)
            result.oof_accuracy = round(float(((scores >= 0.5) == (y == 1)).mean()), 4)
        else:
            result.issues = _single_issues(group, head.labels, y, scores, rows, ids)
            result.oof_accuracy = round(float((scores.argmax(axis=1) == y).mean()), 4)
        out[group] = result
    return AuditReport(schema.name, model.release_name, source_of(df), out)


def audit(store: str | Path, *, data: Any = None, group: str | None = None, model: str | None = None,
          folds: int = DEFAULT_FOLDS, seed: int = 0) -> AuditReport:
    """Audit the annotations of `data` (default: every sample the model's sample store holds) against
    the live release of the model in `store`. Fix what it flags and feed the rows to `compose learn`."""
    live = load(store, model=model)
    if data is None:
        data = stored_rows(store, model, [group] if group else None)
    return audit_model(live, data, groups=[group] if group else None, folds=folds, seed=seed)


def write_audit(report: AuditReport, path: str | Path) -> Path:
    """Write the issues as CSV/Parquet/JSON Lines (by suffix) or, for `.json`, the whole report."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        import json

        return atomic_write(p, json.dumps(report.to_dict(), indent=2))
    from compose.data.io import write_table

    return write_table(report.to_frame(), p)
