"""`POST /v1/predict`'s fast path (a plain body read by orjson, the compiled one-row path) answers exactly
what the normal path answers (the body through `PredictRequest`'s validator, the model's own row
path): the same status, headers and bytes, refusals included, and the same counts in `/metrics`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import compose
from compose.data.io import read_table
from compose.runtime.one_row import row_results
from compose.serve import Limits, create_app
from compose.serve.routers import predict
from compose.typing import MergedResult

ROOT = Path(__file__).resolve().parents[2]
MOVIES = ROOT / "tests" / "fixtures" / "movies_sample.csv"
MAX_ROWS = 10


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fast-row") / "store"
    compose.train(ROOT / "schemas" / "movies.yaml", MOVIES, store=root, n_jobs=1)
    return root


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    frame = read_table(MOVIES)[["title", "director", "writer", "cast", "runtime"]].head(40)
    return [{str(k): None if pd.isna(v) else v for k, v in r.items()} for r in frame.to_dict("records")]


@pytest.fixture(scope="module")
def clients(store: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on the same store: one answers by the fast path, the other (patched per request) by the normal one."""
    limits = Limits(max_rows=MAX_ROWS)
    with TestClient(create_app(store, learn=False, limits=limits)) as fast, \
            TestClient(create_app(store, learn=False, limits=limits)) as normal:
        yield fast, normal


def _post(client: TestClient, body: bytes, *, normal: bool) -> tuple[int, dict[str, str], bytes]:
    with pytest.MonkeyPatch.context() as mp:
        if normal:
            mp.setattr(predict, "plain_body", lambda body: None)
            mp.setattr(predict, "row_results", lambda model, rows: None)
        response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    return response.status_code, dict(response.headers), response.content


def _bodies(rows: list[dict[str, Any]]) -> list[bytes]:
    title = {"title": "Cléo from 5 to 7"}
    odd: list[Any] = [
        {"rows": []}, {"rows": rows[:5]}, {"rows": rows[:MAX_ROWS + 1]}, {"rows": [rows[0]], "release": "r0001"},
        {"rows": [rows[0]], "release": None}, {"rows": [rows[0]], "release": "r9999"},
        {"rows": [rows[0]], "release": "r1"}, {"rows": [rows[0]], "release": 1},
        {"rows": [{"director": "Agnès Varda"}]},  # the required title is missing
        {"rows": [rows[1], {"director": "Agnès Varda"}]},  # ... in the second row
        {"rows": [{**title, "runtime": "ninety"}]}, {"rows": [{**title, "runtime": "92"}]},
        {"rows": [{**title, "runtime": True}]}, {"rows": [{**title, "runtime": None}]},
        {"rows": [{**title, "budget": 3}]},  # a column the schema does not declare
        {"rows": [title], "limit": 3},  # a field the request does not have
        {"rows": [{"title": ["a", "b"]}]}, {"rows": [{"title": {"a": 1}}]}, {"rows": [{"title": 5}]},
        {"rows": {"title": "x"}}, {"rows": ["x"]}, {"release": "r0001"}, {}, [], "rows", None,
    ]
    raw = [b"", b"not json", b"{", b'{"rows": [{"title": "x", "runtime": 1e400}]}',
           b'{"rows": [{"title": "x", "runtime": NaN}]}', b'{"rows": [{"title": 12345678901234567890123}]}',
           b'{"rows": [{"title": -9223372036854775809}]}', b'{"rows": [{"title": 9.3e18}]}',
           b'{"rows": [{"title": "x", "title": "y"}]}', b'{"rows": [{"title": "\\ud800"}]}',
           b'\xef\xbb\xbf{"rows": []}', b'{"rows": [{"title": "\xff"}]}']
    return [json.dumps({"rows": [r]}).encode() for r in rows] + [json.dumps(b).encode() for b in odd] + raw


def test_the_fast_path_answers_what_the_normal_path_answers(clients: tuple[TestClient, TestClient],
                                                            rows: list[dict[str, Any]]) -> None:
    fast, normal = clients
    statuses = set()
    for body in _bodies(rows):
        answer = _post(fast, body, normal=False)
        assert answer == _post(normal, body, normal=True), body
        statuses.add(answer[0])
    assert statuses == {200, 404, 413, 422}  # every kind of answer was compared
    assert _counts(fast) == _counts(normal) and any(line.startswith("compose_outcomes_total") for line in _counts(fast))


def _counts(client: TestClient) -> list[str]:
    """The counts of `/metrics` (not the latency, which differs run to run)."""
    return sorted(line for line in client.get("/metrics").text.splitlines()
                  if line.startswith(("compose_predictions_total", "compose_outcomes_total", "compose_rows_total",
                                      "compose_confidence_bucket")))


def test_the_fast_path_is_taken(clients: tuple[TestClient, TestClient], rows: list[dict[str, Any]],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = clients
    taken: list[int] = []

    def spy(model: Any, given: list[dict[str, Any]]) -> list[MergedResult] | None:
        out = row_results(model, given)
        taken.append(0 if out is None else len(out))
        return out

    routed: list[int] = []
    few_results = predict.few_results

    def route(live: Any, given: list[dict[str, Any]]) -> list[MergedResult]:
        routed.append(len(given))
        return few_results(live, given)

    monkeypatch.setattr(predict, "row_results", spy)
    monkeypatch.setattr(predict, "few_results", route)
    assert predict.plain_body(json.dumps({"rows": rows[:3]}).encode()) == (rows[:3], None)
    assert fast.post("/v1/predict", json={"rows": rows[:3]}).status_code == 200
    assert (taken, routed) == ([3], [])  # three rows by the compiled path, answered by the shortcut (no route)
    assert fast.post("/v1/predict", json={"rows": [{"director": "Agnès Varda"}]}).status_code == 422
    # the refused row: the shortcut's compiled path declines it, then the route's, and the model's refuses it
    assert (taken, routed) == ([3, 0, 0], [1])
    assert fast.post("/v1/predict", json={"rows": rows[:3], "release": "r0001"}).status_code == 200
    assert (taken, routed) == ([3, 0, 0, 3], [1, 3])  # a pinned release: the route
