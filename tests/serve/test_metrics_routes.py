"""`GET /metrics` of a real `compose serve` (uvicorn in a subprocess), parsed with prometheus_client's parser."""

from __future__ import annotations

from pathlib import Path

from _serve import Server, rows_of
from prometheus_client.parser import text_string_to_metric_families


def families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name of each sample -> (sorted labels) -> value."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_metrics_count_what_was_served(linear_penguins_store: Path, penguins_csv: Path) -> None:
    rows = [r for r in rows_of(penguins_csv) if r["bill_length_mm"] is not None][:50]
    with Server(linear_penguins_store, "--no-learn") as srv, srv.client() as c:
        empty = families(c.get("/metrics").text)
        assert empty["compose_live_release_info"] == {(("release", "r0001"),): 1.0}
        assert "compose_predictions_total" not in empty
        answers = []
        for i in range(0, len(rows), 10):
            r = c.post("/v1/predict", json={"rows": rows[i:i + 10]})
            assert r.status_code == 200
            answers.extend(r.json()["results"])
        c.post("/v1/predict", json={"rows": rows[:1]})
        answers.append(c.post("/v1/predict", json={"rows": rows[:1]}).json()["results"][0])
        response = c.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    m = families(response.text)
    species = {dict(k)["label"]: v for k, v in m["compose_predictions_total"].items() if dict(k)["group"] == "species"}
    expected: dict[str, float] = {}
    for a in answers:
        expected[a["groups"]["species"]["label"]] = expected.get(a["groups"]["species"]["label"], 0) + 1
    expected[answers[0]["groups"]["species"]["label"]] += 1  # the request whose answer was not kept
    assert species == expected
    assert {dict(k)["release"] for k in m["compose_predictions_total"]} == {"r0001"}
    n = len(rows) + 2
    assert m["compose_rows_total"][()] == n
    assert m["compose_confidence_count"][(("group", "species"),)] == n
    assert m["compose_confidence_bucket"][(("group", "species"), ("le", "+Inf"))] == n
    outcomes = {dict(k)["outcome"]: v for k, v in m["compose_outcomes_total"].items() if dict(k)["group"] == "sex"}
    assert sum(outcomes.values()) == n
    assert m["compose_request_seconds_count"][()] == len(range(0, len(rows), 10)) + 2
    assert 0 < m["compose_request_seconds_sum"][()] < 60
    assert m["compose_live_release_info"] == {(("release", "r0001"),): 1.0}


def test_the_counts_export_what_prometheus_clients_own_metrics_would() -> None:
    """The same answers counted by `ServeMetrics` and by prometheus_client's Counter and Histogram give the same
    samples (without the `_created` timestamps, which the plain counts do not keep)."""
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from compose.serve.metrics_routes import CONFIDENCE_BUCKETS, LATENCY_BUCKETS, NONE_LABEL, ServeMetrics

    state = SimpleNamespace(learner=None, holder=SimpleNamespace(live=None))
    ours = ServeMetrics(state)
    registry = CollectorRegistry()
    predictions = Counter("compose_predictions", "", ["group", "label", "release"], registry=registry)
    outcomes = Counter("compose_outcomes", "", ["group", "outcome", "release"], registry=registry)
    confidence = Histogram("compose_confidence", "", ["group"], buckets=CONFIDENCE_BUCKETS, registry=registry)
    latency = Histogram("compose_request_seconds", "", buckets=LATENCY_BUCKETS, registry=registry)
    rows = Counter("compose_rows", "", registry=registry)
    answers = [  # a bound of each kind of bucket, a multilabel set, an empty one, a gated-off group
        {"release": "r0002", "groups": {
            "species": {"label": "Adelie", "confidence": 0.4, "outcome": "labelled"},
            "tags": {"labels": ["a", "b"], "outcome": "labelled"},
            "mpaa": {"label": None, "confidence": None, "outcome": "skipped"}}},
        {"release": "r0002", "groups": {
            "species": {"label": None, "confidence": 0.95, "outcome": "abstained"},
            "tags": {"labels": [], "outcome": "below_threshold"}}},
        {"release": "r0003", "groups": {"species": {"label": "Gentoo", "confidence": 1.0, "outcome": "labelled"}}},
    ]
    for seconds, batch in ((0.0005, answers[:1]), (0.003, answers), (7.5, answers[2:])):
        ours.observe(batch, seconds)  # type: ignore[arg-type]
        latency.observe(seconds)
        rows.inc(len(batch))
        for answer in batch:
            for group, g in answer["groups"].items():  # type: ignore[attr-defined]
                outcomes.labels(group, g["outcome"], answer["release"]).inc()
                if g["outcome"] == "skipped":
                    continue
                for label in g.get("labels", [g.get("label")]) or [None]:
                    predictions.labels(group, label or NONE_LABEL, answer["release"]).inc()
                if g.get("confidence") is not None:
                    confidence.labels(group).observe(g["confidence"])

    def samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        found = families(text)
        return {k: v for k, v in found.items() if not k.endswith("_created") and not k.startswith("compose_live")
                and not k.startswith("compose_retrain")}

    expected = samples(generate_latest(registry).decode())
    assert samples(generate_latest(ours.registry).decode()) == expected
    assert expected["compose_confidence_bucket"][(("group", "species"), ("le", "0.4"))] == 2  # 0.4 is in le=0.4
