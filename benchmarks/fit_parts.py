"""Where the seconds of one `compose train` go, measured without a profiler (a benchmark helper).

`timed_train` runs `compose.train_groups` (what `compose train` runs) with every fit in this
process, while wall-clock timers wrap the steps of `compose.training.run` and the store's writes.
Each step's time is exclusive: a wrapped step called inside another (a version written while a
head is gated) counts for itself only. Whatever no timer covers is `rest`. A step that a later
refactor renames is reported missing (its time then lands in `rest`), so the figure stays honest.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import compose
from compose.schema.models import Schema
from compose.training.executor import FitJob, LocalExecutor

# (module, attribute) -> the part it is counted in
STEPS: dict[tuple[str, str], str] = {
    ("compose.training.run", "read_incoming"): "read",
    ("compose.training.run", "read_samples"): "read",
    ("compose.training.run", "select_training_rows"): "read",
    ("compose.training.run", "fit_features"): "features",
    ("compose.training.run", "fit_heads"): "matrices",
    ("compose.training.run", "_holdout_metrics"): "holdout",
    ("compose.training.run", "gate_verdict"): "gate",
    ("compose.store.store", "ModelStore.write_version"): "write",
    ("compose.store.store", "ModelStore.write_release"): "release",
    ("compose.training.run", "compose_release"): "release",
}
PARTS = {
    "read": "reading, validating and the sample store",
    "features": "fitting the features (the holdout rows transformed)",
    "fits": "the estimator fits",
    "matrices": "each head's matrix (hstack) and its assembly",
    "holdout": "holdout metrics",
    "gate": "the gate",
    "write": "writing the versions (joblib, sha256, meta.json)",
    "release": "the release",
    "rest": "the rest",
}


class _Clock:
    """Exclusive wall time per part: the innermost running step owns the time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.stack: list[list[Any]] = []  # [part, started, seconds of the nested steps]

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [part, time.perf_counter(), 0.0]
            self.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stack.pop()
                spent = time.perf_counter() - frame[1]
                self.seconds[part] += spent - frame[2]
                if self.stack:
                    self.stack[-1][2] += spent
        return timed


class _TimedExecutor(LocalExecutor):
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.map = clock.wrap("fits", super().map)  # type: ignore[method-assign]

    def describe(self, jobs: Sequence[FitJob]) -> str:
        return "in this process (timed)"


@contextmanager
def _patched(clock: _Clock) -> Iterator[list[str]]:
    """Every step of STEPS wrapped by `clock`; yields the steps that were not found."""
    undo: list[tuple[Any, str, Any]] = []
    missing = []
    for (module, name), part in STEPS.items():
        owner: Any = importlib.import_module(module)
        *path, attr = name.split(".")
        for p in path:
            owner = getattr(owner, p)
        if not hasattr(owner, attr):
            missing.append(f"{module}.{name}")
            continue
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        undo.append((owner, attr, original))
        setattr(owner, attr, clock.wrap(part, original))
    try:
        yield missing
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)


def timed_train(schema: Schema, data: Any, store: Path) -> dict[str, Any]:
    """`compose.train_groups` of `data` into `store`, every fit in this process: its wall time, its
    CPU time (this process's: steadier than wall time on a shared machine) and its parts."""
    clock = _Clock()
    with _patched(clock) as missing:
        t0, c0 = time.perf_counter(), time.process_time()
        compose.train_groups(schema, data, store, executor=_TimedExecutor(clock))
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    clock.seconds["rest"] = total - sum(clock.seconds.values())
    return {"seconds": total, "cpu_seconds": cpu, "parts": clock.seconds, "missing": missing}


def describe(parts: dict[str, float]) -> str:
    """`the estimator fits 15.2 s, ...`: the parts by size, zero ones left out."""
    shown = sorted(((s, k) for k, s in parts.items() if abs(s) >= 0.005), reverse=True)
    return ", ".join(f"{PARTS[k]} {s:.2f}" for s, k in shown)
