"""A real PostgreSQL server for the tests: `initdb` into a temporary folder, `pg_ctl start` on
127.0.0.1 at a free port (as the `postgres` user when the tests run as root: initdb refuses root),
stopped and removed at the end of the session. The PostgreSQL tests skip, saying why, when no
initdb is installed (Debian: `apt-get install -y postgresql`) or SQLAlchemy / psycopg are missing.

    def test_x(sample_backend: str) -> None: ...   # "sqlite", then "postgresql" (COMPOSE_SAMPLES set)
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "compose"
_names = itertools.count(1)


def _initdb() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]) if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--", *command] if runuser else ["su", "postgres", "-c", " ".join(command)]


class PostgresServer:
    """One running server; `database()` makes a fresh, empty database and returns its URL."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"postgresql://{USER}@127.0.0.1:{port}"

    def database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(f"{self.base}/postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    initdb = _initdb()
    if initdb is None:
        pytest.skip("no PostgreSQL server here: initdb not found (Debian: apt-get install -y postgresql)")
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        pytest.skip("SQLAlchemy and psycopg are not installed (pip install '.[postgres]')")
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as (initdb refuses root)")
    bindir = initdb.parent
    folder = Path(tempfile.mkdtemp(prefix="compose-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    made = subprocess.run(_as_server_user([str(initdb), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                                           "--no-sync"]), capture_output=True, text=True, timeout=120, check=False)
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {made.stderr[-2000:]}")
    options = (f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=100")
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60"]
    started = subprocess.run(_as_server_user([*ctl, "-o", options, "start"]), capture_output=True, text=True,
                             timeout=90, check=False)
    try:
        if started.returncode != 0:
            log = (folder / "log").read_text(errors="replace")[-2000:] if (folder / "log").exists() else ""
            pytest.fail(f"pg_ctl start failed: {started.stderr[-1000:]} {log}")
        yield PostgresServer(port)
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(_as_server_user([*ctl, "-m", "immediate", "stop"]), capture_output=True, timeout=60,
                           check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def sample_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on SQLite files, then on a fresh PostgreSQL database (COMPOSE_SAMPLES set to it)."""
    backend = str(request.param)
    if backend == "sqlite":
        monkeypatch.delenv("COMPOSE_SAMPLES", raising=False)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("COMPOSE_SAMPLES", server.database())
    return backend
