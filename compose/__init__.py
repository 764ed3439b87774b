"""compose: classification with separated label groups.

Declare each mutually exclusive set of labels as its own group in YAML; compose plans a graph of
small submodels, trains and versions each on its own, and merges their outputs into one answer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from compose._version import __version__

if TYPE_CHECKING:  # for type checkers and editors; at run time names load on first use
    from compose.advisor.draft import Suggestion
    from compose.advisor.suggest import suggest
    from compose.api import learn, retrain, train, train_groups
    from compose.cluster.fits import DaskExecutor
    from compose.cluster.partitions import predict_partitions
    from compose.data.check import CheckReport, check
    from compose.data.io import read_table, write_table
    from compose.data.tags import convert, to_flat
    from compose.data.targets import prepare_inputs
    from compose.errors import (
        ArtifactNotFoundError,
        ClusterError,
        ComposeError,
        DataError,
        EnvironmentFault,
        ExportError,
        GateRefusedError,
        IntegrityError,
        PlanError,
        PluginError,
        RegistryError,
        SchemaError,
        StoreConflictError,
        StoreError,
        StoreLockedError,
        TrainingError,
        UsageError,
    )
    from compose.estimator import ComposedClassifier
    from compose.evaluation.baseline import MonolithicBaseline
    from compose.evaluation.evaluator import evaluate
    from compose.evaluation.evaluator import summary_lines as evaluation_summary
    from compose.evaluation.report import write_html
    from compose.export.onnx import export_onnx
    from compose.plan import Plan, build_plan
    from compose.registry import Registry, default_registry
    from compose.runtime.load import load
    from compose.runtime.model import ComposedModel
    from compose.runtime.predictions import Predictions
    from compose.runtime.stream import predict_file
    from compose.schema.load import load_schema, parse_schema
    from compose.schema.models import Schema
    from compose.store.gc import GcReport, collect_garbage
    from compose.store.lifecycle import diff as diff_releases
    from compose.store.lifecycle import list_releases, list_versions, promote, rollback, set_release
    from compose.store.sample_access import import_samples, open_samples
    from compose.store.sample_records import describe_counts as describe_samples
    from compose.store.samples import SampleStore
    from compose.store.store import ModelStore
    from compose.store.verify import StoreCheck, verify_store
    from compose.training.executor import AutoExecutor, JoblibExecutor, LocalExecutor, ProcessExecutor
    from compose.training.learn import LearnReport
    from compose.training.run import TrainReport, fit_and_release
    from compose.tuning import TuneReport, tune
    from compose.typing import GroupResult, MergedResult

#: Public name -> (module, attribute), imported on first use (PEP 562), so `import compose` and
#: `compose --help` load neither scikit-learn, scipy nor pandas.
_LAZY: dict[str, tuple[str, str]] = {
    "ArtifactNotFoundError": ("compose.errors", "ArtifactNotFoundError"),
    "AutoExecutor": ("compose.training.executor", "AutoExecutor"),
    "DaskExecutor": ("compose.cluster.fits", "DaskExecutor"),
    "JoblibExecutor": ("compose.training.executor", "JoblibExecutor"),
    "LocalExecutor": ("compose.training.executor", "LocalExecutor"),
    "ProcessExecutor": ("compose.training.executor", "ProcessExecutor"),
    "predict_file": ("compose.runtime.stream", "predict_file"),
    "predict_partitions": ("compose.cluster.partitions", "predict_partitions"),
    "CheckReport": ("compose.data.check", "CheckReport"),
    "ClusterError": ("compose.errors", "ClusterError"),
    "ComposeError": ("compose.errors", "ComposeError"),
    "ComposedClassifier": ("compose.estimator", "ComposedClassifier"),
    "ComposedModel": ("compose.runtime.model", "ComposedModel"),
    "DataError": ("compose.errors", "DataError"),
    "EnvironmentFault": ("compose.errors", "EnvironmentFault"),
    "GcReport": ("compose.store.gc", "GcReport"),
    "GroupResult": ("compose.typing", "GroupResult"),
    "MergedResult": ("compose.typing", "MergedResult"),
    "ExportError": ("compose.errors", "ExportError"),
    "GateRefusedError": ("compose.errors", "GateRefusedError"),
    "IntegrityError": ("compose.errors", "IntegrityError"),
    "ModelStore": ("compose.store.store", "ModelStore"),
    "LearnReport": ("compose.training.learn", "LearnReport"),
    "MonolithicBaseline": ("compose.evaluation.baseline", "MonolithicBaseline"),
    "Plan": ("compose.plan", "Plan"),
    "Predictions": ("compose.runtime.predictions", "Predictions"),
    "PlanError": ("compose.errors", "PlanError"),
    "PluginError": ("compose.errors", "PluginError"),
    "Registry": ("compose.registry", "Registry"),
    "RegistryError": ("compose.errors", "RegistryError"),
    "Schema": ("compose.schema.models", "Schema"),
    "SchemaError": ("compose.errors", "SchemaError"),
    "SampleStore": ("compose.store.samples", "SampleStore"),
    "StoreCheck": ("compose.store.verify", "StoreCheck"),
    "StoreError": ("compose.errors", "StoreError"),
    "StoreConflictError": ("compose.errors", "StoreConflictError"),
    "StoreLockedError": ("compose.errors", "StoreLockedError"),
    "Suggestion": ("compose.advisor.draft", "Suggestion"),
    "TrainReport": ("compose.training.run", "TrainReport"),
    "TrainingError": ("compose.errors", "TrainingError"),
    "TuneReport": ("compose.tuning", "TuneReport"),
    "UsageError": ("compose.errors", "UsageError"),
    "build_plan": ("compose.plan", "build_plan"),
    "check": ("compose.data.check", "check"),
    "collect_garbage": ("compose.store.gc", "collect_garbage"),
    "convert": ("compose.data.tags", "convert"),
    "default_registry": ("compose.registry", "default_registry"),
    "describe_samples": ("compose.store.sample_records", "describe_counts"),
    "diff_releases": ("compose.store.lifecycle", "diff"),
    "evaluate": ("compose.evaluation.evaluator", "evaluate"),
    "evaluation_summary": ("compose.evaluation.evaluator", "summary_lines"),
    "export_onnx": ("compose.export.onnx", "export_onnx"),
    "fit_and_release": ("compose.training.run", "fit_and_release"),
    "import_samples": ("compose.store.sample_access", "import_samples"),
    "learn": ("compose.api", "learn"),
    "list_releases": ("compose.store.lifecycle", "list_releases"),
    "list_versions": ("compose.store.lifecycle", "list_versions"),
    "load": ("compose.runtime.load", "load"),
    "load_schema": ("compose.schema.load", "load_schema"),
    "open_samples": ("compose.store.sample_access", "open_samples"),
    "parse_schema": ("compose.schema.load", "parse_schema"),
    "prepare_inputs": ("compose.data.targets", "prepare_inputs"),
    "promote": ("compose.store.lifecycle", "promote"),
    "read_table": ("compose.data.io", "read_table"),
    "retrain": ("compose.api", "retrain"),
    "rollback": ("compose.store.lifecycle", "rollback"),
    "set_release": ("compose.store.lifecycle", "set_release"),
    "suggest": ("compose.advisor.suggest", "suggest"),
    "to_flat": ("compose.data.tags", "to_flat"),
    "train": ("compose.api", "train"),
    "train_groups": ("compose.api", "train_groups"),
    "tune": ("compose.tuning", "tune"),
    "verify_store": ("compose.store.verify", "verify_store"),
    "write_table": ("compose.data.io", "write_table"),
    "write_html": ("compose.evaluation.report", "write_html"),
}

__all__ = [
    "ArtifactNotFoundError",
    "AutoExecutor",
    "CheckReport",
    "ClusterError",
    "ComposeError",
    "ComposedClassifier",
    "ComposedModel",
    "DaskExecutor",
    "DataError",
    "EnvironmentFault",
    "ExportError",
    "GateRefusedError",
    "GcReport",
    "GroupResult",
    "IntegrityError",
    "JoblibExecutor",
    "LearnReport",
    "LocalExecutor",
    "MergedResult",
    "ModelStore",
    "MonolithicBaseline",
    "Plan",
    "PlanError",
    "PluginError",
    "Predictions",
    "ProcessExecutor",
    "Registry",
    "RegistryError",
    "SampleStore",
    "Schema",
    "SchemaError",
    "StoreCheck",
    "StoreConflictError",
    "StoreError",
    "StoreLockedError",
    "Suggestion",
    "TrainReport",
    "TrainingError",
    "TuneReport",
    "UsageError",
    "__version__",
    "build_plan",
    "check",
    "collect_garbage",
    "convert",
    "default_registry",
    "describe_samples",
    "diff_releases",
    "evaluate",
    "evaluation_summary",
    "export_onnx",
    "fit_and_release",
    "import_samples",
    "learn",
    "list_releases",
    "list_versions",
    "load",
    "load_schema",
    "open_samples",
    "parse_schema",
    "predict_file",
    "predict_partitions",
    "prepare_inputs",
    "promote",
    "read_table",
    "retrain",
    "rollback",
    "set_release",
    "suggest",
    "to_flat",
    "train",
    "train_groups",
    "tune",
    "verify_store",
    "write_html",
    "write_table",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'compose' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
