"""Every benchmark in benchmarks/ runs to the end in its smoke mode, so a benchmark that no longer
runs fails here (issue 21 item 7) instead of rotting until someone wants its figures.

Each benchmark is a subprocess (`sys.executable benchmarks/x.py --smoke`: tiny data shipped in the
repository or in a dev package, one repetition, no download), checked for exit code 0 and for the
report lines it exists to print. baselines.py and corpus.py are helpers the benchmarks import, run
through them. The selected benchmarks start together, two at a time (COMPOSE_BENCH_JOBS), when the
first of these tests runs: each one alone is mostly interpreter start-up and imports, so two cores
halve the module's wall time; each test then waits for its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
HELPERS = {"baselines.py", "corpus.py", "fit_parts.py"}  # imported by the benchmarks, not run on their own
TIMEOUT = 300


@dataclass(frozen=True)
class Bench:
    script: str
    expected: tuple[str, ...]  # regular expressions, each matching a line of the report (stdout)
    args: tuple[str, ...] = ("--smoke",)
    forbidden: tuple[str, ...] = ()  # text the report must not hold


NUMBER = r"\d[\d,]*(\.\d+)?"
BENCHES = [  # the costliest first: two at a time, the last ones fill the gaps
    Bench("run.py", (r"^### synthetic: 600 rows, 3 groups",
                     r"^### movies: 400 rows, 5 groups",
                     rf"^\| batch rows/s \| {NUMBER} \|",
                     rf"^\| compose train, one process, store writes included / sklearn shared featurizer \+ heads "
                     rf"\+ joblib.dump \| {NUMBER} \|",
                     rf"^Where a fit goes \(movies\): compose.train {NUMBER} s = .*the estimator fits {NUMBER}.*; "
                     rf"sklearn shared {NUMBER} s = ",
                     r"^\| head fits on 2 worker processes vs sequential \(\d+ fits"),
          # a training step renamed by a refactor: benchmarks/fit_parts.py must follow it
          forbidden=("steps not found",)),
    Bench("streaming.py", (rf"^\| 2,000 \| {NUMBER} \| {NUMBER}, {NUMBER} \| {NUMBER}, {NUMBER} \| {NUMBER} \(goal",)),
    Bench("quality.py", (rf"^\| penguins \| species \| 344 \| {NUMBER} \|",
                         rf"^\| movies \| mpaa \| 300 \| {NUMBER} \|")),
    Bench("serve.py", (rf"^compose / bare at p50: {NUMBER}x", rf"^compose / bare at p99: {NUMBER}x",
                       rf"^compose serve \(movies, 5 groups\)\s+{NUMBER}"), ("--smoke", "--json", "{tmp}/serve.json")),
    Bench("audit.py", (r"^## Audit: injected errors found", r"^\| penguins \| species \| 8% labels flipped \|",
                       r"^\| movies \| genres \| 10% tags dropped \|",
                       r"^\| country \| queue \(margin\) \| 40 \| 20 \|",
                       r"^\| country \| random \| 40 \| 20 \|")),
    Bench("learn_speed.py", (r"^movies language \(TF-IDF\): \d+ new labels",
                             r"^runtimes decade \(tabular\): \d+ new labels",
                             rf"^  compose learn \(new process\): {NUMBER} s",
                             rf"^  compose.learn \(in process\): {NUMBER} s",
                             r"^  group language: training rows \d+ -> \d+")),
    Bench("samples.py", (rf"^import: 2,000 rows in {NUMBER} s",
                         rf"^learn: 100 new decade labels in a store of 600 samples: {NUMBER} s .* ratio "
                         rf"{NUMBER}x")),
    Bench("composed_vs_monolithic.py", (rf"^\| movies \| 500 \| language \| \d+ \| accuracy \| {NUMBER} \|",
                                        r"^\| movies \| 500 \| \(merged\) \|",
                                        r"^\| penguins \| 344 \| \(merged\) \|")),
    Bench("export.py", (r"^data\s+compose p50\s+p95\s+onnx p50",
                        rf"^penguins\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}",
                        rf"^movies \(sample\)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}")),
    Bench("hierarchy.py", (rf"^emoji-284\s+compose \(hierarchy group\)\s+{NUMBER}",
                           rf"^emoji-284\s+HiClass LocalClassifierPerParentNode\s*{NUMBER}",
                           rf"^emoji-284\s+flat leaf classifier\s+{NUMBER}")),
    Bench("few_shot.py", (rf"^language\s+k=10\s+tfidf {NUMBER} ±{NUMBER}\s+wordllama {NUMBER}",
                          rf"^genre\s+k=10\s+tfidf {NUMBER}")),
    Bench("zero_shot.py", (rf"^emoji\s+k=0\s+zero-shot {NUMBER}",
                           rf"^genre\s+k=2\s+zero-shot {NUMBER}\s+trained {NUMBER}")),
]
BY_NAME = {b.script: b for b in BENCHES}


@dataclass(frozen=True)
class Run:
    done: subprocess.CompletedProcess[str]
    tmp: Path  # the run's TMPDIR, where its --json files go

    @property
    def report(self) -> str:
        return self.done.stdout + "\n--- stderr ---\n" + self.done.stderr[-4000:]


def _run(bench: Bench, tmp: Path) -> Run:
    # TMPDIR: the temporary folders a benchmark leaves behind land in pytest's tmp_path
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    args = [a.replace("{tmp}", str(tmp)) for a in bench.args]
    done = subprocess.run([sys.executable, str(BENCHMARKS / bench.script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return Run(done, tmp)


@pytest.fixture(scope="module")
def launched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[Run]]:
    """Every benchmark this session selected, started two at a time; script -> its finished run."""
    selected = [item.callspec.params["script"] for item in request.session.items
                if getattr(item, "module", None) is request.module and hasattr(item, "callspec")
                and "script" in item.callspec.params]
    pool = ThreadPoolExecutor(max_workers=int(os.environ.get("COMPOSE_BENCH_JOBS", "2")))
    request.addfinalizer(lambda: pool.shutdown(wait=True, cancel_futures=True))
    return {s: pool.submit(_run, BY_NAME[s], tmp_path_factory.mktemp(s.removesuffix(".py"))) for s in selected}


def test_every_benchmark_is_run_here() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("*.py")}
    assert scripts - HELPERS == set(BY_NAME), "add the new benchmark to BENCHES (or to HELPERS if it is a helper)"


@pytest.mark.parametrize("script", list(BY_NAME))
def test_the_benchmark_runs_in_its_smoke_mode(script: str, launched: dict[str, Future[Run]]) -> None:
    run = launched[script].result(timeout=2 * TIMEOUT)
    assert run.done.returncode == 0, run.report
    lines = run.done.stdout.splitlines()
    missing = [p for p in BY_NAME[script].expected if not any(re.search(p, line) for line in lines)]
    assert not missing, f"{script} --smoke printed no line matching {missing}:\n{run.report}"
    found = [text for text in BY_NAME[script].forbidden if text in run.done.stdout]
    assert not found, f"{script} --smoke printed {found}:\n{run.report}"
    assert "Traceback" not in run.done.stderr, run.report
    asked = {a.replace("{tmp}", str(run.tmp)) for a in BY_NAME[script].args}
    left = sorted(p.name for p in run.tmp.iterdir()
                  if str(p) not in asked and p.name != ".ses")  # .ses: onnxruntime's own session id, 51 bytes
    assert not left, f"{script} --smoke left {left} in its temporary folder"  # a full run would leave gigabytes
    if script == "serve.py":  # its JSON holds the requests it made and the ratios it printed
        latency = json.loads((run.tmp / "serve.json").read_text(encoding="utf-8"))["latency"]
        assert latency["compose"]["requests"] == latency["bare"]["requests"] == 50
        assert latency["ratio_p50"] == latency["compose"]["p50_ms"] / latency["bare"]["p50_ms"] > 0
