"""ONNX export of a release, and a runner on onnxruntime that gives compose's merged results.

    out/
      manifest.json                  # labels, decisions, `when` gates, versions, graph files and sha256s
      features/<feature>.onnx        # inputs -> the feature's matrix
      heads/<group>.onnx             # the head's stacked features -> probabilities of each of its estimators

`export_onnx` converts every feature and head of a release (`compose.export.graphs`), then runs the
runner it wrote against compose itself on each group's stored holdout rows and refuses, naming the
component, when a feature value or a probability differs by more than `tolerance` (1e-5).
`load(out).predict(rows)` gives the same merged results as `ComposedModel.predict`: the runner
plugs its scoring (`OnnxScorer`: onnxruntime on the head graphs) into compose's execution core
(`compose.runtime.execute`), which gates, decides and merges for both.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compose.data.io import as_frame
from compose.data.targets import prepare_inputs
from compose.errors import ExportError, IntegrityError
from compose.export.graphs import INSTALL_HINT, estimator_graph, feature_graph, require_onnx, stack_estimators
from compose.featurize.base import join_text
from compose.featurize.rows import prepare_row
from compose.heads.head import ConstantProbability, Head
from compose.runtime.execute import execute
from compose.runtime.model import ComposedModel
from compose.runtime.outputs import GroupOutput
from compose.runtime.predictions import Predictions
from compose.schema.models import Schema
from compose.store.records import Release
from compose.typing import MergedResult

FORMAT = "compose-onnx/1"
MANIFEST = "manifest.json"
TOLERANCE = 1e-5
#: Rows run at a time: ONNX gives TF-IDF as a dense matrix (128 rows x 100,000 words: 100 MB).
CHUNK = 128
#: Rows compared at a time by the parity check (compose's sparse matrices are made dense for it).
PARITY_CHUNK = 64


@dataclass
class ExportReport:
    """What `export_onnx` wrote and the parity it measured (max absolute difference per component)."""

    out: Path
    release: str
    files: list[str] = field(default_factory=list)
    parity: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"exported release {self.release} to {self.out}: {len(self.files)} ONNX graphs and {MANIFEST}"]
        out += [f"  {name:<40} max |onnx - compose| {diff:.2e}" for name, diff in self.parity.items()]
        out += [f"  {g}: no stored holdout rows, parity not checked" for g in self.unchecked]
        return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_onnx(store: str | Path, out: str | Path, *, model: str | None = None, release: str | None = None,
                tolerance: float = TOLERANCE) -> ExportReport:
    """Export a release (default: the live one) as ONNX graphs plus a manifest, checked on holdout rows."""
    require_onnx()
    from compose.runtime.load import load

    composed = load(store, model=model, release=release)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise ExportError(f"--out {out} exists and is not an earlier ONNX export; name an empty or new folder")
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    staging.mkdir(parents=True)
    try:
        manifest = _write_graphs(composed, staging)
        report = ExportReport(out, composed.release_name, sorted(manifest["files"]))
        runner = OnnxModel(staging, manifest=manifest)
        check_parity(composed, runner, report, tolerance)
        manifest["parity"] = {"tolerance": tolerance, "max_abs_diff": report.parity, "rows": report.rows}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_graphs(composed: ComposedModel, folder: Path) -> dict[str, Any]:
    import onnx
    import onnxruntime

    schema = composed.schema
    files: dict[str, str] = {}

    def save(rel: str, proto: Any) -> str:
        data = proto.SerializeToString()
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = _sha256(data)
        return rel

    features: dict[str, Any] = {}
    for f in sorted(composed.widths_):
        graph = feature_graph(f, composed.features_[f])
        features[f] = {"file": save(f"features/{f}.onnx", graph.model), "kind": graph.kind, "inputs": graph.inputs,
                       "width": composed.widths_[f]}
    groups: dict[str, Any] = {}
    for g in composed.groups:
        head = composed.heads_[g]
        width = sum(composed.widths_[f] for f in head.features)
        estimators: list[dict[str, Any]] = []
        graphs: list[Any] = []
        dtypes: set[str] = set()
        for j, est in enumerate(head.estimators_):
            what = f"group {g!r}" + (f", label {head.labels[j]!r}" if head.kind == "multilabel" else "")
            entry: dict[str, Any] = {"classes": head.classes_[j]}
            if isinstance(est, ConstantProbability):
                entry["constant"] = est.value
            else:
                proto, dtype = estimator_graph(what, est, width)
                graphs.append(proto)
                dtypes.add(dtype)
                entry["output"] = len(graphs) - 1
            estimators.append(entry)
        spec = schema.groups[g]
        groups[g] = {"type": head.kind, "labels": head.labels, "features": head.features,
                     "decision": spec.decision.model_dump(mode="json", exclude_defaults=True), "when": spec.when,
                     "version": composed.version_of(g), "estimators": estimators}
        if graphs:
            if len(dtypes) > 1:
                raise ExportError(f"group {g!r}: its estimators read {sorted(dtypes)} inputs; one graph needs one")
            stacked, _ = stack_estimators(graphs)
            groups[g].update(file=save(f"heads/{g}.onnx", stacked), input=dtypes.pop())
    pins = composed.release.to_json()  # the release record: its pins and tuned decisions (decision_version)
    from compose.store.files import library_versions

    return {"format": FORMAT, "model": schema.name, "release": pins, "schema": schema.to_dict(),
            "order": composed.groups, "features": features, "groups": groups, "files": files,
            "libraries": {**library_versions(), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}}


# --------------------------------------------------------------------------------------------------
# Parity


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)


def _refuse(component: str, diff: float, group: str, n: int, tolerance: float) -> ExportError:
    return ExportError(f"{component}: the ONNX graph differs from compose by {diff:.3g} (more than {tolerance:g}) on "
                       f"the {n} stored holdout rows of group {group!r}; it is not exported. Choose an estimator or "
                       "feature setting on the ONNX allow-list (README, ONNX export) or keep this model in compose")


def check_parity(composed: ComposedModel, runner: OnnxModel, report: ExportReport, tolerance: float) -> None:
    """Compare each feature, each estimator and each group's scores on the group's stored holdout rows.

    The holdouts of all groups are run as one batch, PARITY_CHUNK rows at a time (ONNX gives TF-IDF
    as a dense matrix); each group is judged on its own rows.
    """
    import pandas as pd

    store = composed.store
    if store is None:
        raise ExportError("the model has no store, so its holdout rows cannot be read for the parity check")
    frames, owner = [], []
    for g in composed.groups:
        inputs = store.holdout(g, composed.version_of(g)).inputs
        if len(inputs) == 0:
            report.unchecked.append(g)
            continue
        frames.append(inputs)
        owner += [g] * len(inputs)
        report.rows[g] = len(inputs)
    if not frames:
        return
    batch = pd.concat(frames, ignore_index=True)
    owners = np.array(owner, dtype=object)
    for start in range(0, len(batch), PARITY_CHUNK):
        part = batch.iloc[start:start + PARITY_CHUNK].reset_index(drop=True)
        _compare(composed, runner, part, owners[start:start + PARITY_CHUNK], report, tolerance)


def _compare(composed: ComposedModel, runner: OnnxModel, part: Any, owners: np.ndarray, report: ExportReport,
             tolerance: float) -> None:
    mine = {f: _dense(x) for f, x in composed.transform_features(part).items()}
    columns = runner.columns(part)
    theirs = {f: runner.feature(f, columns, len(part)) for f in mine}
    scores_compose, scores_onnx = composed.predict_scores(part), runner.predict_scores(part)
    expected, got = composed.predict(part), runner.predict(part)

    def track(name: str, diff: float, component: str, g: str) -> None:
        report.parity[name] = max(report.parity.get(name, 0.0), diff)
        if diff > tolerance:
            raise _refuse(component, diff, g, report.rows[g], tolerance)

    for g in dict.fromkeys(owners):
        rows = np.flatnonzero(owners == g)
        head = composed.heads_[g]
        for f in head.features:
            track(f"feature {f}", float(np.abs(mine[f][rows] - theirs[f][rows]).max()), f"feature {f!r}", g)
        x = np.hstack([mine[f][rows] for f in head.features])
        probas = runner.probabilities(g, x)
        for j, est in enumerate(head.estimators_):
            what = f"group {g!r}" + (f", label {head.labels[j]!r}" if head.kind == "multilabel" else "")
            track(f"head {g}", float(np.abs(est.predict_proba(x) - probas[j]).max()),
                  f"{what} ({type(est).__name__})", g)
        a, b = scores_compose[g][rows], scores_onnx[g][rows]
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            raise _refuse(f"the `when` gate of group {g!r}", 1.0, g, report.rows[g], tolerance)
        track(f"group {g} (merged)", float(np.nanmax(np.abs(a - b), initial=0.0)), f"group {g!r}", g)
        tree = composed.schema.hierarchy_of(g)
        rg = g if tree is None else tree[0].group  # a hierarchy's heads answer in its one result
        if any(expected[int(r)]["groups"][rg].get(k) != got[int(r)]["groups"][rg].get(k)
               for r in rows for k in ("label", "labels", "path")):
            raise _refuse(f"the decided labels of group {g!r}", 1.0, g, report.rows[g], tolerance)


# --------------------------------------------------------------------------------------------------
# The runner


def _session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(f"running an ONNX export needs onnxruntime: {INSTALL_HINT}") from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # one row at a time is latency-bound; threads only add hand-offs
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types are not importable by name
        raise ExportError(f"{path}: onnxruntime cannot load this graph ({exc}); the text graphs need the "
                          "C.UTF-8 locale") from exc


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class OnnxScorer:
    """The `Scorer` of an ONNX export on one batch: each group's head graph on its stacked features."""

    def __init__(self, runner: OnnxModel, blocks: Mapping[str, np.ndarray]) -> None:
        self.runner = runner
        self.blocks = blocks
        self.stacked: dict[tuple[str, ...], np.ndarray] = {}  # hstacked blocks, once per feature tuple

    def scores(self, group: str, rows: np.ndarray | None) -> np.ndarray:
        key = tuple(self.runner.heads_[group].features)
        if key not in self.stacked:
            self.stacked[key] = np.hstack([self.blocks[f] for f in key])
        x = self.stacked[key]
        return self.runner.head_scores(group, x if rows is None else x[rows])


