"""The database under the sample store: its tables, how it is opened, its transactions.

One SQLite file per model, `samples.sqlite`, in WAL mode (readers never wait for the writer; a
killed process leaves the last committed transaction), `synchronous=NORMAL`, a busy timeout so
concurrent writers wait for each other, and foreign keys on. Every write is one `BEGIN IMMEDIATE`
transaction. Annotations are one append-only table, `history`: the current annotation of a
(sample, group) is its row with the highest revision, so a change is one insert and nothing is
ever overwritten. The schema's input columns are columns of the `samples` table (`"i:<name>"`, REAL for
numbers, TEXT otherwise), added when a schema names a new input.

With COMPOSE_SAMPLES (`--samples`) a postgresql:// URL, the same tables live in the model's schema
of that database (`compose.store.sample_sql`: the types, the locking and the transactions that
differ); every query and migration here is written once, in SQL both databases run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, Self

from compose.errors import ArtifactNotFoundError, DataError, EnvironmentFault, StoreError
from compose.schema.models import Schema
from compose.store.sample_sql import POSTGRES, SQLITE, Dialect, PostgresConnection, database_url, unreadable

FILENAME = "samples.sqlite"
LEASE = "lease:"  # info keys of the leases (`compose serve` replicas' retrain jobs)
BUSY_TIMEOUT_MS = 30_000
OnConflict = Literal["update", "error"]
#: How rows without an id are matched to samples: by their order among equal inputs (files), or never (HTTP).
Identity = Literal["rows", "new"]

#: The store's format moves forward by these migrations, each run once, in order, in the opening
#: transaction: `MIGRATIONS[n - 2]` takes format n - 1 to format n. A store of a newer format than
#: this compose knows is refused (upgrade compose); an older one is migrated, never refused.
MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # 2: a row is a sample. Samples are matched to rows by their inputs' hash and their order among
    # equal inputs (first seen first), so the hash gets an index; the stored data is unchanged (format
    # 1 held at most one sample per hash, which is the first with those inputs).
    ("a row is a sample: samples with equal inputs are told apart by their order",
     ("CREATE INDEX IF NOT EXISTS samples_by_hash ON samples (hash, sid)",)),
)
FORMAT = str(len(MIGRATIONS) + 1)

#: The current annotations of a group: of each sample, the row with the highest revision at or
#: before the given one (a NULL value is a removal), found by a correlated max(rev) subquery, which
#: both SQLite and PostgreSQL answer by one seek into the (gid, sid, rev) key. Parameters: gid, rev;
#: `{only}` is an extra condition on `h.sid` (or nothing). Written once, for both databases.
CURRENT = ("SELECT h.sid, h.value, h.rev FROM history h WHERE h.gid = ? AND h.rev = (SELECT max(m.rev) FROM "
           "history m WHERE m.gid = h.gid AND m.sid = h.sid AND m.rev <= ?){only}")
LATEST = CURRENT.format(only="")
#: The largest revision number: an annotation's "no revision bound".
NO_BOUND = 2**62

#: Set a key of the info table (an upsert both databases understand).
PUT_INFO = "INSERT INTO info VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


class Connection(Protocol):
    """A sqlite3 connection, or a `PostgresConnection` that reads like one."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _migrate(db: Connection, where: str, found: str) -> None:
    """Bring a store of format `found` to FORMAT (inside the caller's transaction)."""
    if not found.isdigit() or int(found) > int(FORMAT):
        raise StoreError(f"{where} has sample store format {found!r}; this compose reads formats 1 to {FORMAT}: "
                         "upgrade compose")
    for number in range(int(found) + 1, int(FORMAT) + 1):
        note, statements = MIGRATIONS[number - 2]
        for statement in statements:
            db.execute(statement)
        db.execute(PUT_INFO, ("format", str(number)))
        db.execute(PUT_INFO, (f"migrated:{number}", f"{_now()} {note}"))


def _create(db: Connection, dialect: Dialect, schema: Schema | None, where: str) -> None:
    """Create the tables a store lacks, its info when new, and migrate it (in the caller's transaction)."""
    for statement in dialect.ddl.split(";"):
        if statement.strip():
            db.execute(statement)
    have = dict(db.execute("SELECT key, value FROM info").fetchall())
    if not have:
        if schema is None:
            raise StoreError(f"creating the sample store {where} needs the schema (its training holdout fraction "
                             "and seed)")
        db.executemany("INSERT INTO info VALUES (?, ?)", [
            ("format", "1"), ("seed", str(schema.training.seed)),
            ("holdout", repr(float(schema.training.holdout))), ("created", _now()),
            ("model", schema.name), ("inputs", "{}")])
    _migrate(db, where, have.get("format", "1"))


