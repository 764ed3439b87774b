"""`compose monitor`: served answers kept by `--capture`, per group and release, against the holdout.

A penguins model (species abstains under 0.9, sex answers only for Adelie) serves the real birds
in-process; the answers land in served.sqlite; the report reads them back. Then a shifted stream
(Gentoo only) flags the species group and the command exits 1.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import compose
from compose.cli.main import main
from compose.cli.monitor import since_time
from compose.evaluation.monitoring import js_distance, monitor
from compose.serve import create_app
from compose.store.samples import SampleStore
from compose.store.served import ServedLog

INPUTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def monitored_schema(base: Path, out: Path) -> Path:
    text = base.read_text(encoding="utf-8")
    text = text.replace("    model: {estimator: random_forest, params: {n_estimators: 200, min_samples_leaf: 3}}\n", "")
    text = text.replace("    labels: [Adelie, Chinstrap, Gentoo]\n    features: [body]\n",
                        "    labels: [Adelie, Chinstrap, Gentoo]\n    features: [body]\n"
                        "    decision: {min_confidence: 0.9}\n    monitor: {drift: 0.2}\n")
    text = text.replace("    labels: [female, male]\n    features: [body]\n",
                        "    labels: [female, male]\n    features: [body]\n    when: {species: [Adelie]}\n")
    out.write_text(text, encoding="utf-8")
    return out


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = frame[INPUTS].to_dict(orient="records")
    return [{str(k): (None if pd.isna(v) else v) for k, v in r.items()} for r in records]


def serve_rows(store: Path, rows: list[dict[str, Any]]) -> None:
    """Post the rows 20 at a time to a capturing app; return once the served log holds them all."""
    with TestClient(create_app(store, capture=True, learn=False)) as client:
        for i in range(0, len(rows), 20):
            assert client.post("/v1/predict", json={"rows": rows[i:i + 20]}).status_code == 200
        before = client.app.state.compose.capture  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (before.queue.empty() and before.served is not None):
            time.sleep(0.05)
        time.sleep(0.3)  # the batch taken off the queue is being written


@pytest.fixture(scope="module")
def served_store(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path,
                 penguins_frame: pd.DataFrame) -> tuple[Path, pd.DataFrame, str]:
    tmp = tmp_path_factory.mktemp("monitor")
    schema = monitored_schema(penguins_schema_path, tmp / "penguins.yaml")
    store = tmp / "store"
    compose.train(schema, penguins_frame, store=store, n_jobs=1)
    frame = penguins_frame.dropna(subset=INPUTS).reset_index(drop=True)
    serve_rows(store, rows_of(frame))
    time.sleep(0.01)
    return store, frame, since_time("0s")


def test_served_answers_are_logged_with_their_samples(served_store: tuple[Path, pd.DataFrame, str]) -> None:
    store, frame, _ = served_store
    with ServedLog.open(store / "penguins") as log:
        rows = log.rows(group="species")
    assert len(rows) == len(frame)
    assert {r.release for r in rows} == {"r0001"} and {r.source for r in rows} == {"model"}
    assert all(r.sample for r in rows)  # each names its captured sample
    sex = ServedLog.open(store / "penguins").rows(group="sex")
    assert {r.outcome for r in sex} == {"labelled", "skipped"}


def test_report_per_group(served_store: tuple[Path, pd.DataFrame, str]) -> None:
    store, frame, _ = served_store
    report = monitor(store)
    species = report["groups"]["species"]
    assert species["n"] == len(frame) and species["release"] == "r0001" and list(species["releases"]) == ["r0001"]
    # the very birds the model was trained and held out on: the label mix matches the holdout's
    assert species["drift"]["threshold"] == 0.2 and not species["drift"]["flagged"]
    assert 0 <= species["drift"]["score"] < 0.2
    assert sum(species["labels"].values()) == len(frame)
    assert species["shares"]["abstained"] == pytest.approx(species["outcomes"]["abstained"] / len(frame), abs=1e-4)
    assert species["shares"]["abstained"] > 0  # min_confidence 0.9 leaves some birds unlabelled
    hist = species["confidence"]
    assert sum(hist["counts"]) == len(frame) and len(hist["edges"]) == 11 and 0.5 < hist["mean"] <= 1
    assert species["holdout"]["accuracy"] > 0.9 and species["holdout"]["n"] > 0
    # served rows are new samples (a row without an id over HTTP); once they are annotated (the
    # labelling queue), the realized accuracy is known
    assert species["realized"]["labelled"] == 0
    with ServedLog.open(store / "penguins") as log:
        served = log.rows(group="species")
    schema = compose.load(store).schema
    with SampleStore.open(store / "penguins") as samples:
        for row, truth in zip(served, frame["species"], strict=True):
            samples.annotate(row.sample, "species", truth, schema)
    realized = monitor(store)["groups"]["species"]["realized"]
    assert realized["labelled"] > 0.8 * len(frame) and realized["accuracy"] > 0.9
    sex = report["groups"]["sex"]
    assert 0.5 < sex["shares"]["gated_off"] < 0.7  # answered for Adelie only
    assert sex["realized"]["n"] < len(frame) and sex["drift"]["threshold"] == 0.1
    assert report["flagged"] == []


def test_a_shifted_stream_is_flagged_and_exits_1(served_store: tuple[Path, pd.DataFrame, str], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    store, frame, since = served_store
    serve_rows(store, rows_of(frame[frame["species"] == "Gentoo"]))
    out_json, out_html = tmp_path / "m.json", tmp_path / "m.html"
    code = main(["monitor", "--store", str(store), "--since", since, "--json", str(out_json),
                 "--html", str(out_html)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert "drift flagged: " in text and "species" in text.split("drift flagged: ")[1]
    report = json.loads(out_json.read_text())
    species = report["groups"]["species"]
    assert species["drift"]["flagged"] and species["drift"]["score"] > 0.2
    assert species["n"] == int((frame["species"] == "Gentoo").sum())
    assert set(species["labels"]) <= {"Gentoo", "(none)"}
    page = out_html.read_text()
    assert "<h2>Monitoring</h2>" in page and page.count("data:image/png;base64,") == len(report["groups"])
    # over the whole history the shift is diluted by the first stream; the exit code follows the flags
    whole = tmp_path / "whole.json"
    code = main(["monitor", "--store", str(store), "--release", "r0001", "--json", str(whole)])
    flagged = json.loads(whole.read_text())["flagged"]
    assert code == (1 if flagged else 0)
    assert json.loads(whole.read_text())["groups"]["species"]["n"] > species["n"]


def test_bad_input_is_exit_2(served_store: tuple[Path, pd.DataFrame, str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str], penguins_csv: Path,
                             linear_penguins_schema: Path) -> None:
    store, _, _ = served_store
    assert main(["monitor", "--store", str(store), "--since", "yesterday"]) == 2
    assert "--since 'yesterday' is neither an ISO time" in capsys.readouterr().err
    assert main(["monitor", "--store", str(store), "--release", "r0042"]) == 2
    assert "no such release" in capsys.readouterr().err
    bare = tmp_path / "bare"
    compose.train(linear_penguins_schema, penguins_csv, store=bare, n_jobs=1)
    assert main(["monitor", "--store", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "has no served answers" in err and "--capture" in err


def test_js_distance_and_since() -> None:
    assert js_distance({"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 2.0}) == pytest.approx(0.0, abs=1e-9)
    assert js_distance({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)
    assert 0 < js_distance({"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5}) < 1
    assert math.isnan(js_distance({}, {"a": 1.0}))
    assert since_time("2026-05-01T12:00") == "2026-05-01T12:00:00.000+00:00"
    assert since_time("2026-05-01T14:00+02:00") == "2026-05-01T12:00:00.000+00:00"
