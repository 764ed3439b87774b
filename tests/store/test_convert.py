"""The skops artifact format: trains, loads and predicts; a planted type is refused before it is built."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _schemas import BIRDS_HEADER

import compose
from compose.cli.main import main
from compose.store.signing import checksum

sio = pytest.importorskip("skops.io")

GROUPS = """\
  species:
    type: multiclass
    labels: [Adelie, Chinstrap, Gentoo]
  island:
    type: multiclass
    labels: [Biscoe, Dream, Torgersen]
    model: {estimator: random_forest, params: {n_estimators: 20}}
"""
SKOPS = BIRDS_HEADER + GROUPS + "store: {artifact_format: skops}\n"
JOBLIB = BIRDS_HEADER + GROUPS


class Planted:
    """A type that was never in the artifact; building it would write a marker file."""

    marker: str = ""

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["marker"]).write_text("built", encoding="utf-8")


@pytest.fixture(scope="module")
def frame(penguins_frame: pd.DataFrame) -> pd.DataFrame:
    return penguins_frame.sample(200, random_state=1).reset_index(drop=True)


def _same_scores(a: compose.ComposedModel, b: compose.ComposedModel, rows: pd.DataFrame) -> None:
    sa, sb = a.predict_scores(rows), b.predict_scores(rows)
    for g in sa:
        np.testing.assert_allclose(sa[g], sb[g], rtol=0, atol=1e-12)


def test_a_skops_store_trains_loads_and_predicts_like_joblib(tmp_path: Path, frame: pd.DataFrame) -> None:
    skops_model = compose.train(compose.parse_schema(SKOPS, source="s.yaml"), frame, store=tmp_path / "a")
    joblib_model = compose.train(compose.parse_schema(JOBLIB, source="j.yaml"), frame, store=tmp_path / "b")
    version = tmp_path / "a" / "birds" / "groups" / "island" / "v0001"
    assert sorted(p.name for p in version.iterdir()) == ["fit.skops", "holdout.skops", "meta.json", "model.skops"]
    meta = json.loads((version / "meta.json").read_text(encoding="utf-8"))
    assert meta["format"] == "skops"
    assert "sklearn.tree._tree.Tree" in meta["trusted_types"]["model.skops"]
    assert "compose.heads.head.Head" in meta["trusted_types"]["model.skops"]
    loaded = compose.load(tmp_path / "a")
    _same_scores(loaded, joblib_model, frame)
    _same_scores(loaded, skops_model, frame)
    held = loaded.store.load_extra("groups", "island", 1, "holdout")  # type: ignore[union-attr]
    assert isinstance(held["inputs"], pd.DataFrame) and list(held["inputs"].columns) == list(loaded.schema.inputs)
    assert compose.verify_store(tmp_path / "a").ok


def test_a_planted_skops_artifact_with_another_type_is_refused_before_it_is_built(
        tmp_path: Path, frame: pd.DataFrame) -> None:
    compose.train(compose.parse_schema(SKOPS, source="s.yaml"), frame, store=tmp_path / "m")
    model = tmp_path / "m" / "birds"
    version = model / "groups" / "species" / "v0001"
    marker = tmp_path / "built.txt"
    planted = Planted()
    planted.__dict__["marker"] = str(marker)
    (version / "model.skops").write_bytes(sio.dumps(planted))
    meta = json.loads((version / "meta.json").read_text(encoding="utf-8"))  # the writer recomputes every sha256
    meta["sha256"] = hashlib.sha256((version / "model.skops").read_bytes()).hexdigest()
    meta["meta_sha256"] = checksum(meta)
    (version / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    release_path = model / "releases" / "r0001.json"
    release = json.loads(release_path.read_text(encoding="utf-8"))
    release["groups"]["species"].update(sha256=meta["sha256"], meta_sha256=meta["meta_sha256"])
    body = {k: v for k, v in release.items() if k != "sha256"}
    release["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    release_path.write_text(json.dumps(release, indent=2), encoding="utf-8")
    planted_type = rf"\['{Planted.__module__}.Planted'\]"
    with pytest.raises(compose.IntegrityError, match=f"species/v0001/model.skops holds types {planted_type} that were"):
        compose.load(model)
    check = compose.verify_store(model)
    assert any(f"holds types ['{Planted.__module__}.Planted']" in p for p in check.problems)
    assert not marker.exists()


def test_convert_store_writes_new_skops_versions_and_keeps_the_joblib_release(
        tmp_path: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    before = compose.train(compose.parse_schema(JOBLIB, source="j.yaml"), frame, store=tmp_path / "m")
    assert main(["convert-store", "--store", str(tmp_path / "m"), "--to", "skops"]) == 0
    assert "release r0002 is live" in capsys.readouterr().out
    after = compose.load(tmp_path / "m")
    assert after.release_name == "r0002" and after.version_of("species") == 2
    meta = json.loads((tmp_path / "m" / "birds" / "groups" / "species" / "v0002" / "meta.json").read_text())
    assert (meta["format"], meta["converted_from"]["version"], meta["parents"]) == ("skops", 1, {"body": 2})
    assert meta["metrics"] == json.loads(
        (tmp_path / "m" / "birds" / "groups" / "species" / "v0001" / "meta.json").read_text())["metrics"]
    _same_scores(after, before, frame)
    _same_scores(compose.load(tmp_path / "m", release="r0001"), before, frame)
    assert main(["convert-store", "--store", str(tmp_path / "m"), "--to", "skops"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    report = compose.retrain(compose.parse_schema(JOBLIB, source="j.yaml"), frame, tmp_path / "m", group="species",
                             force=True)
    new = json.loads((tmp_path / "m" / "birds" / "groups" / "species" / f"v{report.groups['species'].version:04d}"
                      / "meta.json").read_text())
    assert new["format"] == "skops"  # new versions keep the live release's format


def test_train_format_on_the_command_line(tmp_path: Path, frame: pd.DataFrame) -> None:
    (tmp_path / "birds.yaml").write_text(JOBLIB, encoding="utf-8")
    frame.to_csv(tmp_path / "birds.csv", index=False)
    assert main(["-q", "train", str(tmp_path / "birds.yaml"), "--data", str(tmp_path / "birds.csv"), "--store",
                 str(tmp_path / "m"), "--format", "skops", "--jobs", "1"]) == 0
    assert (tmp_path / "m" / "birds" / "features" / "body" / "v0001" / "model.skops").is_file()
