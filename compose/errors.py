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


class SampleNotFoundError(ArtifactNotFoundError):
    """A sample id that was asked for is not in the model's sample store."""


class SampleConflictError(DataError):
    """A labelled row disagrees with the annotation the sample store holds, and conflicts were refused.

    `sample_id`, `group`, `stored` and `given` name the sample, the group and the two values (the
    HTTP server answers 409 with them).
    """

    def __init__(self, message: str, sample_id: str = "", group: str = "", stored: str | None = None,
                 given: str | None = None) -> None:
        super().__init__(message)
        self.sample_id, self.group, self.stored, self.given = sample_id, group, stored, given

    def __reduce__(self) -> tuple[type[SampleConflictError], tuple[str, str, str, str | None, str | None]]:
        return (type(self), (str(self), self.sample_id, self.group, self.stored, self.given))


class UsageError(ComposeError, ValueError):
    """An argument of a call or a command is out of its range (for example `--jobs 0`)."""


class EnvironmentFault(ComposeError, OSError):  # noqa: N818 - a fault of the machine, named as the issue asks
    """The machine, not the input, stopped the work: the disk is full, read-only or not writable,
    or a path that must be a folder is a file. The message names the path and the cause.

    `path` is the file or folder concerned; `errno` is the operating system's error number.
    """

    def __init__(self, message: str, path: str | None = None, errno_: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno_
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[EnvironmentFault], tuple[str, str | None, int | None]]:
        return (type(self), (self.message, self.path, self.errno))
class ExportError(ComposeError, ValueError):
    """A release, or one of its components, cannot be exported exactly; the message names the component."""
class MissingExtraError(ComposeError, ModuleNotFoundError):
    """An optional extra (for example `[serve]`) is needed and not installed; the message names it."""


class ServeError(ComposeError):
    """The HTTP server cannot start as configured (an unsafe address without a token, a bad token file)."""
class ClusterError(ComposeError, ConnectionError):
    """A Dask cluster could not be reached or used (the `[dask]` extra)."""


class StoreConflictError(StoreLockedError):
    """Another writer published a release of the same store at the same time, changing what this run
    changed too (a store on object storage has no lock: writers meet at the release)."""