def input_column(name: str, dialect: Dialect = SQLITE) -> str:
    """The quoted column of input `name` in the samples table (`"i:<name>"`; on PostgreSQL, a name
    longer than its 63-byte identifiers is cut and made unique by a hash)."""
    column = "i:" + name
    if dialect is POSTGRES and len(column.encode()) > 63:
        column = "i:" + name.encode()[:40].decode(errors="ignore") + "~" + hashlib.sha1(name.encode()).hexdigest()[:16]
    return '"' + column.replace('"', '""') + '"'


def sample_store_path(model_dir: str | Path) -> Path:
    """Where the SQLite sample store of a model folder lives."""
    return Path(model_dir) / FILENAME


def sample_store_exists(model_dir: str | Path) -> bool:
    """Whether the model has a sample store: its SQLite file, or its schema in the PostgreSQL
    database COMPOSE_SAMPLES names."""
    url = database_url()
    if url is None:
        return sample_store_path(model_dir).is_file()
    conn = PostgresConnection(url, Path(model_dir).name)
    try:
        return conn.exists()
    finally:
        conn.close()


class SampleDatabase:
    """The connection to a sample store's database, shared by threads under one lock."""

    def __init__(self, path: Path, db: Connection, dialect: Dialect = SQLITE, location: str | None = None) -> None:
        self.path = path  # the SQLite file (on PostgreSQL: where it would be; `location` names the database)
        self.home = path.parent
        self.location = location or str(path)
        self.dialect = dialect
        self._db = db
        self._lock = threading.RLock()
        info = dict(db.execute("SELECT key, value FROM info").fetchall())
        self.seed = int(info["seed"])
        self.holdout_fraction = float(info["holdout"])

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, model_dir: str | Path, *, schema: Schema | None = None, create: bool = True) -> Self:
        """The sample store of a model folder, created (with `schema`'s holdout fraction and seed,
        which then stay fixed for it) when `create` and it does not exist yet: a SQLite file in the
        folder, or the model's schema in the PostgreSQL database COMPOSE_SAMPLES (`--samples`) names."""
        url = database_url()
        if url is not None:
            return cls._open_postgres(url, Path(model_dir), schema, create)
        path = sample_store_path(model_dir)
        if not path.is_file():
            if not create:
                raise ArtifactNotFoundError(_missing(model_dir))
            if schema is None:
                raise StoreError(f"creating {path} needs the schema (its training holdout fraction and seed)")
            path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: a crash of the process loses nothing committed
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: bulk imports touch the id index at random
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            db.close()
            if isinstance(exc, sqlite3.OperationalError) and any(
                    word in str(exc) for word in ("disk I/O error", "database or disk is full", "readonly")):
                raise EnvironmentFault(f"no space left on the device holding {path.parent}, or it is read-only or "
                                       f"failing: the sample store {path.name} cannot be written (SQLite: {exc}); "
                                       "free some space (`compose gc --store DIR` removes leftovers of aborted "
                                       "runs) or use a writable folder, and run again", str(path)) from exc
            raise unreadable(str(path), exc) from exc
        try:
            _create(db, SQLITE, schema, str(path))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            db.close()
            raise
        return cls(path, db)

    @classmethod
    def _open_postgres(cls, url: str, model_dir: Path, schema: Schema | None, create: bool) -> Self:
        conn = PostgresConnection(url, model_dir.name)
        try:
            if not create and not conn.exists():
                raise ArtifactNotFoundError(_missing(model_dir, conn.location))
            conn.begin_write()
            if create:  # an empty model folder, as SQLite's file would make: the store lists the model
                model_dir.mkdir(parents=True, exist_ok=True)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{conn.schema}"')
            _create(conn, POSTGRES, schema, conn.location)
            conn.commit()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()
            if conn.is_error(exc):
                raise unreadable(conn.location, exc) from exc
            raise
        return cls(sample_store_path(model_dir), conn, POSTGRES, conn.location)

    def close(self) -> None:
        with self._lock:
            self._db.close()  # type: ignore[attr-defined]  # both connections close

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, one writer at a time: all of it or nothing, whatever kills the process."""
        with self._lock:
            if isinstance(self._db, PostgresConnection):
                self._db.begin_write()
                try:
                    yield self._db
                    self._db.commit()
                except BaseException:
                    self._db.rollback()
                    raise
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A consistent snapshot for several queries."""
        with self._lock:
            if isinstance(self._db, PostgresConnection):
                self._db.begin_read()
                try:
                    yield self._db
                finally:
                    self._db.commit()
                return
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    # --- small helpers -------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The latest revision (0 for an empty store)."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(rev), 0) FROM revisions").fetchone()[0])

    def info(self, key: str) -> str | None:
        """A value of the store's info table (format, seed, holdout, created, model, ...)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_info(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute(PUT_INFO, (key, value))

    # --- leases ---------------------------------------------------------------------------------

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or renew) the lease `name` for `holder` for `seconds`: True unless another holder's
        lease has not expired yet. One write transaction, so of two takers exactly one wins, on
        SQLite and on PostgreSQL alike (the clocks of the machines must agree to a second or so)."""
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT value FROM info WHERE key = ?", (LEASE + name,)).fetchone()
            if row is not None:
                lease = json.loads(row[0])
                if lease["holder"] != holder and float(lease["until"]) > now:
                    return False
            db.execute(PUT_INFO, (LEASE + name, json.dumps({"holder": holder, "until": now + seconds})))
        return True

    def drop_lease(self, name: str, holder: str) -> None:
        """End `holder`'s lease `name` (nothing when another holder has it)."""
        with self._write() as db:
            row = db.execute("SELECT value FROM info WHERE key = ?", (LEASE + name,)).fetchone()
            if row is not None and json.loads(row[0])["holder"] == holder:
                db.execute("DELETE FROM info WHERE key = ?", (LEASE + name,))

    def expired_leases(self) -> dict[str, str]:
        """The leases whose holder stopped renewing them (it died, or hangs): name -> holder."""
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM info WHERE key LIKE ?", (LEASE + "%",)).fetchall()
        now = time.time()
        return {str(key)[len(LEASE):]: lease["holder"] for key, value in rows
                if float((lease := json.loads(value))["until"]) <= now}

    def resolve(self, as_of: int | str | None) -> int:
        """A revision number from a revision, an ISO time (the last revision at or before it) or None."""
        if as_of is None:
            return self.revision
        if isinstance(as_of, int):
            return as_of
        with self._lock:
            row = self._db.execute("SELECT coalesce(max(rev), 0) FROM revisions WHERE at <= ?", (as_of,)).fetchone()
        return int(row[0])

    def _groups(self, db: Connection) -> dict[str, tuple[int, str, list[str]]]:
        return {name: (gid, kind, json.loads(labels))
                for gid, name, kind, labels in db.execute("SELECT gid, name, kind, labels FROM groups")}

    def _inputs(self, db: Connection) -> dict[str, str]:
        row = db.execute("SELECT value FROM info WHERE key = 'inputs'").fetchone()
        inputs: dict[str, str] = json.loads(row[0])
        return inputs

    def _sync_schema(self, db: Connection, schema: Schema) -> dict[str, tuple[int, str, list[str]]]:
        """Add the schema's groups and inputs the store does not know yet; return the groups."""
        inputs = self._inputs(db)
        new = {name: spec.type for name, spec in schema.inputs.items() if name not in inputs}
        for name, kind in new.items():
            # standard SQL on both databases (transactional on PostgreSQL, under the writer's lock)
            db.execute(f"ALTER TABLE samples ADD COLUMN {input_column(name, self.dialect)} "
                       f"{self.dialect.real if kind == 'number' else 'TEXT'}")
        if new:
            db.execute("UPDATE info SET value = ? WHERE key = 'inputs'", (json.dumps({**inputs, **new}),))
        for name, spec in schema.groups.items():
            db.execute("INSERT INTO groups (name, kind, labels) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                       "kind = excluded.kind, labels = excluded.labels",
                       (name, spec.type, json.dumps(schema.labels_of(name))))
        return self._groups(db)

    def _new_revision(self, db: Connection, source: str, note: str) -> int:
        rev = int(db.execute("SELECT coalesce(max(rev), 0) + 1 FROM revisions").fetchone()[0])
        db.execute("INSERT INTO revisions VALUES (?, ?, ?, ?)", (rev, _now(), source, note))
        return rev

    def _source_id(self, db: Connection, name: str) -> int:
        db.execute("INSERT INTO sources (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        return int(db.execute("SELECT src FROM sources WHERE name = ?", (name,)).fetchone()[0])

    def _group(self, groups: dict[str, tuple[int, str, list[str]]], group: str) -> tuple[int, str, list[str]]:
        if group not in groups:
            raise DataError(f"unknown group {group!r}; the sample store knows {sorted(groups)}")
        return groups[group]


def _missing(model_dir: str | Path, where: str | None = None) -> str:
    at = f" (in {where})" if where else f" ({FILENAME})"
    return (f"{Path(model_dir)} has no sample store{at}: it was made before compose kept samples. "
            f"Seed it with the data it was trained on: compose samples --store {Path(model_dir)} "
            "--import ORIGINAL_TRAINING_FILE")
