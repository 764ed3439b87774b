"""Progress bars: drawn on a terminal only, off with -q or when stderr is piped, never on stdout."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest

import compose
from compose.cli._progress import bars_on, fit_progress, progress
from compose.cli.main import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_are_on_only_on_a_terminal_without_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not bars_on(argparse.Namespace(quiet=False))
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert bars_on(argparse.Namespace(quiet=False))
    assert not bars_on(argparse.Namespace(quiet=True))


def test_a_bar_shows_the_rate_and_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress(argparse.Namespace(quiet=False), 300, "rows", "predict") as advance:
        advance(100)
        advance(200)
    with fit_progress(argparse.Namespace(quiet=False)) as on_fit:
        assert on_fit is not None
        on_fit(1, 3)
        on_fit(3, 3)
    text = terminal.getvalue()
    assert "300/300" in text and "rows/s" in text and "3/3" in text


def test_predict_on_a_terminal_keeps_the_bar_off_stdout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        penguins_schema_path: Path, penguins_csv: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    compose.train(penguins_schema_path, penguins_csv, store=tmp_path / "store", n_jobs=1)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["predict", "--store", str(tmp_path / "store"), "--data", str(penguins_csv),
                 "--out", str(tmp_path / "out.jsonl")]) == 0
    assert "rows/s" in terminal.getvalue()
    assert "rows/s" not in capsys.readouterr().out
    terminal.truncate(0)
    assert main(["predict", "--store", str(tmp_path / "store"), "--data", str(penguins_csv),
                 "--out", str(tmp_path / "out2.jsonl"), "-q"]) == 0
    assert "rows/s" not in terminal.getvalue()
