"""What a batch produced: per group its scores and decisions, and the narrow view of a model that merging reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from compose.heads.decide import Decided
from compose.heads.head import Head
from compose.schema.models import Schema
from compose.store.records import Release


@dataclass
class GroupOutput:
    """What one head produced for a batch: scores (NaN on rows it did not run on) and decisions."""

    group: str
    applied: np.ndarray
    scores: np.ndarray
    decided: Decided
    skipped_reason: list[str | None]


def gate_answer(gate: str, label: str | None) -> str:
    """The `skipped` of a row its gate ruled out: what the gate answered (None: no label, `undecided`)."""
    return f"{gate} is {label if label is not None else 'undecided'}"


def missing_gate(gate: str) -> str:
    """The `skipped` of every row when the gate is not in the release."""
    return f"{gate} is not in this release"


def gated_off(skipped: str | None) -> str:
    """The `reason` of a row a group's `when` gated off, from its `skipped` (the gate's answer)."""
    return f"gated off by `when`: {skipped}"


class ModelView(Protocol):
    """What merging reads of a loaded model (`ComposedModel` is one)."""

    @property
    def schema(self) -> Schema: ...

    @property
    def heads_(self) -> Mapping[str, Head]: ...

    @property
    def release(self) -> Release: ...

    @property
    def release_name(self) -> str: ...

    def version_of(self, group: str) -> int: ...
