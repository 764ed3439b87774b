"""`benchmarks/serve.py --quick` runs to the end (so the benchmark cannot rot): two real uvicorn servers,
alternating one-row requests, the ratios printed and written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_serve_benchmark_runs_in_its_quick_mode(tmp_path: Path) -> None:
    out = tmp_path / "serve.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve.py"), "--quick", "--requests", "100",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "compose / bare at p50" in done.stdout and "compose / bare at p99" in done.stdout
    latency = json.loads(out.read_text(encoding="utf-8"))["latency"]
    assert latency["compose"]["requests"] == latency["bare"]["requests"] == 100
    assert latency["ratio_p50"] == latency["compose"]["p50_ms"] / latency["bare"]["p50_ms"] > 0
