"""`compose serve` against a real uvicorn on 127.0.0.1: predictions, the model, auth, limits, errors.

Last, schemathesis against the server's OpenAPI document: a bounded number of generated requests
per operation (derandomized: the same ones every run), sent with the bearer token so the mutating
routes are exercised past the auth check too; no 5xx, and every answer as documented.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from _serve import Server, rows_of
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from compose.cli.main import main


@pytest.fixture(scope="module")
def server(linear_penguins_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = tmp_path_factory.mktemp("served") / "store"
    shutil.copytree(linear_penguins_store, store)
    with Server(store, "--max-rows", "400", "--max-body-bytes", "200000") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def assert_no_traceback(response: httpx.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["release"] == "r0001"


def test_predictions_equal_compose_predict_for_one_request_and_row_by_row(
    client: httpx.Client, server: Server, penguins_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cli.jsonl"
    assert main(["-q", "predict", "--store", str(server.store), "--data", str(penguins_csv), "--out", str(out)]) == 0
    expected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rows = rows_of(penguins_csv)
    assert len(rows) == len(expected) == 344
    whole = client.post("/v1/predict", json={"rows": rows})  # over 64 rows: the batch path
    assert whole.status_code == 200, whole.text
    assert whole.json()["results"] == expected
    for i in range(0, len(rows), 7):  # one row: the row path, no pandas
        one = client.post("/v1/predict", json={"rows": [rows[i]]})
        assert one.json()["results"] == [expected[i]], i
    assert {r["release"] for r in expected} == {"r0001"}


def test_the_model_route_describes_the_live_release_from_its_records(client: httpx.Client, server: Server) -> None:
    info = client.get("/v1/model").json()
    release = json.loads((server.store / "penguins" / "releases" / "r0001.json").read_text())
    assert info["release"] == "r0001" and info["model"] == "penguins" and info["releases"] == ["r0001"]
    assert set(info["groups"]) == {"species", "island", "sex"}
    for group, detail in info["groups"].items():
        meta = json.loads((server.store / "penguins" / "groups" / group / "v0001" / "meta.json").read_text())
        assert detail["version"] == release["groups"][group]["version"] == 1
        assert detail["metrics"]["accuracy"] == meta["metrics"]["accuracy"]
        assert detail["n_train"] == meta["n_train"] and detail["gate_metric"] == "accuracy"
        assert detail["decision_version"] is None and "policy" in detail["decision"]
    assert info["groups"]["sex"]["labels"] == ["female", "male"]
    assert info["features"] == {"body": {"version": 1, "versions": [1]}}


def test_a_pinned_release_answers_and_an_unknown_one_is_404(client: httpx.Client, penguins_csv: Path) -> None:
    row = rows_of(penguins_csv)[:1]
    pinned = client.post("/v1/predict", json={"rows": row, "release": "r0001"})
    assert pinned.status_code == 200 and pinned.json()["results"][0]["release"] == "r0001"
    missing = client.post("/v1/predict", json={"rows": row, "release": "r0042"})
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found" and "r0042" in missing.json()["detail"]
    traversal = client.post("/v1/predict", json={"rows": row, "release": "../../etc/passwd"})
    assert traversal.status_code == 422 and "release" in traversal.json()["detail"]


@pytest.mark.parametrize(("row", "words"), [
    ({"bill_length_mm": 39.1, "bill_depth_mm": "deep", "flipper_length_mm": 181, "body_mass_g": 3750},
     ["column 'bill_depth_mm'", "row 2", "'deep'"]),
    ({"bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750, "bill_length_mm": [39]},
     ["row 2", "column 'bill_length_mm'", "[39]"]),
])
def test_a_bad_value_is_422_naming_the_row_the_column_and_the_value(
    client: httpx.Client, penguins_csv: Path, row: dict[str, Any], words: list[str]
) -> None:
    good = rows_of(penguins_csv)[0]
    response = client.post("/v1/predict", json={"rows": [good, row, good]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert all(w in detail for w in words), detail
    assert_no_traceback(response)


@pytest.mark.parametrize(("payload", "words"), [
    ({"rows": [{"bill_depth_mm": 1.0}]}, ["missing input columns", "bill_length_mm"]),
    ({"rows": [], "limit": 3}, ["unknown field 'limit'"]),
    ({"row": []}, ["missing field 'rows'"]),
    ({"rows": [1]}, ["row 1: must be an object"]),
])
def test_a_malformed_request_is_422_in_one_sentence(client: httpx.Client, payload: dict[str, Any],
                                                      words: list[str]) -> None:
    response = client.post("/v1/predict", json=payload)
    assert response.status_code == 422
    assert set(response.json()) == {"error", "detail"}
    assert all(w in response.json()["detail"] for w in words), response.json()
    assert_no_traceback(response)


def test_invalid_json_and_unknown_routes_answer_in_the_same_shape(client: httpx.Client) -> None:
    bad = client.post("/v1/predict", content=b"{rows: nope", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["detail"]
    assert client.get("/v1/nothing").json()["error"] == "not_found"
    assert client.get("/v1/predict").status_code == 405


def test_an_empty_batch_has_no_results(client: httpx.Client) -> None:
    assert client.post("/v1/predict", json={"rows": []}).json() == {"results": []}


def test_mutating_routes_need_the_bearer_token(client: httpx.Client, server: Server) -> None:
    missing = client.post("/v1/reload")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "unauthorized"
    wrong = client.post("/v1/reload", headers={"Authorization": "Bearer " + "x" * 26})
    assert wrong.status_code == 401
    basic = client.post("/v1/reload", headers={"Authorization": f"Basic {server.token}"})
    assert basic.status_code == 401
    right = client.post("/v1/reload", headers=server.auth)
    assert right.status_code == 200 and right.json() == {"release": "r0001", "changed": False}


def test_too_many_rows_is_413(client: httpx.Client, penguins_csv: Path) -> None:
    rows = rows_of(penguins_csv)
    response = client.post("/v1/predict", json={"rows": rows + rows[:57]})  # 401 rows, the limit is 400
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_rows" and "401 rows" in response.json()["detail"]


def test_a_body_over_the_limit_is_413_declared_or_streamed(client: httpx.Client) -> None:
    big = json.dumps({"rows": [{"bill_length_mm": "x" * 1000}] * 250}).encode()  # about 270 kB, limit 200 kB
    declared = client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 16384):
            yield big[i:i + 16384]

    streamed = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413


def test_the_openapi_document_has_the_request_and_response_models(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    models = doc["components"]["schemas"]
    assert {"PredictRequest", "PredictResponse", "MergedResult", "GroupResult", "ModelInfo", "ErrorBody"} <= set(models)
    assert models["PredictRequest"]["additionalProperties"] is False
    predict = doc["paths"]["/v1/predict"]["post"]
    assert {"200", "413", "422"} <= set(predict["responses"])
    assert doc["paths"]["/v1/reload"]["post"]["security"] == [{"HTTPBearer": []}]


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, server: Server, tried: dict[str, int]) -> Any:
    name = f"{operation.method.upper()} {operation.path}"
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    if mode is schemathesis.GenerationMode.NEGATIVE:
        checks = [not_a_server_error, content_type_conformance, response_schema_conformance]

    @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode))
    def check(case: schemathesis.Case) -> None:
        tried[name] = tried.get(name, 0) + 1
        case.call_and_validate(base_url=server.url, headers=server.auth, checks=checks, timeout=30)

    return check


FUZZ_EXAMPLES = 40


def test_schemathesis_finds_no_server_error_and_only_documented_answers(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tried: dict[str, int] = {}
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if len(operation.body):  # a body to break; an operation without inputs has no negative case
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            _fuzz(operation, mode, server, tried)()
    assert set(tried) >= {"POST /v1/predict", "GET /v1/model", "POST /v1/reload", "GET /healthz", "GET /readyz",
                          "POST /v1/samples", "GET /v1/samples", "PUT /v1/samples/{sample_id}/annotations/{group}",
                          "DELETE /v1/samples/{sample_id}/annotations/{group}", "GET /v1/jobs", "GET /v1/jobs/{job_id}"}
    assert tried["POST /v1/predict"] >= 40
