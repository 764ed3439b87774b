"""The screenshot of docs/labelstudio.md: Label Studio 1.23 showing compose's pre-annotations.

    make docs-screenshot   # LABEL_STUDIO_BIN=.e2e-venv/bin/label-studio .venv/bin/python THIS_FILE

A store trained on the penguins but the last 40 (as tests/system/test_labelstudio_e2e.py does), `compose
serve` connected to a new project as its ML backend, the 40 penguins imported as tasks and their
predictions retrieved; then headless Chromium (Playwright in Label Studio's venv, driving the
Chromium given by CHROMIUM, default /usr/bin/chromium: Debian's `chromium` package) logs in and opens
the labelling view of one task, where compose's answers are the pre-selected choices.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS / "system")]

from _labelstudio import label_studio, project, sdk  # noqa: E402
from _serve import Server, rows_of_frame, trained_on_head  # noqa: E402
from palmerpenguins import load_penguins  # noqa: E402
from test_labelstudio_e2e import connect, predictions_of  # noqa: E402

from compose.cli.main import main as compose_main  # noqa: E402

ROOT = TESTS.parent
OUT = ROOT / "docs" / "labelstudio-preannotations.png"


def main() -> int:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        text = (ROOT / "schemas" / "penguins.yaml").read_text(encoding="utf-8")
        schema = work / "penguins.yaml"  # every head linear, as the tests train it (seconds, not minutes)
        schema.write_text("\n".join(line for line in text.splitlines() if "random_forest" not in line) + "\n",
                          encoding="utf-8")
        penguins = work / "penguins.csv"
        load_penguins().to_csv(penguins, index=False)  # the real penguins, as tests/conftest.py reads them
        held = trained_on_head(schema, penguins, work / "store")
        assert compose_main(["-q", "labelstudio", "config", str(schema), "--out", str(work / "penguins.xml")]) == 0
        with Server(work / "store") as srv, label_studio(work / "ls") as ls:
            pid, tasks = project(ls, "penguins", (work / "penguins.xml").read_text(encoding="utf-8"),
                                 rows_of_frame(held))
            connect(ls, srv, pid)
            task = tasks[2]
            assert predictions_of(ls, pid, task), "Label Studio stored no prediction of compose"
            sdk(ls, [{"op": "screenshot", "page": f"/projects/{pid}/data?task={task}", "out": str(OUT),
                      "user": "admin@example.com", "password": "compose-e2e-pass", "chromium": chromium}])
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
