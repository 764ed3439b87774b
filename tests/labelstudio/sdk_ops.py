"""Label Studio SDK calls (and a browser) for the end-to-end test, run by the Python of Label Studio's venv.

label-studio-sdk 2.1 pins other versions than compose, so the test (in compose's venv) runs this
file with `LABEL_STUDIO_PYTHON` and talks to it in JSON: argv is the server's URL and the user's
legacy API token, stdin a list of operations, stdout the list of their results.

- `{"op": "annotate", "task": ID, "result": [...], "was_cancelled": false}` -> the annotation
  (`client.annotations.create`), as a person submitting it in the labelling view would;
- `{"op": "export", "project": ID, "format": "JSON" | "JSON_MIN" | "CSV", "out": PATH}` -> the path
  (`client.projects.exports.download_sync`, every task: `download_all_tasks=True`);
- `{"op": "screenshot", "page": PATH, "out": PNG, "user", "password", "chromium"}` -> the PNG: the
  page opened in headless Chromium (Playwright, driving the given Chromium executable) after logging
  in, once the labelling view shows its choices (tests/labelstudio/screenshot.py; needs
  `pip install playwright`, not part of `make e2e`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from label_studio_sdk import LabelStudio


def run(client: LabelStudio, url: str, op: dict[str, Any]) -> Any:
    if op["op"] == "annotate":
        made = client.annotations.create(id=op["task"], result=op["result"], task=op["task"],
                                         was_cancelled=bool(op.get("was_cancelled", False)))
        return made.model_dump(mode="json")
    if op["op"] == "export":
        out = Path(op["out"])
        out.write_bytes(b"".join(client.projects.exports.download_sync(op["project"], export_type=op["format"],
                                                                       download_all_tasks=True)))
        return str(out)
    if op["op"] == "screenshot":
        return screenshot(url, op)
    raise SystemExit(f"sdk_ops.py: unknown op {op['op']!r}; use annotate, export or screenshot")


def screenshot(url: str, op: dict[str, Any]) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=op["chromium"], args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": op.get("width", 1280), "height": op.get("height", 860)})
            page.goto(url + "/user/login/")
            page.fill("input[name=email]", op["user"])
            page.fill("input[name=password]", op["password"])
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(url + op["page"])
            page.wait_for_selector(op.get("wait_for", ".lsf-choices"), timeout=60_000)
            page.wait_for_timeout(op.get("settle_ms", 2500))
            page.screenshot(path=op["out"], full_page=False)
        finally:
            browser.close()
    return str(op["out"])


def main() -> int:
    url, token = sys.argv[1], sys.argv[2]
    client = LabelStudio(base_url=url, api_key=token, timeout=60)
    results = [run(client, url, op) for op in json.load(sys.stdin)]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
