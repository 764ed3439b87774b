"""`compose monitor`: what a served release answered, group by group, against what its holdout predicted.

Read from the served log that `compose serve --capture` writes (`compose.store.served`). Per group
and release:

- `n`: rows answered (gated-off rows included);
- `drift`: the Jensen-Shannon distance (base 2, so 0 to 1) between the served label distribution
  and the distribution of that release's predictions on the group version's stored holdout, both
  over the labels plus `(none)` (abstained, sent to review, no label over its threshold), gated-off
  rows left out; `flagged` when over the group's `monitor: {drift: ...}` (default 0.1);
- `confidence`: a 10-bin histogram of the confidence of multiclass and binary answers, and its mean,
  beside the version's holdout accuracy;
- `shares`: the share of rows abstained, sent to review, rejected, left below every threshold, and
  gated off by `when`;
- `realized`: once captured samples are annotated (the labelling queue), the share of the labelled
  answers that were right (a captured row with the inputs of a stored sample is that sample, so rows
  the model was trained on count too).

`groups[g]` holds the figures of the release that answered group g last (in the window), and
`groups[g]["releases"]` those of every release that answered it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compose.errors import ComposeError, DataError
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.store.names import release_name, version_name
from compose.store.sample_records import truths
from compose.store.served import ServedLog, ServedRow
from compose.store.store import ModelStore
from compose.typing import GroupResult

NONE = "(none)"
BINS = 10
GATED_OFF = "skipped"


def js_distance(p: dict[str, float], q: dict[str, float]) -> float:
    """The Jensen-Shannon distance (base 2: 0 for the same distribution, 1 for disjoint ones)."""
    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0.0) for k in keys], dtype=float)
    b = np.array([q.get(k, 0.0) for k in keys], dtype=float)
    if a.sum() == 0 or b.sum() == 0:
        return math.nan
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return float(math.sqrt(max(0.0, (kl(a) + kl(b)) / 2)))


def label_counts(answers: Sequence[tuple[list[str], str]]) -> dict[str, int]:
    """Counts of the labels given (each chosen label of a multilabel answer once; `(none)` for no label),
    gated-off answers left out. `answers`: (labels, outcome) pairs."""
    counts: Counter[str] = Counter()
    for labels, outcome in answers:
        if outcome == GATED_OFF:
            continue
        counts.update(labels or [NONE])
    return dict(counts)


def _share(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


@dataclass
class _Releases:
    """The releases a monitor run loads (once each) to predict the groups' holdouts."""

    store: ModelStore
    loaded: dict[str, ComposedModel | str] = field(default_factory=dict)
    holdout_counts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def model(self, release: str) -> ComposedModel | str:
        if release not in self.loaded:
            try:
                self.loaded[release] = load(self.store.path, release=release)
            except ComposeError as exc:  # removed by `compose gc`, or a plugin gone: reported, not fatal
                self.loaded[release] = f"release {release} cannot be loaded: {exc}"
        return self.loaded[release]

    def holdout(self, group: str, release: str) -> dict[str, Any]:
        """The holdout's predicted-label counts and metrics of the version `release` pins for `group`."""
        key = (group, release)
        if key not in self.holdout_counts:
            self.holdout_counts[key] = self._holdout(group, release)
        return self.holdout_counts[key]

    def _holdout(self, group: str, release: str) -> dict[str, Any]:
        model = self.model(release)
        if isinstance(model, str):
            return {"error": model}
        pin = model.release.groups.get(group)
        if pin is None:
            return {"error": f"release {release} has no group {group!r}"}
        meta = self.store.group_meta(group, pin.version)
        holdout = self.store.holdout(group, pin.version)
        threshold = model.schema.groups[group].monitor.drift
        out: dict[str, Any] = {"version": pin.version, "threshold": threshold, "n": len(holdout),
                               "accuracy": meta.metrics.get("accuracy"), "metric": meta.gate_metric,
                               "metric_value": meta.metrics.get(meta.gate_metric)}
        if len(holdout) == 0:
            out["labels"] = {}
            return out
        results = model.predict(holdout.inputs)
        answers = [_answer(r["groups"][group]) for r in results]
        out["labels"] = label_counts(answers)
        return out


def _answer(g: GroupResult) -> tuple[list[str], str]:
    if "labels" in g and "label" not in g:
        return list(g.get("labels") or []), str(g.get("outcome"))
    label = g.get("label")
    return ([label] if label is not None else []), str(g.get("outcome"))


def _histogram(values: list[float]) -> dict[str, Any]:
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=BINS, range=(0.0, 1.0))
    return {"edges": [round(float(e), 2) for e in edges], "counts": counts.astype(int).tolist(),
            "mean": round(float(np.mean(values)), 4) if values else None}


def _realized(rows: list[ServedRow], annotations: dict[str, Any], labels: list[str]) -> dict[str, Any]:
    """Of the rows whose captured sample is annotated now for the group: how many (`n`), how many got a
    label (`labelled`), and the share of those answered right (`accuracy`, comparable to the holdout's)."""
    right = n = labelled = 0
    for row in rows:
        if row.outcome == GATED_OFF or row.sample is None or annotations.get(row.sample) is None:
            continue
        n += 1
        if row.outcome != "labelled":
            continue
        given = annotations[row.sample]
        labelled += 1
        if row.label is not None and row.label.startswith("["):
            chosen = set(row.labels)
            right += all((lab in chosen) == present for lab, present in truths(given, labels).items())
        else:
            right += row.label == given
    return {"n": n, "labelled": labelled, "accuracy": round(right / labelled, 4) if labelled else None}


