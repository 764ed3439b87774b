"""Dotted estimator paths: only `sklearn.` and a schema's `trusted_modules`; validating imports nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main

EVIL = '''\
from pathlib import Path
Path({marker!r}).write_text("imported", encoding="utf-8")

from sklearn.linear_model import LogisticRegression


class Thing(LogisticRegression):
    pass
'''

SCHEMA = """\
schema_version: 1
name: shop
{trusted}inputs:
  price: {{type: number}}
features:
  meta: {{type: tabular, inputs: [price]}}
groups:
  cheap:
    type: binary
    model: {{estimator: evil_mod.Thing}}
"""


@pytest.fixture
def evil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module `evil_mod` on sys.path that writes a marker file when it is imported."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "evil_mod.py").write_text(EVIL.format(marker=str(marker)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.delitem(sys.modules, "evil_mod", raising=False)
    return marker


def test_validate_refuses_an_untrusted_dotted_path_and_imports_nothing(
        evil: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SCHEMA.format(trusted=""), encoding="utf-8")
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "groups.cheap.model.estimator" in err and "outside the trusted modules ['sklearn.']" in err
    assert not evil.exists()
    assert "evil_mod" not in sys.modules


def test_a_trusted_module_is_not_imported_by_validation_only_by_training(evil: Path, tmp_path: Path) -> None:
    schema = compose.parse_schema(SCHEMA.format(trusted="trusted_modules: [evil_mod]\n"), source="shop.yaml")
    assert schema.trusted_modules == ["evil_mod"]
    assert not evil.exists() and "evil_mod" not in sys.modules
    frame = pd.DataFrame({"price": [1.0, 2.0, 3.0, 10.0, 11.0, 12.0] * 5, "cheap": ["cheap", "cheap", "cheap",
                                                                                   "not_cheap", "not_cheap",
                                                                                   "not_cheap"] * 5})
    compose.fit_and_release(schema, frame, tmp_path / "models", n_jobs=1)
    assert evil.read_text(encoding="utf-8") == "imported"


def test_a_prefix_is_a_module_boundary_not_a_string_prefix(evil: Path) -> None:
    text = SCHEMA.format(trusted="trusted_modules: [evil]\n")
    with pytest.raises(compose.SchemaError, match=r"'evil_mod.Thing' is outside the trusted modules"):
        compose.parse_schema(text, source="shop.yaml")
    assert not evil.exists()


def test_sklearn_paths_are_still_checked_for_their_parameters() -> None:
    text = SCHEMA.replace("evil_mod.Thing", "sklearn.linear_model.LogisticRegression, params: {{Cee: 1}}").format(
        trusted="")
    with pytest.raises(compose.SchemaError, match=r"LogisticRegression has no parameter 'Cee'"):
        compose.parse_schema(text, source="shop.yaml")


def test_a_trusted_module_must_be_a_dotted_name() -> None:
    with pytest.raises(compose.SchemaError, match=r"trusted_modules\.0"):
        compose.parse_schema(SCHEMA.format(trusted="trusted_modules: ['']\n"), source="shop.yaml")