class OnnxModel:
    """An ONNX export loaded on onnxruntime: `predict(rows)` gives compose's merged results.

    Load one with `compose.export.onnx.load(folder)`. It reads the graphs and the manifest only;
    no scikit-learn estimator is unpickled.
    """

    def __init__(self, path: str | Path, *, manifest: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        if manifest is None:
            manifest = self._read_manifest()
        self.manifest = manifest
        self.schema = Schema.model_validate(manifest["schema"])
        self.release = Release.model_validate(manifest["release"])
        self.groups: list[str] = list(manifest["order"])
        self.heads_: dict[str, Head] = {
            g: Head(g, spec["type"], list(spec["labels"]), list(spec["features"]))
            for g, spec in manifest["groups"].items()}
        self._features = {f: _session(self.path / spec["file"]) for f, spec in manifest["features"].items()}
        self._heads = {g: _session(self.path / spec["file"])
                       for g, spec in manifest["groups"].items() if "file" in spec}

    def _read_manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        if not path.is_file():
            raise ExportError(f"{self.path} is not an ONNX export of compose (no {MANIFEST}); write one with "
                              "`compose export --store DIR --format onnx --out DIR`")
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{path} is corrupt ({exc}); export the release again") from exc
        if manifest.get("format") != FORMAT:
            raise ExportError(f"{path}: format {manifest.get('format')!r} is not {FORMAT!r}; export the release again "
                              "with this version of compose")
        for rel, digest in manifest.get("files", {}).items():
            graph = self.path / rel
            if not graph.is_file() or _sha256(graph.read_bytes()) != digest:
                raise IntegrityError(f"{graph} is missing or does not match the sha256 in {path}; export again")
        return manifest

    @property
    def release_name(self) -> str:
        return self.release.release

    def version_of(self, group: str) -> int:
        return self.release.groups[group].version

    def __repr__(self) -> str:
        return f"OnnxModel(name={self.schema.name!r}, release={self.release_name!r}, groups={self.groups})"

    # --- inputs and graphs ---------------------------------------------------------------------

    def columns(self, data: Any) -> dict[str, list[Any]]:
        """The inputs typed as compose types them: rows as mappings (the row path) or a table."""
        rows = [data] if isinstance(data, Mapping) else data
        if isinstance(rows, Sequence) and not isinstance(rows, str) and all(isinstance(r, Mapping) for r in rows):
            prepared = [prepare_row(self.schema, r) for r in rows]
            if all(p is not None for p in prepared):
                return {name: [p[name] for p in prepared if p is not None] for name in self.schema.inputs}
        frame = prepare_inputs(as_frame(data), self.schema)  # validates, and names a bad row
        return {name: frame[name].tolist() for name in self.schema.inputs}

    def feature(self, name: str, columns: Mapping[str, list[Any]], n: int) -> np.ndarray:
        """The feature's matrix (n_rows, width) in double precision."""
        spec = self.manifest["features"][name]
        if n == 0:
            return np.zeros((0, int(spec["width"])))
        feeds: dict[str, np.ndarray] = {}
        if spec["kind"] == "text":
            cols = spec["inputs"][0]["columns"]
            docs = [join_text(values) for values in zip(*(columns[c] for c in cols), strict=True)]
            feeds["text"] = np.array(docs, dtype=object).reshape(-1, 1)
        else:
            for feed in spec["inputs"]:
                values = columns[feed["column"]]
                if feed["type"] == "number":
                    feeds[feed["name"]] = np.asarray(values, dtype=np.float64).reshape(-1, 1)
                else:
                    feeds[feed["name"]] = np.array([feed["missing"] if _missing(v) else str(v) for v in values],
                                                   dtype=object).reshape(-1, 1)
        return np.asarray(self._features[name].run(None, feeds)[0], dtype=np.float64)

    def probabilities(self, group: str, x: np.ndarray) -> list[np.ndarray]:
        """The probabilities of each estimator of `group` for the stacked features x (one onnxruntime call)."""
        spec = self.manifest["groups"][group]
        outs: list[Any] = []
        if "file" in spec:
            dtype = np.float32 if spec["input"] == "float" else np.float64
            outs = self._heads[group].run(None, {"X": np.ascontiguousarray(x, dtype=dtype)})
        probas = []
        for entry in spec["estimators"]:
            if "constant" in entry:
                p = np.full(x.shape[0], float(entry["constant"]))
                probas.append(np.column_stack([1.0 - p, p]))
            else:
                probas.append(np.asarray(outs[entry["output"]], dtype=np.float64))
        return probas

    def head_scores(self, group: str, x: np.ndarray) -> np.ndarray:
        """The scores of `group`'s head (n_rows, n_labels) for its stacked features x."""
        head = self.heads_[group]
        entries = self.manifest["groups"][group]["estimators"]
        out = np.zeros((x.shape[0], len(head.labels)))
        if x.shape[0] == 0:
            return out
        probas = self.probabilities(group, x)
        if head.kind == "multilabel":
            for j, entry in enumerate(entries):
                classes = list(entry["classes"])
                out[:, j] = probas[j][:, classes.index(1)] if 1 in classes else 0.0
            return out
        out[:, entries[0]["classes"]] = probas[0]
        return out

    # --- execution (compose.runtime.execute: the core ComposedModel runs too) --------------------

    def _chunks(self, data: Any) -> Iterator[dict[str, GroupOutput]]:
        """The outputs of every group, CHUNK rows at a time (an ONNX TF-IDF matrix is dense)."""
        columns = self.columns(data)
        n = len(next(iter(columns.values()))) if columns else 0
        for start in range(0, max(n, 1), CHUNK):
            part = {c: v[start:start + CHUNK] for c, v in columns.items()}
            yield self._execute(part, min(CHUNK, n - start))

    def _execute(self, columns: Mapping[str, list[Any]], n: int) -> dict[str, GroupOutput]:
        """Every group's output, through the execution core (gating, decisions) with onnxruntime's scores."""
        blocks = {f: self.feature(f, columns, n) for f in self.manifest["features"]}
        return execute(self, OnnxScorer(self, blocks), n)

    def predict(self, data: Any) -> list[MergedResult]:
        """One merged result per row, the same as `ComposedModel.predict` gives (the same merge code)."""
        return [r for outputs in self._chunks(data) for r in Predictions(self, outputs).to_list()]

    def predict_one(self, row: Mapping[str, Any]) -> MergedResult:
        """The merged result of one row given as a mapping of input name to value."""
        return Predictions(self, next(self._chunks([row])))[0]

    def predict_scores(self, data: Any) -> dict[str, np.ndarray]:
        """Per group, the scores (n_rows, n_labels); NaN rows where a conditional head did not run."""
        parts = list(self._chunks(data))
        return {g: np.vstack([p[g].scores for p in parts]) for g in self.groups}


def load(path: str | Path) -> OnnxModel:
    """Load an ONNX export written by `export_onnx` (every graph checked against the manifest's sha256)."""
    return OnnxModel(path)
