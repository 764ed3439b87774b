"""The registry: built-ins first, entries added on an instance or through entry points, install hints,
and a featurizer defined only here trained, saved, loaded and predicted with."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

import compose
from compose.errors import PluginError, RegistryError, SchemaError
from compose.featurize.base import FeaturizerBase
from compose.registry import InputKind, Registry, default_registry
from compose.schema.load import parse_schema
from compose.schema.models import FeatureSpec, Schema
from compose.store.store import ModelStore

SCHEMA = """\
schema_version: 1
name: films
inputs:
  title: {type: text}
  runtime: {type: number, required: false}
features:
  shape: {type: lengths, inputs: [title], params: {scale: 10.0}}
  length: {type: tabular, inputs: [runtime]}
groups:
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    features: [shape, length]
"""


class Lengths(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Characters and words of each text column, divided by `scale`."""

    def __init__(self, columns: tuple[str, ...] = (), scale: float = 1.0) -> None:
        self.columns = columns
        self.scale = scale

    def fit(self, X: pd.DataFrame, y: Any = None) -> Lengths:  # noqa: N803
        self.n_columns_ = 2 * len(self.columns)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        cols = []
        for c in self.columns:
            text = X[c].fillna("").astype(str)
            cols += [text.str.len().to_numpy(float), text.str.split().str.len().to_numpy(float)]
        return np.column_stack(cols) / self.scale


class LengthsFeaturizer(FeaturizerBase):
    """A featurizer defined only in the tests."""

    accepts = frozenset({"text"})

    def param_names(self) -> Collection[str]:
        return ["scale"]

    def build(self, spec: FeatureSpec, schema: Schema) -> Lengths:
        return Lengths(tuple(spec.inputs), float(spec.params.get("scale", 1.0)))

    def width(self, fitted: Any) -> int:
        return int(fitted.n_columns_)


@pytest.fixture(scope="module")
def films(movies_csv: Path) -> pd.DataFrame:
    return pd.read_csv(movies_csv)[["title", "runtime", "decade"]]


def _with_lengths() -> Registry:
    registry = default_registry()
    registry.add_featurizer("lengths", LengthsFeaturizer)
    return registry


def test_the_default_registry_holds_the_built_ins() -> None:
    registry = Registry(entry_points=False)
    assert registry.names("featurizers") == ["color_histogram", "embedding", "hog", "onnx_embedding", "tabular",
                                             "tfidf"]
    assert registry.input_kinds() == ["text", "number", "category", "image"]
    assert {"logistic_regression", "random_forest", "knn"} <= set(registry.names("estimators"))
    assert Registry(builtins=False, entry_points=False).names("featurizers") == []


def test_two_registries_never_share_entries() -> None:
    a, b = default_registry(), default_registry()
    a.add_featurizer("lengths", LengthsFeaturizer)
    assert (a.has("featurizers", "lengths"), b.has("featurizers", "lengths")) == (True, False)


def test_a_name_is_registered_once_unless_replaced() -> None:
    registry = _with_lengths()
    with pytest.raises(RegistryError, match=r"featurizer 'lengths' is already registered .*replace=True"):
        registry.add_featurizer("lengths", LengthsFeaturizer)
    registry.add_featurizer("lengths", "test_registry.LengthsFeaturizer", replace=True)
    assert isinstance(registry.featurizer("lengths"), LengthsFeaturizer)


def test_an_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(RegistryError, match=r"unknown featurizer 'tfid'\. Did you mean 'tfidf'\? Registered: "):
        Registry(entry_points=False).featurizer("tfid")


