"""The HTML report: self-contained, one image per group at least, the baseline table."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import compose
from compose.evaluation.evaluator import evaluate
from compose.evaluation.report import render_html, write_html
from compose.evaluation.sections import require_matplotlib

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, penguins_frame: pd.DataFrame,
           penguins_schema_path: Path) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("report-store")
    model = compose.train(penguins_schema_path, penguins_frame, store=store)
    return evaluate(model, penguins_frame, baseline="monolithic")


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    """Rendered once: with a hostile warning, to check that text is escaped."""
    return render_html({**report, "warnings": [*report["warnings"], "<script>alert(1)</script>"]})


def test_report_embeds_at_least_one_png_per_group(report: dict[str, Any], html: str) -> None:
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= len(report["groups"])
    assert all(base64.b64decode(img).startswith(PNG) for img in images)


def test_report_is_self_contained(html: str) -> None:
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert html.startswith("<!DOCTYPE html>")


def test_report_shows_the_baseline_table_and_how_missing_labels_were_treated(report: dict[str, Any],
                                                                              html: str) -> None:
    assert "Composed vs monolithic" in html
    assert "masked one-vs-rest" in html
    for group in report["groups"]:
        assert f"<td>{group}</td>" in html


def test_report_without_a_baseline_still_has_per_group_figures(report: dict[str, Any], tmp_path: Path) -> None:
    alone = {**report, "baseline": None, "comparison": []}
    text = write_html(alone, tmp_path / "sub" / "report.html").read_text(encoding="utf-8")
    assert "Composed vs monolithic" not in text
    assert text.count("data:image/png;base64,") >= len(report["groups"])


def test_text_is_escaped(html: str) -> None:
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_missing_matplotlib_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(compose.ComposeError, match=r"pip install 'compose-groups\[report\]'"):
        require_matplotlib()


def test_writing_a_report_leaves_matplotlibs_backend_as_it_was(report: dict[str, Any], tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    write_html(report, tmp_path / "report.html")
    assert matplotlib.get_backend() == before


def test_writing_a_report_does_not_import_pyplot(report: dict[str, Any], tmp_path: Path) -> None:
    code = ("import sys, pickle; from compose.evaluation.report import write_html; "
            f"write_html(pickle.load(open({str(tmp_path / 'r.pkl')!r}, 'rb')), {str(tmp_path / 'r.html')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    import pickle
    import subprocess

    (tmp_path / "r.pkl").write_bytes(pickle.dumps(report))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
