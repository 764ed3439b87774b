"""The exception hierarchy of compose: one root, each subclass also a matching built-in."""

from __future__ import annotations

from typing import Any


class ComposeError(Exception):
    """Root of every error compose raises on purpose; its message is meant for the user."""


class SchemaError(ComposeError, ValueError):
    """A schema file is malformed or inconsistent; the message lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]

    def __reduce__(self) -> tuple[type[SchemaError], tuple[str, list[str]]]:
        return (type(self), (str(self), self.problems))


class PlanError(SchemaError):
    """The graph of a schema cannot be planned (an unknown reference or a cycle)."""


class DataError(ComposeError, ValueError):
    """A data file cannot be read or does not match the schema."""


class StoreError(ComposeError):
    """The model store cannot be read or written as asked."""


class ArtifactNotFoundError(StoreError, LookupError):
    """A store, model, version or release that was asked for does not exist."""


class IntegrityError(StoreError):
    """A stored artifact or record is corrupt, tampered with or inconsistent."""


class StoreLockedError(StoreError, TimeoutError):
    """Another process holds the store's lock for longer than the wait allowed."""


class TrainingError(ComposeError, RuntimeError):
    """A head or feature could not be fitted on the rows given."""


class GateRefusedError(ComposeError):
    """A retrained candidate scored worse than the live version and was kept, not released.

    `report` is the run's TrainReport (versions written, metrics, the gate's verdicts), when known.
    """

    report: Any = None


class RegistryError(ComposeError, LookupError):
    """A featurizer, estimator or input kind is not registered, or is registered twice."""


class PluginError(ComposeError, ImportError):
    """A registered plugin (or the one an artifact was made with) cannot be imported; says what to install."""


class ClusterError(ComposeError, ConnectionError):
    """A Dask cluster could not be reached or used (the `[dask]` extra)."""
