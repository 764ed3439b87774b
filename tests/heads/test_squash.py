"""Rules written once: atomic writes, the `when` mask, squashing, the parallelism heuristic, logging."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

from compose.cli.main import main
from compose.data.io import atomic_path, atomic_write
from compose.data.targets import GroupTargets, in_when, outside_when
from compose.heads.head import PARALLEL_MIN_ROWS, fit_workers
from compose.heads.squash import squash
from compose.metrics import gate_metric_name, headline_metric


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    atomic_write(target, "new")
    assert (target.read_text(encoding="utf-8"), sorted(p.name for p in tmp_path.iterdir())) == ("new", ["out.json"])


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("crash while writing")
    assert (target.read_text(encoding="utf-8"), sorted(p.name for p in tmp_path.iterdir())) == ("old", ["out.csv"])


def test_in_when_accepts_only_the_wanted_labels() -> None:
    assert in_when(["a", "b", "c"], np.array([0, 1, 2, -1]), ["a", "c"]).tolist() == [True, False, True, False]


def test_outside_when_rules_out_rows_labelled_outside_and_trusts_unlabelled_gates() -> None:
    gate = GroupTargets("kind", ["shirt", "pants"], np.array([True, True, False]), np.array([0, 1, -1]))
    when = {"kind": ["shirt"], "absent": ["x"]}
    assert outside_when(when, {"kind": gate}, 3).tolist() == [False, True, False]


def test_squash_gives_two_sigmoid_columns_for_one_decision_column() -> None:
    p = squash(np.array([0.0, 2.0]))
    assert np.allclose(p, [[0.5, 0.5], [1 - 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(-2.0))]])


def test_squash_gives_a_softmax_for_several_decision_columns() -> None:
    p = squash(np.array([[1.0, 1.0, 1.0], [1000.0, 0.0, 0.0]]))
    assert np.allclose(p, [[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])


def test_fit_workers_stays_in_process_for_small_work() -> None:
    assert fit_workers(None, [PARALLEL_MIN_ROWS // 4] * 3) == 1


def test_fit_workers_uses_every_core_for_many_rows_over_several_fits() -> None:
    assert fit_workers(None, [PARALLEL_MIN_ROWS] * 2) == -1


def test_fit_workers_honours_a_requested_number() -> None:
    assert fit_workers(3, [1]) == 3


def test_the_gate_metric_defaults_to_the_headline_metric() -> None:
    kinds = ("multiclass", "binary", "multilabel")
    assert [gate_metric_name(k, None) for k in kinds] == [headline_metric(k) for k in kinds]


def test_cli_main_restores_the_compose_loggers_handlers_and_level(penguins_schema_path: Path) -> None:
    logger = logging.getLogger("compose")
    before = (list(logger.handlers), logger.level)
    assert main(["validate", str(penguins_schema_path)]) == 0
    assert (list(logger.handlers), logger.level) == before


def test_cli_main_stops_capturing_warnings_it_started_capturing(penguins_schema_path: Path) -> None:
    logging.captureWarnings(False)
    before = warnings.showwarning
    main(["validate", str(penguins_schema_path)])
    assert warnings.showwarning is before


def test_cli_main_keeps_warnings_captured_when_they_were_already(penguins_schema_path: Path) -> None:
    logging.captureWarnings(True)
    try:
        captured = warnings.showwarning
        main(["validate", str(penguins_schema_path)])
        assert warnings.showwarning is captured
    finally:
        logging.captureWarnings(False)
