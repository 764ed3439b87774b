"""The database under the sample store: its tables, how it is opened, its transactions.

One SQLite file per model, `samples.sqlite`, in WAL mode (readers never wait for the writer; a
killed process leaves the last committed transaction), `synchronous=NORMAL`, a busy timeout so
concurrent writers wait for each other, and foreign keys on. Every write is one `BEGIN IMMEDIATE`
transaction. Annotations are one append-only table, `history`: the current annotation of a
(sample, group) is its row with the highest revision, so a change is one insert and nothing is
ever overwritten. The schema's input columns are columns of the `samples` table (`"i:<name>"`, REAL for
numbers, TEXT otherwise), added when a schema names a new input.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Self

from compose.errors import ArtifactNotFoundError, DataError, EnvironmentFault, StoreError
from compose.schema.models import Schema

FILENAME = "samples.sqlite"
BUSY_TIMEOUT_MS = 30_000
OnConflict = Literal["update", "error"]
#: How rows without an id are matched to samples: by their order among equal inputs (files), or never (HTTP).
Identity = Literal["rows", "new"]

_DDL = """
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
"""

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

#: The current annotations of a group (bare-column aggregate: `value` is that of the row with the
#: highest revision at or before the given one; a NULL value is a removal). Parameters: gid, rev.
LATEST = "SELECT sid, value, max(rev) AS rev FROM history WHERE gid = ? AND rev <= ? GROUP BY sid"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _migrate(db: sqlite3.Connection, path: Path, found: str) -> None:
    """Bring a store of format `found` to FORMAT (inside the caller's transaction)."""
    if not found.isdigit() or int(found) > int(FORMAT):
        raise StoreError(f"{path} has sample store format {found!r}; this compose reads formats 1 to {FORMAT}: "
                         "upgrade compose")
    for number in range(int(found) + 1, int(FORMAT) + 1):
        note, statements = MIGRATIONS[number - 2]
        for statement in statements:
            db.execute(statement)
        db.execute("INSERT OR REPLACE INTO info VALUES ('format', ?)", (str(number),))
        db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (f"migrated:{number}", f"{_now()} {note}"))


def input_column(name: str) -> str:
    """The quoted column of input `name` in the samples table."""
    return '"i:' + name.replace('"', '""') + '"'


def sample_store_path(model_dir: str | Path) -> Path:
    """Where the sample store of a model folder lives."""
    return Path(model_dir) / FILENAME


class SampleDatabase:
    """The connection to a sample store's database, shared by threads under one lock."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.RLock()
        info = dict(db.execute("SELECT key, value FROM info").fetchall())
        self.seed = int(info["seed"])
        self.holdout_fraction = float(info["holdout"])

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, model_dir: str | Path, *, schema: Schema | None = None, create: bool = True) -> Self:
        """The sample store of a model folder, created (with `schema`'s holdout fraction and seed,
        which then stay fixed for it) when `create` and it does not exist yet."""
        path = sample_store_path(model_dir)
        if not path.is_file():
            if not create:
                raise ArtifactNotFoundError(
                    f"{Path(model_dir)} has no sample store ({FILENAME}): it was made before compose kept samples. "
                    f"Seed it with the data it was trained on: compose samples --store {Path(model_dir)} "
                    "--import ORIGINAL_TRAINING_FILE")
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
            raise StoreError(f"{path} is not a readable sample store ({exc}); move it away and import the "
                             "samples again (compose samples --import FILE)") from exc
        try:
            for statement in _DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            have = dict(db.execute("SELECT key, value FROM info").fetchall())
            if not have:
                assert schema is not None
                db.executemany("INSERT INTO info VALUES (?, ?)", [
                    ("format", "1"), ("seed", str(schema.training.seed)),
                    ("holdout", repr(float(schema.training.holdout))), ("created", _now()),
                    ("model", schema.name), ("inputs", "{}")])
            _migrate(db, path, have.get("format", "1"))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            db.close()
            raise
        return cls(path, db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it or nothing, whatever kills the process."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        with self._lock:
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
            db.execute("INSERT OR REPLACE INTO info VALUES (?, ?)", (key, value))

    def resolve(self, as_of: int | str | None) -> int:
        """A revision number from a revision, an ISO time (the last revision at or before it) or None."""
        if as_of is None:
            return self.revision
        if isinstance(as_of, int):
            return as_of
        with self._lock:
            row = self._db.execute("SELECT coalesce(max(rev), 0) FROM revisions WHERE at <= ?", (as_of,)).fetchone()
        return int(row[0])

    def _groups(self, db: sqlite3.Connection) -> dict[str, tuple[int, str, list[str]]]:
        return {name: (gid, kind, json.loads(labels))
                for gid, name, kind, labels in db.execute("SELECT gid, name, kind, labels FROM groups")}

    def _inputs(self, db: sqlite3.Connection) -> dict[str, str]:
        row = db.execute("SELECT value FROM info WHERE key = 'inputs'").fetchone()
        inputs: dict[str, str] = json.loads(row[0])
        return inputs

    def _sync_schema(self, db: sqlite3.Connection, schema: Schema) -> dict[str, tuple[int, str, list[str]]]:
        """Add the schema's groups and inputs the store does not know yet; return the groups."""
        inputs = self._inputs(db)
        new = {name: spec.type for name, spec in schema.inputs.items() if name not in inputs}
        for name, kind in new.items():
            db.execute(f"ALTER TABLE samples ADD COLUMN {input_column(name)} {'REAL' if kind == 'number' else 'TEXT'}")
        if new:
            db.execute("UPDATE info SET value = ? WHERE key = 'inputs'", (json.dumps({**inputs, **new}),))
        for name, spec in schema.groups.items():
            db.execute("INSERT INTO groups (name, kind, labels) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                       "kind = excluded.kind, labels = excluded.labels",
                       (name, spec.type, json.dumps(schema.labels_of(name))))
        return self._groups(db)

    def _new_revision(self, db: sqlite3.Connection, source: str, note: str) -> int:
        rev = int(db.execute("SELECT coalesce(max(rev), 0) + 1 FROM revisions").fetchone()[0])
        db.execute("INSERT INTO revisions VALUES (?, ?, ?, ?)", (rev, _now(), source, note))
        return rev

    def _source_id(self, db: sqlite3.Connection, name: str) -> int:
        db.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", (name,))
        return int(db.execute("SELECT src FROM sources WHERE name = ?", (name,)).fetchone()[0])

    def _group(self, groups: dict[str, tuple[int, str, list[str]]], group: str) -> tuple[int, str, list[str]]:
        if group not in groups:
            raise DataError(f"unknown group {group!r}; the sample store knows {sorted(groups)}")
        return groups[group]
