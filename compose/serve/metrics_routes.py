"""`GET /metrics`: what the server answered, in Prometheus text format (`prometheus-client`).

Counted as predictions are answered (`observe`, called by `/v1/predict`):

- `compose_predictions_total{group, label, release}`: labels given (one per chosen label of a
  multilabel group; `label="(none)"` when the group gave none; gated-off rows are not counted);
- `compose_outcomes_total{group, outcome, release}`: `labelled`, `abstained`, `review`, `rejected`,
  `below_threshold` or `skipped` (gated off by `when`);
- `compose_confidence{group}`: a histogram of the confidence of multiclass and binary answers;
- `compose_request_seconds`: a histogram of the time `/v1/predict` took, and `compose_rows_total`.

Read when scraped: `compose_retrain_jobs{status}` (the learner's jobs by status) and
`compose_live_release_info{release}` (1 for the live release). Each app has its own registry,
so several apps in one process never share counts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from compose.typing import MergedResult

NONE_LABEL = "(none)"
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

router = APIRouter(tags=["metrics"])


class _StateCollector(Collector):
    """The gauges read from the server's state at scrape time: retrain jobs by status, the live release."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("compose_retrain_jobs", "retrain jobs of this server by status", labels=["status"])
        counts: dict[str, int] = {}
        learner = self.state.learner
        for job in learner.all_jobs() if learner is not None else []:
            counts[job.status] = counts.get(job.status, 0) + 1
        for status in sorted(counts):
            jobs.add_metric([status], counts[status])
        yield jobs
        live = GaugeMetricFamily("compose_live_release_info", "the release this server answers with (1)",
                                 labels=["release"])
        if self.state.holder.live is not None:
            live.add_metric([self.state.holder.live.release], 1)
        yield live


class ServeMetrics:
    """The counters and histograms of one app, with their labelled children cached (the row path is hot)."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.predictions = Counter("compose_predictions", "labels answered, per group, label and release",
                                   ["group", "label", "release"], registry=self.registry)
        self.outcomes = Counter("compose_outcomes", "answers per group, outcome and release",
                                ["group", "outcome", "release"], registry=self.registry)
        self.confidence = Histogram("compose_confidence", "confidence of the multiclass and binary answers",
                                    ["group"], buckets=CONFIDENCE_BUCKETS, registry=self.registry)
        self.latency = Histogram("compose_request_seconds", "seconds /v1/predict took to answer",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rows = Counter("compose_rows", "rows answered by /v1/predict", registry=self.registry)
        self.registry.register(_StateCollector(state))
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, kind: str, *labels: str) -> Any:
        key = (kind, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self, kind).labels(*labels)
        return child

    def observe(self, results: Sequence[MergedResult], seconds: float) -> None:
        """Count the answers of one request that took `seconds`."""
        self.latency.observe(seconds)
        self.rows.inc(len(results))
        for result in results:
            release = str(result.get("release") or "")
            for group, g in result.get("groups", {}).items():
                outcome = str(g.get("outcome"))
                self._child("outcomes", group, outcome, release).inc()
                if outcome == "skipped":  # gated off by `when`: counted as an outcome, not as a label
                    continue
                chosen = g["labels"] if "labels" in g and "label" not in g else [g.get("label")]
                for label in chosen or [None]:
                    self._child("predictions", group, NONE_LABEL if label is None else str(label), release).inc()
                confidence = g.get("confidence")
                if confidence is not None:
                    self._child("confidence", group).observe(confidence)


_LOCK = threading.Lock()


def metrics_of(state: Any) -> ServeMetrics:
    """The app's metrics, made on first use and kept on its ServeState."""
    found: ServeMetrics | None = getattr(state, "metrics", None)
    if found is None:
        with _LOCK:
            found = getattr(state, "metrics", None)
            if found is None:
                found = ServeMetrics(state)
                state.metrics = found
    return found


def observe(state: Any, results: Sequence[MergedResult], seconds: float) -> None:
    """The hook of `/v1/predict`: count a request's answers."""
    metrics_of(state).observe(results, seconds)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                                                                 "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Predictions, outcomes and confidence per group, request latency, retrain jobs and the live release."""
    return Response(generate_latest(metrics_of(request.app.state.compose).registry), media_type=CONTENT_TYPE_LATEST)
