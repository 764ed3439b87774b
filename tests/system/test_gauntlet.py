"""The real-data gauntlet: every table of tests/_tables.py, as it comes, through the command line
and the server: train -> parity with plain scikit-learn -> predict -> evaluate -> learn (a tenth of
one group's labels changed) -> serve (50 rows posted without ids: a new release or the gate's verdict;
the same rows pre-annotated through the Label Studio backend with `compose predict`'s labels; the
captured answers monitored per group).

Parity (a row is a sample): for every group, the rows fitted plus the rows held out are the rows
labelled for it (less what `when` excludes), and on the same split the holdout accuracy equals a
plain scikit-learn pipeline of the same estimator and features within 0.005.
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.metrics import accuracy_score

import compose
from compose.cli.main import main
from compose.data.targets import outside_when
from compose.featurize.base import featurizer_of
from compose.labelstudio import label_config
from compose.registry import default_registry
from compose.store.sample_access import fitted_keys
from compose.store.samples import SampleStore
from tests._serve import Server
from tests._tables import TABLES, Table

POSTED = 50
FINISHED = ("released", "refused", "unchanged", "failed")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err, err
    return code, out, err


@pytest.fixture(scope="module", params=TABLES, ids=[t.name for t in TABLES])
def table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Table, Path, Path]:
    t: Table = request.param
    folder = tmp_path_factory.mktemp(t.name)
    (folder / "schema.yaml").write_text(t.schema, encoding="utf-8")
    t.load().to_csv(folder / "data.csv", index=False)
    return t, folder / "schema.yaml", folder / "data.csv"


def _parity(schema: compose.Schema, model_dir: Path) -> dict[str, tuple[float, float]]:
    """Per multiclass / binary group, (compose's holdout accuracy, plain scikit-learn's on the same rows);
    asserts that every labelled sample is fitted or held out."""
    store = compose.ModelStore(model_dir)
    live = store.release()
    registry = default_registry()
    out: dict[str, tuple[float, float]] = {}
    with SampleStore.open(model_dir) as samples:
        data = samples.read(schema)
        n = len(data.sids)
        train_rows = np.flatnonzero(~data.holdout)  # features are fitted outside the hash holdout
        blocks = {}
        for f in schema.features:
            transformer = featurizer_of(schema, f, registry).build(schema.features[f], schema)
            transformer.fit(data.inputs.iloc[train_rows])
            blocks[f] = transformer
        for g, spec in schema.groups.items():
            version = live.groups[g].version
            t = data.targets[g]
            labelled = t.labelled & ~outside_when(spec.when, data.targets, n)
            fitted = fitted_keys(store, samples, g, version)
            held = store.holdout(g, version)
            assert fitted is not None
            assert len(fitted) + len(held) == int(labelled.sum()), g  # every labelled row is fitted or held out
            assert set(fitted.tolist()) <= set(data.sids[labelled].tolist())
            if spec.type == "multilabel" or spec.model.estimator == "auto":
                continue
            if store.group_meta(g, version).source == "zero-shot":  # a cold start: no estimator to compare with
                continue
            rows = np.flatnonzero(np.isin(data.sids, fitted))
            feats = schema.features_of(g)

            def x(frame: pd.DataFrame, feats: list[str] = feats) -> sparse.csr_matrix:
                return sparse.hstack([sparse.csr_matrix(blocks[f].transform(frame)) for f in feats]).tocsr()

            estimator = clone(registry.build_estimator(spec.model.estimator, spec.model.params))
            estimator.fit(x(data.inputs.iloc[rows]), t.y[rows])
            plain = accuracy_score(held.y, estimator.predict(x(held.inputs)))
            out[g] = (float(store.group_meta(g, version).metrics["accuracy"]), float(plain))
    return out


def _changed(data: Path, schema: compose.Schema, folder: Path) -> tuple[Path, str, int]:
    """A copy of the table with a tenth of one group's labels moved to the next label."""
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    group = next(g for g, s in schema.groups.items() if s.type != "multilabel" and not s.when)
    labels = schema.labels_of(group)
    rows = [r for r, v in enumerate(frame[group]) if v in labels][::10]
    frame.loc[rows, group] = [labels[(labels.index(frame.at[r, group]) + 1) % len(labels)] for r in rows]
    path = folder / "changed.csv"
    frame.to_csv(path, index=False)
    return path, group, len(rows)


