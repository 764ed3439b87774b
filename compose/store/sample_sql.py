"""The two databases a sample store can live in: the SQL that differs between them, and how a
transaction is opened on each.

- **SQLite** (the default, standard-library `sqlite3`): one file per model, WAL journal, every write
  one `BEGIN IMMEDIATE` transaction (one writer at a time, readers never wait).
- **PostgreSQL** (`--samples postgresql://...` or `COMPOSE_SAMPLES`, the `[postgres]` extra:
  SQLAlchemy Core over psycopg 3): one database for every model, each model's tables in its own
  schema (`compose_<model>`). A write transaction first takes a transaction-level advisory lock on
  the model, so writers on several machines run one after the other, exactly as SQLite's
  `BEGIN IMMEDIATE` makes them: revision and sample numbers stay dense and in commit order (a
  reader that saw revision N never later finds a revision below N appear), and no accepted
  annotation is lost. A read of several queries is one `REPEATABLE READ` transaction (a snapshot).

Everything else (the current-annotation query, upserts of the info table, the migrations) is
written once in SQL both understand; the statements use `?` parameters, translated for psycopg.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from compose.errors import EnvironmentFault, MissingExtraError, StoreError

ENV = "COMPOSE_SAMPLES"
POSTGRES_HINT = "pip install 'compose-groups[postgres]'"
_DB_URL = re.compile(r"^postgres(?:ql)?(?:\+[a-z0-9]+)?://", re.IGNORECASE)


def is_database_url(text: str | None) -> bool:
    """True for `postgresql://...` (and `postgres://`, `postgresql+psycopg://`)."""
    return bool(text) and _DB_URL.match(str(text)) is not None


def database_url() -> str | None:
    """The sample database named by COMPOSE_SAMPLES (`--samples`), or None for SQLite files."""
    named = os.environ.get(ENV)
    return named if is_database_url(named) else None


@dataclass(frozen=True)
class Dialect:
    """The SQL that differs between SQLite and PostgreSQL."""

    name: str
    ddl: str
    int64: str  # the type of a 64-bit integer key of a temporary table
    real: str  # the type of a number input column (an 8-byte float)


SQLITE = Dialect("sqlite", """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revisions (rev INTEGER PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL,
                                      note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (src INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS groups (gid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                                   labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, hash INTEGER NOT NULL,
                                    holdout INTEGER NOT NULL CHECK (holdout IN (0, 1)),
                                    src INTEGER NOT NULL REFERENCES sources (src), rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history (gid INTEGER NOT NULL, sid INTEGER NOT NULL, rev INTEGER NOT NULL, value TEXT,
                                    PRIMARY KEY (gid, sid, rev)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fits (gid INTEGER NOT NULL, version INTEGER NOT NULL, rev INTEGER NOT NULL,
                                 n INTEGER NOT NULL, sids BLOB NOT NULL, PRIMARY KEY (gid, version));
""", "INTEGER", "REAL")

POSTGRES = Dialect("postgresql", """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS revisions (rev BIGINT PRIMARY KEY, at TEXT NOT NULL, source TEXT NOT NULL,
                                      note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (src BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS groups (gid BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                                   labels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (sid BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE, hash BIGINT NOT NULL,
                                    holdout INTEGER NOT NULL CHECK (holdout IN (0, 1)),
                                    src BIGINT NOT NULL REFERENCES sources (src), rev BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS history (gid BIGINT NOT NULL, sid BIGINT NOT NULL, rev BIGINT NOT NULL, value TEXT,
                                    PRIMARY KEY (gid, sid, rev));
CREATE TABLE IF NOT EXISTS fits (gid BIGINT NOT NULL, version BIGINT NOT NULL, rev BIGINT NOT NULL,
                                 n BIGINT NOT NULL, sids BYTEA NOT NULL, PRIMARY KEY (gid, version));
""", "BIGINT", "DOUBLE PRECISION")


def schema_name(model: str) -> str:
    """The PostgreSQL schema of a model's tables: `compose_<model>` (lower case, letters, digits and
    `_`; a name that would not fit PostgreSQL's 63 bytes is cut and made unique by a hash)."""
    slug = re.sub(r"[^a-z0-9_]+", "_", model.lower()).strip("_") or "model"
    name = f"compose_{slug}"
    if len(name) > 63 or slug != model:
        name = f"compose_{slug[:40]}_{hashlib.sha1(model.encode()).hexdigest()[:12]}"
    return name


class Rows:
    """The fetched rows of one statement, read like a sqlite3 cursor."""

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        self._rows = [tuple(r) for r in rows]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


class PostgresConnection:
    """One SQLAlchemy connection to PostgreSQL that runs the store's `?`-parameter statements the
    way a sqlite3 connection does (`execute`, `executemany`), its search path on one model's schema.
    Outside `begin_write` / `begin_read` every statement is its own transaction, so no idle
    transaction ever holds a lock or a snapshot."""

    def __init__(self, url: str, model: str) -> None:
        try:
            import sqlalchemy
        except ImportError as exc:
            raise MissingExtraError(f"a sample store on PostgreSQL needs SQLAlchemy and psycopg: {POSTGRES_HINT}") \
                from exc
        self.schema = schema_name(model)
        self.lock_key = zlib.crc32(self.schema.encode()) - 2**31  # fits PostgreSQL's bigint
        parsed = sqlalchemy.engine.make_url(re.sub(r"^postgres(?:ql)?(?:\+[a-z0-9]+)?://", "postgresql+psycopg://",
                                                   url, flags=re.IGNORECASE))
        self.location = f"{parsed.render_as_string(hide_password=True)} (schema {self.schema})"
        self._errors = sqlalchemy.exc.SQLAlchemyError
        self._lost = sqlalchemy.exc.OperationalError  # the server went away, the network failed, ...
        try:
            self._engine = sqlalchemy.create_engine(parsed, poolclass=sqlalchemy.pool.NullPool)
            self._conn = self._engine.connect()
            self._conn.exec_driver_sql(f'SET search_path TO "{self.schema}"')
            self._conn.commit()
        except ImportError as exc:
            raise MissingExtraError(f"a sample store on PostgreSQL needs psycopg 3: {POSTGRES_HINT}") from exc
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise EnvironmentFault(f"the sample database {parsed.render_as_string(hide_password=True)} cannot be "
                                   f"reached ({str(exc).splitlines()[0]}); start it, or fix --samples / "
                                   f"{ENV}", str(parsed.host)) from exc
        self._in_tx = False

    @staticmethod
    def _sql(sql: str, params: Sequence[Any]) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if params else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            result = self._conn.exec_driver_sql(self._sql(sql, params), tuple(params))
            rows = Rows(result.fetchall() if result.returns_rows else [])
            if not self._in_tx:
                self._conn.commit()
        except self._lost as exc:
            raise self._fault(exc) from exc
        return rows

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        try:
            if batch:
                self._conn.exec_driver_sql(self._sql(sql, batch[0]), batch)
            if not self._in_tx:
                self._conn.commit()
        except self._lost as exc:
            raise self._fault(exc) from exc

    def _fault(self, exc: Exception) -> EnvironmentFault:
        return EnvironmentFault(f"the sample database {self.location} stopped answering "
                                f"({str(exc).splitlines()[0]}); check the server and the network, and run again",
                                self.location)

    def begin_write(self) -> None:
        self._in_tx = True
        try:
            self.execute("SELECT pg_advisory_xact_lock(?)", (self.lock_key,))
        except BaseException:
            self.rollback()
            raise

    def begin_read(self) -> None:
        self._in_tx = True
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def commit(self) -> None:
        self._in_tx = False
        self._conn.commit()

    def rollback(self) -> None:
        self._in_tx = False
        with contextlib.suppress(self._errors):  # a lost connection has nothing left to roll back
            self._conn.rollback()

    def exists(self) -> bool:
        """Whether the model's schema holds a sample store."""
        row = self.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND "
                           "table_name = 'info'", (self.schema,)).fetchone()
        return row is not None and int(row[0]) > 0

    def size_bytes(self) -> int:
        row = self.execute("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN "
                           "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'",
                           (self.schema,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._engine.dispose()

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self._errors)


def unreadable(location: str, exc: BaseException) -> StoreError:
    return StoreError(f"{location} is not a readable sample store ({str(exc).splitlines()[0]}); move it away and "
                      "import the samples again (compose samples --import FILE)")
