"""Write the Label Studio export fixtures of tests/fixtures/labelstudio/ from a real Label Studio 1.23.

    LABEL_STUDIO_BIN=.e2e-venv/bin/label-studio .venv/bin/python tests/labelstudio/make_fixtures.py

A project with the labelling config of schemas/movies.yaml (`compose labelstudio config`) plus two
controls that name no group (`quality`, a <Choices>, and `notes`, a <TextArea>), six films of
tests/fixtures/movies_sample.csv as tasks, annotations made with the SDK (several choices, one choice of
a multilabel group, a cancelled one, two of one task, none), then the project exported as JSON,
JSON_MIN and CSV (every task). tests/labelstudio/test_exports.py reads them; what each task holds is
in tests/fixtures/labelstudio/SOURCE.md.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from _labelstudio import label_studio, project, sdk  # noqa: E402

import compose  # noqa: E402
from compose.labelstudio import label_config  # noqa: E402

ROOT = TESTS.parent
OUT = TESTS / "fixtures" / "labelstudio"
EXTRA = ('  <Choices name="quality" toName="title" choice="single">\n    <Choice value="good" />\n'
         '    <Choice value="bad" />\n  </Choices>\n  <TextArea name="notes" toName="title" />\n</View>\n')
INPUTS = ["title", "director", "writer", "cast", "runtime"]


def config() -> str:
    text = label_config(compose.load_schema(ROOT / "schemas" / "movies.yaml"))
    assert text.endswith("</View>\n"), text[-40:]
    return text[:-len("</View>\n")] + EXTRA  # inside the outer view, after the groups


def rows() -> list[dict[str, Any]]:
    frame = pd.read_csv(TESTS / "fixtures" / "movies_sample.csv").head(6)
    return [{k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}  # no nulls in Label Studio
            for r in frame[INPUTS].to_dict(orient="records")]


def region(name: str, *choices: str) -> dict[str, Any]:
    """A result region as Label Studio's labelling view submits it."""
    return {"id": f"{name[:4]}{len(choices)}{choices[0][:3]}", "from_name": name, "to_name": "title",
            "type": "choices", "origin": "manual", "value": {"choices": list(choices)}}


def annotations(tasks: list[int]) -> list[dict[str, Any]]:
    one, two, three, four, _five, six = tasks
    notes = {"id": "notes1", "from_name": "notes", "to_name": "title", "type": "textarea", "origin": "manual",
             "value": {"text": ["a small-town comedy"]}}
    return [
        {"op": "annotate", "task": one, "result": [region("language", "English"), region("country", "other"),
                                                   region("decade", "2010s"), region("genres", "Comedy", "Western"),
                                                   region("quality", "good"), notes]},
        {"op": "annotate", "task": two, "result": [region("language", "English"), region("genres", "Documentary"),
                                                   region("mpaa", "PG")]},
        {"op": "annotate", "task": three, "result": [], "was_cancelled": True},
        {"op": "annotate", "task": four, "result": [region("language", "Spanish")]},
        {"op": "annotate", "task": four, "result": [region("language", "other"), region("decade", "1960s")]},
        {"op": "annotate", "task": six, "result": [], "was_cancelled": True},
        {"op": "annotate", "task": six, "result": [region("language", "English"), region("country", "Germany")]},
    ]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    xml = config()
    (OUT / "movies.xml").write_text(xml, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp, label_studio(Path(tmp) / "ls") as ls:
        pid, tasks = project(ls, "movies", xml, rows())
        sdk(ls, annotations(tasks))
        exports = [("JSON", "movies.json"), ("JSON_MIN", "movies.min.json"), ("CSV", "movies.csv")]
        sdk(ls, [{"op": "export", "project": pid, "format": f, "out": str(OUT / name)} for f, name in exports])
    for _, name in exports:
        print(f"wrote {OUT / name} ({(OUT / name).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