def test_the_gauntlet(table: tuple[Table, Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    t, schema_path, data = table
    schema = compose.load_schema(schema_path)
    store = tmp_path / "store"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = _run(capsys, "train", str(schema_path), "--data", str(data), "--store", str(store),
                            "--quiet")
        assert code == 0, err
        for g, (ours, plain) in _parity(schema, store / schema.name).items():
            assert abs(ours - plain) <= 0.005, (t.name, g, ours, plain)

        out = tmp_path / "p.jsonl"
        code, _, err = _run(capsys, "predict", "--store", str(store), "--data", str(data), "--out", str(out))
        assert code == 0, err
        results = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(results) == len(pd.read_csv(data)) and set(results[0]["groups"]) == set(schema.declared_groups)
        live = compose.ModelStore(store / schema.name)
        for g in schema.declared_groups:
            source = live.group_meta(g, live.release().groups[g].version).source
            assert {r["groups"][g].get("source", "model") for r in results if r["groups"][g].get("version")} \
                <= {source}, g  # a cold start's answers say so

        code, _, err = _run(capsys, "evaluate", "--store", str(store), "--data", str(data), "--split", "holdout",
                            "--json", str(tmp_path / "e.json"))
        assert code == 0, err

        changed, group, n_changed = _changed(data, schema, tmp_path)
        code, _, err = _run(capsys, "learn", "--store", str(store), "--data", str(changed), "--quiet")
        assert code in (0, 3), err  # released, or kept by the gate (exit 3, the verdict said)
        with SampleStore.open(store / schema.name) as samples:
            ids = samples.ids_of(changed, schema)
            stored = [samples.get(i).annotations.get(group) for i in ids]
        given = pd.read_csv(changed, dtype=str, keep_default_na=False)[group].tolist()
        if (place := schema.hierarchy_of(group)) is not None:  # the root's head keeps the path's top node
            given = [place[0].path(v)[0] if v else v for v in given]
        assert [s for s, v in zip(stored, given, strict=True) if v] == [v for v in given if v]  # the file's labels
    noisy = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    assert not noisy, [f"{w.category.__name__}: {w.message}" for w in noisy]
    assert n_changed > 0
    _serve(schema, store, data)
    code, _, err = _run(capsys, "monitor", "--store", str(store), "--json", str(tmp_path / "m.json"), "--quiet")
    assert code in (0, 1), err  # 1: a group's drift is flagged, said in the report
    report = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    unconditional = {g for g, spec in schema.declared_groups.items() if not spec.when}
    assert unconditional <= set(report["groups"]) <= set(schema.groups), report["groups"].keys()  # captured


def _serve(schema: compose.Schema, store: Path, data: Path) -> None:
    frame = pd.read_csv(data).tail(POSTED)
    for name, spec in schema.inputs.items():  # an image goes over HTTP as its bytes, never as a path
        if spec.type == "image":
            frame[name] = [base64.b64encode(Path(p).read_bytes()).decode("ascii") for p in frame[name]]
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]
    with Server(store, "--debounce", "0.2", "--capture") as srv, srv.client(headers=srv.auth) as c:
        _label_studio(c, schema, rows[:10])
        posted = c.post("/v1/samples", json={"rows": rows})
        assert posted.status_code == 200, posted.text
        body = posted.json()
        assert body["new_samples"] == POSTED and len(set(body["ids"])) == POSTED  # rows without ids are new
        if not body["scheduled"]:
            return
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = c.get("/v1/jobs").json()
            if jobs["jobs"] and not jobs["pending"] and all(j["status"] in FINISHED for j in jobs["jobs"]):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"no retrain finished within 120 s: {jobs}\n{srv.log()}")
        assert not [j for j in jobs["jobs"] if j["status"] == "failed"], jobs
        verdicts = [j for j in jobs["jobs"] if j["status"] in ("released", "refused")]  # a release or a verdict
        assert verdicts and all(j["release"] or (j["gate"] and not j["gate"]["passed"]) for j in verdicts), jobs


def _label_studio(c: httpx.Client, schema: compose.Schema, rows: list[dict[str, object]]) -> None:
    """Label Studio's pre-annotations for the rows are the labels `/v1/predict` answers (captured)."""
    predicted = c.post("/v1/predict", json={"rows": rows})
    assert predicted.status_code == 200, predicted.text
    tasks = [{"id": i, "data": row} for i, row in enumerate(rows)]
    answer = c.post("/labelstudio/predict", json={"tasks": tasks, "label_config": label_config(schema),
                                                  "project": "1.1700000000", "params": {"context": {}}})
    assert answer.status_code == 200, answer.text
    for got, want in zip(answer.json()["results"], predicted.json()["results"], strict=True):
        chosen = {r["from_name"]: sorted(r["value"]["choices"]) for r in got["result"]}
        wanted = {g: sorted(a["labels"]) if "labels" in a else [a["label"]]
                  for g, a in want["groups"].items() if a.get("label") is not None or a.get("labels")}
        assert chosen == wanted, (chosen, wanted)
