"""`compose serve` refuses unsafe or broken settings before it listens; `create_app` embeds; no traceback leaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _serve import ROOT
from fastapi import FastAPI
from fastapi.testclient import TestClient

from compose.cli.main import main
from compose.serve import create_app
from compose.serve.routers import predict as predict_route
from compose.serve.security import check_bind, is_loopback, read_token

ROW = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_a_non_loopback_host_without_a_token_is_refused_before_listening(
    host: str, linear_penguins_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COMPOSE_SERVE_TOKEN", raising=False)
    assert main(["serve", "--store", str(linear_penguins_store), "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"--host {host} is reachable from other machines and no token is set" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                ("10.0.0.1", False), ("myhost", False)])
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_token_allows_any_host(monkeypatch: pytest.MonkeyPatch) -> None:
    check_bind("0.0.0.0", "t" * 32)
    monkeypatch.setenv("COMPOSE_SERVE_TOKEN", "  " + "e" * 20 + "\n")
    assert read_token(None) == "e" * 20


def test_a_short_or_unreadable_token_file_is_refused(
    tmp_path: Path, linear_penguins_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "token"
    short.write_text("secret\n")
    assert main(["serve", "--store", str(linear_penguins_store), "--token-file", str(short)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert main(["serve", "--store", str(linear_penguins_store), "--token-file", str(tmp_path / "none")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_without_fastapi_compose_serve_names_the_extra_and_compose_still_imports(linear_penguins_store: Path) -> None:
    code = ("import sys; sys.modules['fastapi'] = None\n"
            "import compose; compose.load\n"
            "from compose.cli.main import main\n"
            f"sys.exit(main(['serve', '--store', {str(linear_penguins_store)!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         check=False)
    assert run.returncode == 2, run.stderr
    assert "pip install 'compose-groups[serve]'" in run.stderr and "Traceback" not in run.stderr


def test_create_app_mounts_inside_another_app_and_starts_on_first_use(linear_penguins_store: Path) -> None:
    parent = FastAPI()
    parent.mount("/compose", create_app(linear_penguins_store, learn=False))
    with TestClient(parent) as client:  # the parent's lifespan does not run the mounted app's
        response = client.post("/compose/v1/predict", json={"rows": [ROW]})
        assert response.status_code == 200
        assert response.json()["results"][0]["release"] == "r0001"


def test_an_unexpected_failure_is_a_500_with_an_id_and_no_traceback(
    linear_penguins_store: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(linear_penguins_store, learn=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        live = app.state.compose.holder.live

        def broken(rows: object) -> object:
            raise RuntimeError("secret internals /etc/shadow")

        monkeypatch.setattr(live.model, "predict", broken)
        monkeypatch.setattr(live.model, "predict_one", broken)  # a single row takes the row path
        monkeypatch.setattr(predict_route, "row_results", lambda model, rows: broken(rows))  # ... compiled
        response = client.post("/v1/predict", json={"rows": [ROW]})
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal" and "secret" not in response.text and "Traceback" not in response.text
    ref = body["detail"].split()[2].rstrip(":")
    assert any(ref in r.getMessage() for r in caplog.records)  # the log has it, under the id
