"""compose: classification with separated label groups.

Declare each mutually exclusive set of labels as its own group in YAML; compose plans a graph of
small submodels, trains and versions each on its own, and merges their outputs into one answer.
"""

from compose._version import __version__
from compose.advisor import Suggestion, suggest
from compose.baseline import MonolithicBaseline
from compose.checking import CheckReport, check
from compose.converting import convert, to_flat
from compose.data import prepare_inputs, read_table
from compose.errors import (
    ArtifactNotFoundError,
    ComposeError,
    DataError,
    GateRefusedError,
    IntegrityError,
    PlanError,
    SchemaError,
    StoreError,
    StoreLockedError,
    TrainingError,
)
from compose.estimator import ComposedClassifier
from compose.evaluation import evaluate
from compose.evaluation import summary_lines as evaluation_summary
from compose.lifecycle import diff as diff_releases
from compose.lifecycle import list_releases, list_versions, promote, rollback, set_release
from compose.planner import Plan, build_plan
from compose.report import write_html
from compose.runtime import ComposedModel, load
from compose.schema import Schema, load_schema, parse_schema
from compose.store import ModelStore
from compose.training import TrainReport, fit_and_release, retrain, train
from compose.tuning import TuneReport, tune
from compose.verify import StoreCheck, verify_store

__all__ = [
    "ArtifactNotFoundError",
    "CheckReport",
    "ComposeError",
    "ComposedClassifier",
    "ComposedModel",
    "DataError",
    "GateRefusedError",
    "IntegrityError",
    "ModelStore",
    "MonolithicBaseline",
    "Plan",
    "PlanError",
    "Schema",
    "SchemaError",
    "StoreCheck",
    "StoreError",
    "StoreLockedError",
    "Suggestion",
    "TrainReport",
    "TrainingError",
    "TuneReport",
    "__version__",
    "build_plan",
    "check",
    "convert",
    "diff_releases",
    "evaluate",
    "evaluation_summary",
    "fit_and_release",
    "list_releases",
    "list_versions",
    "load",
    "load_schema",
    "parse_schema",
    "prepare_inputs",
    "promote",
    "read_table",
    "retrain",
    "rollback",
    "set_release",
    "suggest",
    "to_flat",
    "train",
    "tune",
    "verify_store",
    "write_html",
]
