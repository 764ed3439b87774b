"""Text groups that learn in seconds (issue 26 item 3): one retrain on the live features, end to end.

    .venv/bin/python benchmarks/learn_speed.py            # the movies data (examples/movies/movies.csv.gz)
    .venv/bin/python benchmarks/learn_speed.py --quick    # no `compose serve` figures
    .venv/bin/python benchmarks/learn_speed.py --smoke    # CI: stores of 400 films, 50 new, no serve figures

Two stores, each trained on the first 10,000 films (`n_jobs=1`):

- **text**: schemas/movies.yaml, every group (`language` is a logistic regression on the 100,000
  column TF-IDF `people`, about 10k annotated samples; `mpaa` is conditional on it);
- **tabular**: `decade` alone, a logistic regression on the tabular `length` (runtime) feature,
  the first 10k films with a runtime and a decade (the title is an input, unread by the head, so
  that films of equal runtime are distinct samples).

Then 100 unseen films (the next rows of the file) labelled for the one group only, three ways,
each on a fresh copy of the store:

1. `compose -q learn --store S --data FILE`, a new process: wall time, imports included;
2. `compose.learn(store, rows)` in this process: wall time;
3. `compose serve --debounce 0`: one `POST /v1/samples` of the rows, then the seconds until a
   `POST /v1/predict` is answered by the new release (polled every 20 ms), as benchmarks/serve.py.

Run it with another venv (`/work/main/.venv/bin/python benchmarks/learn_speed.py`) to measure
another checkout's code: this script imports `compose` from the interpreter's path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

import compose

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import serve  # noqa: E402
from serve import free_port, input_rows, server  # noqa: E402

serve.ROOT = Path(compose.__file__).resolve().parents[1]  # the server runs the code this script imports

TABULAR = """
schema_version: 1
name: runtimes
inputs: {title: {type: text}, runtime: {type: number}}
features:
  length: {type: tabular, inputs: [runtime]}
groups:
  decade:
    type: multiclass
    labels: [1940s, 1950s, 1960s, 1970s, 1980s, 1990s, 2000s, 2010s]
    features: [length]
    model: {estimator: logistic_regression}
    gate: {tolerance: 0.01}
"""


def cases(frame: pd.DataFrame, n: int = 10_000, new: int = 100) -> list[dict[str, Any]]:
    text_schema = compose.load_schema(ROOT / "schemas/movies.yaml")
    tab = frame[frame["runtime"].notna() & frame["decade"].notna()].reset_index(drop=True)
    return [{"name": "movies language (TF-IDF)", "schema": text_schema, "group": "language",
             "train": frame.iloc[:n].reset_index(drop=True), "fresh": frame.iloc[n:n + new]},
            {"name": "runtimes decade (tabular)", "schema": compose.parse_schema(TABULAR, "runtimes"),
             "group": "decade", "train": tab.iloc[:n][["title", "runtime", "decade"]].reset_index(drop=True),
             "fresh": tab.iloc[n:n + new]}]


def fresh_rows(case: dict[str, Any]) -> pd.DataFrame:
    schema, group = case["schema"], case["group"]
    rows = case["fresh"][[*schema.inputs, group]]
    return rows[rows[group].notna()].reset_index(drop=True)


def via_cli(base: Path, data: Path, work: Path) -> float:
    store = work / "cli"
    shutil.copytree(base, store)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compose", "-q", "learn", "--store", str(store), "--data", str(data),
                    "--jobs", "1"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def via_api(base: Path, rows: pd.DataFrame, work: Path) -> tuple[float, list[str]]:
    store = work / "api"
    shutil.copytree(base, store)
    t0 = time.perf_counter()
    report = compose.learn(store, rows, n_jobs=1)
    return time.perf_counter() - t0, report.lines()


def via_serve(base: Path, case: dict[str, Any], rows: pd.DataFrame, work: Path) -> dict[str, Any]:
    store = work / "serve"
    shutil.copytree(base, store)
    schema, group = case["schema"], case["group"]
    body = input_rows(rows, schema, len(rows))
    for row, label in zip(body, rows[group], strict=True):
        row[group] = label
    port, token = free_port(), "bench-token-0123456789"
    os.environ["COMPOSE_SERVE_TOKEN"] = token
    try:
        with server([sys.executable, "-m", "compose", "-q", "serve", "--store", str(store), "--port", str(port),
                     "--debounce", "0"], port) as url, \
                httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            before = client.get("/v1/model").json()["release"]
            probe = {"rows": input_rows(case["train"], schema, 1)}
            time.sleep(15)  # the worker process imports scikit-learn first (its warm-up)
            t0 = time.perf_counter()
            posted = client.post("/v1/samples", json={"rows": body})
            assert posted.status_code == 200, posted.text
            release, jobs = before, []
            while release == before and time.perf_counter() - t0 < 300:
                release = client.post("/v1/predict", json=probe).json()["results"][0]["release"]
                jobs = client.get("/v1/jobs").json()["jobs"]
                if jobs and jobs[0]["status"] in ("refused", "failed", "unchanged"):
                    break
                time.sleep(0.02)
            seconds = time.perf_counter() - t0
            jobs = client.get("/v1/jobs").json()["jobs"]
    finally:
        os.environ.pop("COMPOSE_SERVE_TOKEN", None)
    job = jobs[0] if jobs else {}
    return {"live_s": round(seconds, 2), "release": release, "status": job.get("status"),
            "worker_s": round(job.get("seconds") or 0.0, 2), "retrained": job.get("retrained")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the compose serve figures")
    parser.add_argument("--smoke", action="store_true", help="CI: stores of 400 films, 50 new ones, no serve figures")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    size, new = (400, 50) if args.smoke else (10_000, 100)
    frame = compose.read_table(ROOT / "examples/movies/movies.csv.gz")
    print(f"learn speed: compose {compose.__version__} from {Path(compose.__file__).parent}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    figures = []
    with tempfile.TemporaryDirectory(prefix="compose-learnspeed-") as tmp:
        for i, case in enumerate(cases(frame, size, new)):
            work = Path(tmp) / str(i)
            base = work / "base"
            t0 = time.perf_counter()
            compose.train(case["schema"], case["train"], store=base, n_jobs=1)
            trained = time.perf_counter() - t0
            rows = fresh_rows(case)
            data = work / "fresh.csv"
            rows.to_csv(data, index=False)
            cli = via_cli(base, data, work)
            api, lines = via_api(base, rows, work)
            out = {"case": case["name"], "rows": len(rows), "trained_s": round(trained, 1),
                   "cli_s": round(cli, 2), "api_s": round(api, 2), "report": lines,
                   "load_average": round(os.getloadavg()[0], 1)}
            if not (args.quick or args.smoke):
                out["serve"] = via_serve(base, case, rows, work)
            figures.append(out)
            print(f"\n{out['case']}: {out['rows']} new labels on a store trained on {size:,} films "
                  f"(trained in {out['trained_s']} s)\n  compose learn (new process): {out['cli_s']} s\n"
                  f"  compose.learn (in process): {out['api_s']} s\n  " + "\n  ".join(lines), flush=True)
            if "serve" in out:
                s = out["serve"]
                print(f"  compose serve: POST /v1/samples -> {s['release']} answering in {s['live_s']} s "
                      f"({s['status']}, {s['worker_s']} s in the worker, retrained {s['retrained']})", flush=True)
            print(f"  load average {out['load_average']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
