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

import bisect
import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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


class _Histogram:
    """A histogram's bucket counts as plain numbers: what `prometheus_client.Histogram` exports, without
    its lock and value objects per observation (about 1 us each, a dozen per answered row)."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one: above every bucket (+Inf)
        self.total = 0.0
        self.bounds = [floatToGoString(b) for b in self.buckets] + ["+Inf"]  # type: ignore[no-untyped-call]

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1  # `le` buckets: a value on a bound is in it
        self.total += value

    def exported(self) -> tuple[list[tuple[str, float]], float]:
        """The cumulative buckets (with `+Inf`) and the sum, as `HistogramMetricFamily.add_metric` takes them."""
        return list(zip(self.bounds, itertools.accumulate(self.counts), strict=True)), self.total


class ServeMetrics:
    """What `/v1/predict` answered, counted in plain dicts under one lock per request and exported at
    scrape time (`collect`) in the families `prometheus_client`'s Counter and Histogram would give."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._predictions: dict[tuple[str, str, str], int] = {}
        self._outcomes: dict[tuple[str, str, str], int] = {}
        self._confidence: dict[str, _Histogram] = {}
        self._latency = _Histogram(LATENCY_BUCKETS)
        self._rows = 0
        self.registry.register(_Counts(self))
        self.registry.register(_StateCollector(state))

    def observe(self, results: Sequence[MergedResult], seconds: float) -> None:
        """Count the answers of one request that took `seconds`."""
        outcomes, predictions, confidences = self._outcomes, self._predictions, self._confidence
        with self._lock:
            self._latency.observe(seconds)
            self._rows += len(results)
            for result in results:
                release = str(result.get("release") or "")
                for group, g in result.get("groups", {}).items():
                    outcome = str(g.get("outcome"))
                    key = (group, outcome, release)
                    outcomes[key] = outcomes.get(key, 0) + 1
                    if outcome == "skipped":  # gated off by `when`: counted as an outcome, not as a label
                        continue
                    chosen = g["labels"] if "labels" in g and "label" not in g else [g.get("label")]
                    for label in chosen or [None]:
                        key = (group, NONE_LABEL if label is None else str(label), release)
                        predictions[key] = predictions.get(key, 0) + 1
                    confidence = g.get("confidence")
                    if confidence is not None:
                        histogram = confidences.get(group)
                        if histogram is None:
                            histogram = confidences[group] = _Histogram(CONFIDENCE_BUCKETS)
                        histogram.observe(confidence)

    def collect(self) -> Iterator[Metric]:
        """The counted families, read under the lock (a scrape runs in a worker thread)."""
        with self._lock:
            predictions = CounterMetricFamily("compose_predictions", "labels answered, per group, label and release",
                                              labels=["group", "label", "release"])
            for key, n in self._predictions.items():
                predictions.add_metric(list(key), n)
            outcomes = CounterMetricFamily("compose_outcomes", "answers per group, outcome and release",
                                           labels=["group", "outcome", "release"])
            for key, n in self._outcomes.items():
                outcomes.add_metric(list(key), n)
            confidence = HistogramMetricFamily("compose_confidence",
                                               "confidence of the multiclass and binary answers", labels=["group"])
            for group, histogram in self._confidence.items():
                confidence.add_metric([group], *histogram.exported())
            latency = HistogramMetricFamily("compose_request_seconds", "seconds /v1/predict took to answer")
            latency.add_metric([], *self._latency.exported())
            rows = CounterMetricFamily("compose_rows", "rows answered by /v1/predict", value=self._rows)
        yield from (predictions, outcomes, confidence, latency, rows)


class _Counts(Collector):
    """The registry's view of a `ServeMetrics`' counts."""

    def __init__(self, metrics: ServeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self.metrics.collect()


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