def release_figures(rows: list[ServedRow], holdout: dict[str, Any], annotations: dict[str, Any],
                    labels: list[str]) -> dict[str, Any]:
    """The figures of one group and release."""
    outcomes = Counter(r.outcome for r in rows)
    n = len(rows)
    served = label_counts([(r.labels, r.outcome) for r in rows])
    confidences = [r.confidence for r in rows if r.confidence is not None]
    out: dict[str, Any] = {
        "n": n, "version": holdout.get("version", rows[-1].version), "first": rows[0].at, "last": rows[-1].at,
        "sources": dict(Counter(r.source for r in rows)), "labels": served, "outcomes": dict(outcomes),
        "shares": {name: round(sum(outcomes[o] for o in kinds) / n, 4) for name, kinds in (
            ("abstained", ("abstained",)), ("review", ("review",)), ("rejected", ("rejected",)),
            ("below_threshold", ("below_threshold",)), ("gated_off", (GATED_OFF,)))},
        "confidence": _histogram(confidences),
        "holdout": {k: holdout.get(k) for k in ("n", "accuracy", "metric", "metric_value", "labels", "error")
                    if holdout.get(k) is not None},
        "realized": _realized(rows, annotations, labels),
    }
    score = js_distance(_share(served), _share(holdout.get("labels") or {}))
    threshold = float(holdout.get("threshold", 0.1))
    ok = not math.isnan(score)
    out["drift"] = {"score": round(score, 4) if ok else None, "threshold": threshold,
                    "flagged": bool(ok and score > threshold)}
    return out


def _annotations(store: ModelStore, rows: list[ServedRow]) -> dict[str, dict[str, Any]]:
    """Sample id -> current annotations, for the captured samples of the rows (empty without a sample store)."""
    from compose.store.sample_db import sample_store_exists
    from compose.store.samples import SampleStore

    if not sample_store_exists(store.samples_home):
        return {}
    ids = {r.sample for r in rows if r.sample is not None}
    out: dict[str, dict[str, Any]] = {}
    with SampleStore.open(store.samples_home, create=False) as samples:
        for sample_id in ids:
            try:
                out[sample_id] = dict(samples.get(sample_id).annotations)
            except ComposeError:
                continue  # a sample removed since
    return out


def monitor(store: str | Path, model: str | None = None, *, since: str | None = None,
            release: str | None = None) -> dict[str, Any]:
    """The monitoring report of a model's served answers (see the module's docstring)."""
    s = ModelStore.open(store, model)
    if release is not None and release not in {release_name(n) for n in s.release_numbers()}:
        raise DataError(f"--release {release}: {s.path} has no such release; list them with "
                        f"compose releases --store {store}")
    with ServedLog.open(s.samples_home, create=False) as log:  # beside the sample store
        rows = log.rows(since=since, release=release)
    by: dict[str, dict[str, list[ServedRow]]] = {}
    for row in rows:
        by.setdefault(row.group, {}).setdefault(row.release, []).append(row)
    releases = _Releases(s)
    annotations = _annotations(s, rows)
    groups: dict[str, Any] = {}
    for group, per_release in sorted(by.items()):
        figures = {}
        for name, group_rows in sorted(per_release.items()):
            holdout = releases.holdout(group, name)
            labels = _labels_of(releases, name, group)
            given = {sid: a.get(group) for sid, a in annotations.items()}
            figures[name] = release_figures(group_rows, holdout, given, labels)
        latest = max(figures, key=lambda n: figures[n]["last"])
        groups[group] = {"release": latest, **figures[latest], "releases": figures}
    flagged = [g for g, f in groups.items() if f["drift"]["flagged"]]
    return {"model": s.name, "store": str(s.path), "since": since, "release": release, "rows": _served_rows(rows),
            "groups": groups, "flagged": flagged}


def _labels_of(releases: _Releases, release: str, group: str) -> list[str]:
    model = releases.model(release)
    if isinstance(model, str) or group not in model.schema.groups:
        return []
    return model.schema.labels_of(group)


def _served_rows(rows: list[ServedRow]) -> int:
    """Requests' rows (one served row has one answer per group)."""
    return len({(r.at, r.sample, r.release) for r in rows}) if rows else 0


def lines(report: dict[str, Any]) -> list[str]:
    """A short text summary, one line per group."""
    out = [f"{report['model']}: {report['rows']} served rows" + (f" since {report['since']}" if report['since']
                                                                 else "")]
    for group, g in report["groups"].items():
        drift = g["drift"]
        score = "-" if drift["score"] is None else f"{drift['score']:.3f}"
        conf = g["confidence"]["mean"]
        acc = g["holdout"].get("accuracy")
        real = g["realized"]
        out.append(f"  {group} ({g['release']}, {version_name(g['version']) if g['version'] else '-'}): n={g['n']} "
                   f"drift={score}{' FLAGGED' if drift['flagged'] else ''} (>{drift['threshold']:g}) "
                   f"mean confidence={'-' if conf is None else f'{conf:.3f}'} holdout accuracy="
                   f"{'-' if acc is None else f'{acc:.3f}'} abstained={g['shares']['abstained']:.1%} "
                   f"review={g['shares']['review']:.1%} gated off={g['shares']['gated_off']:.1%}"
                   + (f" realized={real['accuracy']:.3f} on {real['n']}" if real["n"] else ""))
    return out