def test_an_entry_that_cannot_be_imported_says_what_to_install_and_chains_the_import_error() -> None:
    registry = default_registry()
    registry.add_featurizer("clip", "no_such_package.vision.Clip", err="pip install 'compose-groups[image]'")
    with pytest.raises(PluginError, match=r"featurizer 'clip' needs module 'no_such_package\.vision'.*"
                                          r"pip install 'compose-groups\[image\]'") as info:
        registry.featurizer("clip")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_the_registry_imports_no_scikit_learn() -> None:
    import subprocess

    code = ("import sys, compose.registry as r; reg = r.default_registry(); reg.names('featurizers'); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_schema_validation_asks_the_registry_for_feature_types() -> None:
    with pytest.raises(SchemaError, match=r"features\.shape\.type at <string>:7: unknown featurizer 'lengths'"):
        parse_schema(SCHEMA, registry=Registry(entry_points=False))
    assert parse_schema(SCHEMA, registry=_with_lengths()).features["shape"].type == "lengths"


def test_schema_validation_asks_the_featurizer_for_its_params_and_input_kinds() -> None:
    text = SCHEMA.replace("inputs: [title], params: {scale: 10.0}", "inputs: [title, runtime], params: {scal: 1}")
    with pytest.raises(SchemaError) as info:
        parse_schema(text, registry=_with_lengths())
    assert info.value.problems == [
        "features.shape.inputs.1 at <string>:7: a lengths feature reads text inputs, but input 'runtime' is "
        "number; read it with a 'tabular' feature",
        "features.shape.params.scal at <string>:7: unknown lengths parameter 'scal'. Did you mean 'scale'? "
        "Allowed: ['scale'].",
    ]


def test_an_input_kind_is_allowed_once_registered() -> None:
    text = SCHEMA.replace("title: {type: text}", "title: {type: slug}")
    with pytest.raises(SchemaError, match=r"inputs\.title\.type at <string>:4: unknown input type 'slug'\. "
                                          r"Allowed: \['text', 'number', 'category', 'image'\]"):
        parse_schema(text, registry=_with_lengths())
    registry = _with_lengths()
    registry.add_input_kind(InputKind("slug", description="a URL slug"))
    registry.add_featurizer("slugs", type("Slugs", (LengthsFeaturizer,), {"accepts": frozenset({"slug"})}))
    text = text.replace("type: lengths", "type: slugs")
    assert parse_schema(text, registry=registry).inputs["title"].type == "slug"


def test_an_estimator_registered_on_the_instance_is_built_with_its_defaults() -> None:
    registry = default_registry()
    registry.add_estimator("shallow_forest", "sklearn.ensemble.RandomForestClassifier",
                           defaults={"n_estimators": 7, "random_state": 0})
    est = registry.build_estimator("shallow_forest", {"max_depth": 2})
    assert (type(est).__name__, est.n_estimators, est.max_depth) == ("RandomForestClassifier", 7, 2)


def test_a_featurizer_defined_in_the_tests_trains_saves_loads_and_predicts(
    tmp_path: Path, films: pd.DataFrame
) -> None:
    registry = _with_lengths()
    schema = parse_schema(SCHEMA, registry=registry)
    trained = compose.train(schema, films, store=tmp_path, registry=registry)
    loaded = compose.load(tmp_path / "films", registry=registry)
    assert loaded.predict(films.head(20)) == trained.predict(films.head(20))
    assert loaded.row_featurizers_["shape"][1] == "frame"  # no row path of its own: a one-row frame
    row = films.iloc[3][["title", "runtime"]].to_dict()
    assert loaded.predict_one(row)["groups"]["decade"]["scores"] == loaded.predict([row])[0]["groups"]["decade"][
        "scores"]
    meta = json.loads(next((tmp_path / "films" / "features" / "shape").glob("v*/meta.json")).read_text())
    assert meta["plugin"] == {"name": "lengths", "module": "test_registry", "distribution": "", "version": ""}


def test_loading_without_the_featurizer_names_it(tmp_path: Path, films: pd.DataFrame) -> None:
    registry = _with_lengths()
    compose.train(parse_schema(SCHEMA, registry=registry), films, store=tmp_path, registry=registry)
    with pytest.raises(PluginError, match=r"feature 'shape' v0001 .* was made by featurizer 'lengths' \(module "
                                          r"'test_registry', no installed distribution\), which is not available"):
        compose.load(tmp_path / "films", registry=Registry(entry_points=False))


PLUGIN = '''
"""A third-party featurizer package, installed as a dist-info on sys.path."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from compose.featurize.base import FeaturizerBase


class Vowels(TransformerMixin, BaseEstimator):
    def __init__(self, columns=()):
        self.columns = columns

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.column_stack([X[c].fillna("").astype(str).str.count("[aeiouAEIOU]").to_numpy(float)
                                for c in self.columns])


class VowelFeaturizer(FeaturizerBase):
    accepts = frozenset({"text"})

    def param_names(self):
        return []

    def build(self, spec, schema):
        return Vowels(tuple(spec.inputs))

    def width(self, fitted):
        return len(fitted.columns)
'''


@pytest.fixture
def vowels_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package `vowels_plugin` with a `compose.featurizers` entry point, importable from a folder."""
    site = tmp_path / "site"
    (site / "vowels_plugin").mkdir(parents=True)
    (site / "vowels_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = site / "vowels_plugin-1.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vowels-plugin\nVersion: 1.2.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[compose.featurizers]\nvowels = vowels_plugin:VowelFeaturizer\n",
                                           encoding="utf-8")
    (info / "top_level.txt").write_text("vowels_plugin\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("vowels_plugin", None)


def test_a_featurizer_from_an_entry_point_is_found_lazily_and_recorded(
    vowels_plugin: Path, tmp_path: Path, films: pd.DataFrame
) -> None:
    registry = default_registry()
    assert "vowels_plugin" not in sys.modules
    assert "vowels" in registry.names("featurizers") and "vowels_plugin" not in sys.modules  # read as a string
    schema = parse_schema(SCHEMA.replace("type: lengths", "type: vowels").replace(", params: {scale: 10.0}", ""))
    trained = compose.train(schema, films, store=tmp_path / "store")
    assert compose.load(tmp_path / "store" / "films").predict(films.head(5)) == trained.predict(films.head(5))
    meta = json.loads(next((tmp_path / "store/films/features/shape").glob("v*/meta.json")).read_text())
    assert meta["plugin"] == {"name": "vowels", "module": "vowels_plugin", "distribution": "vowels-plugin",
                              "version": "1.2.0"}


def test_an_artifact_whose_plugin_is_uninstalled_says_which_package_to_install(
    vowels_plugin: Path, tmp_path: Path, films: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = parse_schema(SCHEMA.replace("type: lengths", "type: vowels").replace(", params: {scale: 10.0}", ""))
    compose.train(schema, films, store=tmp_path / "store")
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(vowels_plugin)])
    sys.modules.pop("vowels_plugin", None)
    with pytest.raises(PluginError, match=r"was made by featurizer 'vowels' \(module 'vowels_plugin', "
                                          r"vowels-plugin 1\.2\.0\).*pip install 'vowels-plugin==1\.2\.0'"):
        compose.load(tmp_path / "store" / "films")
    store = ModelStore(tmp_path / "store" / "films")
    with pytest.raises(PluginError, match=r"needs 'vowels_plugin' to load, which is not importable here .*"
                                          r"pip install 'vowels-plugin==1\.2\.0'\. The file itself is intact"):
        store.load_version("features", "shape", 1)


def test_a_featurizer_module_whose_extra_is_missing_names_the_extra_and_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needs_extra.py").write_text("import not_installed_extra_xyz\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = default_registry()
    registry.add_featurizer("embedding", "needs_extra.Embedding", err="pip install 'compose-groups[embed]'",
                            replace=True)  # the built-in `embedding`, as if its extra were not installed
    with pytest.raises(PluginError, match=r"featurizer 'embedding' needs module 'needs_extra' \(which imports "
                                          r"'not_installed_extra_xyz'\).*; pip install 'compose-groups\[embed\]'"):
        registry.featurizer("embedding")


def test_an_artifact_whose_class_left_its_module_says_so_and_is_not_called_corrupt(
    vowels_plugin: Path, tmp_path: Path, films: pd.DataFrame
) -> None:
    schema = parse_schema(SCHEMA.replace("type: lengths", "type: vowels").replace(", params: {scale: 10.0}", ""))
    compose.train(schema, films, store=tmp_path / "store")
    source = vowels_plugin / "vowels_plugin" / "__init__.py"
    source.write_text(source.read_text(encoding="utf-8").replace("class Vowels(", "class Renamed("), encoding="utf-8")
    sys.modules.pop("vowels_plugin", None)
    with pytest.raises(PluginError, match=r"needs .*Vowels.* which is not importable here \(AttributeError: "
                                          r"Can't get attribute 'Vowels'.*pip install 'vowels-plugin==1\.2\.0'"):
        ModelStore(tmp_path / "store" / "films").load_version("features", "shape", 1)


def test_an_unreadable_artifact_with_a_matching_sha256_is_still_reported_as_not_loadable(
    tmp_path: Path, films: pd.DataFrame
) -> None:
    from compose.errors import IntegrityError
    from compose.store.files import sha256_file
    from compose.store.signing import checksum

    registry = _with_lengths()
    compose.train(parse_schema(SCHEMA, registry=registry), films, store=tmp_path, registry=registry)
    folder = tmp_path / "films" / "features" / "shape" / "v0001"
    (folder / "model.joblib").write_bytes(b"not a pickle at all")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["sha256"] = sha256_file(folder / "model.joblib")
    meta["meta_sha256"] = checksum(meta)  # a writer who also recomputes meta.json's own checksum
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"model\.joblib cannot be loaded"):
        ModelStore(tmp_path / "films").load_version("features", "shape", 1)
