"""Shared fixtures: small real data sets (penguins from its package, a movies sample in tests/fixtures)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

import compose

# In CI the property tests run derandomized (a fixed seed), so a red build is always reproducible;
# locally every run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fixtures"
SCHEMAS = ROOT / "schemas"


@pytest.fixture(scope="session")
def penguins_frame() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


@pytest.fixture(scope="session")
def penguins_csv(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("penguins") / "penguins.csv"
    penguins_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def penguins_schema_path() -> Path:
    return SCHEMAS / "penguins.yaml"


@pytest.fixture(scope="session")
def movies_csv() -> Path:
    """1,200 real films (CC0), the first rows of examples/movies/movies.csv.gz."""
    return DATA / "movies_sample.csv"


@pytest.fixture(scope="session")
def movies_schema_path() -> Path:
    return SCHEMAS / "movies.yaml"


@pytest.fixture(scope="session")
def linear_penguins_schema(tmp_path_factory: pytest.TempPathFactory, penguins_schema_path: Path) -> Path:
    """schemas/penguins.yaml with every head linear (island's random forest costs ~10 ms a call)."""
    text = penguins_schema_path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "random_forest" not in line]
    path = tmp_path_factory.mktemp("schema") / "penguins.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def linear_penguins_store(tmp_path_factory: pytest.TempPathFactory, linear_penguins_schema: Path,
                          penguins_csv: Path) -> Path:
    """A store trained once on the real penguins; tests that change a store copy it first."""
    root = tmp_path_factory.mktemp("serve") / "store"
    compose.train(linear_penguins_schema, penguins_csv, store=root, n_jobs=1)
    return root


# A real PostgreSQL server (session-scoped) and `sample_backend`, which runs a sample-store test
# on SQLite and on PostgreSQL (tests/_postgres.py).
from _postgres import postgres_server, sample_backend  # noqa: E402, F401
