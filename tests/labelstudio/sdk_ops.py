"""Label Studio SDK calls for the end-to-end test, run by the Python of Label Studio's own venv.

label-studio-sdk 2.1 pins other versions than compose, so the test (in compose's venv) runs this
file with `LABEL_STUDIO_PYTHON` and talks to it in JSON: argv is the server's URL and the user's
legacy API token, stdin a list of operations, stdout the list of their results.

- `{"op": "annotate", "task": ID, "result": [...], "was_cancelled": false}` -> the annotation
  (`client.annotations.create`), as a person submitting it in the labelling view would;
- `{"op": "export", "project": ID, "format": "JSON" | "JSON_MIN" | "CSV", "out": PATH}` -> the path
  (`client.projects.exports.download_sync`, every task: `download_all_tasks=True`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from label_studio_sdk import LabelStudio


def run(client: LabelStudio, op: dict[str, Any]) -> Any:
    if op["op"] == "annotate":
        made = client.annotations.create(id=op["task"], result=op["result"], task=op["task"],
                                         was_cancelled=bool(op.get("was_cancelled", False)))
        return made.model_dump(mode="json")
    if op["op"] == "export":
        out = Path(op["out"])
        out.write_bytes(b"".join(client.projects.exports.download_sync(op["project"], export_type=op["format"],
                                                                       download_all_tasks=True)))
        return str(out)
    raise SystemExit(f"sdk_ops.py: unknown op {op['op']!r}; use annotate or export")


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    client = LabelStudio(base_url=url, api_key=token, timeout=60)
    results = [run(client, op) for op in json.load(sys.stdin)]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
