"""What `compose serve --capture` answered: one row per served row and group, beside the sample store.

`<model folder>/served.sqlite` (standard-library sqlite3, WAL, one transaction per batch) holds the
table `served`: when, the release and group version that answered, the captured sample's id (so a
later annotation of that sample gives the realized accuracy), the predicted label (a JSON list for
a multilabel group), the confidence, the outcome (`labelled`, `abstained`, `review`, `rejected`,
`below_threshold`, `skipped`) and the source of the answer (`model` or `zero-shot`). It is its own
file, so the sample store's format and migrations never depend on it; `compose monitor` reads it.

    with ServedLog.open("models/penguins") as log:
        log.append(ServedRow.from_results(results, ids, at=now()))
        rows = log.rows(since="2026-01-01T00:00:00", release="r0003")
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Self

from compose.errors import ArtifactNotFoundError, EnvironmentFault, StoreError
from compose.typing import MergedResult

FILENAME = "served.sqlite"
BUSY_TIMEOUT_MS = 30_000

_DDL = """
CREATE TABLE IF NOT EXISTS served (at TEXT NOT NULL, release TEXT NOT NULL, sample TEXT, grp TEXT NOT NULL,
                                   version INTEGER, label TEXT, confidence REAL, outcome TEXT NOT NULL,
                                   source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS served_at ON served (at);
CREATE INDEX IF NOT EXISTS served_group ON served (grp, release)
"""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def served_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / FILENAME


@dataclass(frozen=True)
class ServedRow:
    """One group's answer to one served row."""

    at: str
    release: str
    sample: str | None
    group: str
    version: int | None
    label: str | None  # multilabel: the JSON list of the chosen labels
    confidence: float | None
    outcome: str
    source: str = "model"

    @property
    def labels(self) -> list[str]:
        """The chosen labels: one (or none) for a multiclass or binary group, the list for a multilabel one."""
        if self.label is None:
            return []
        if self.label.startswith("["):
            parsed: list[str] = json.loads(self.label)
            return parsed
        return [self.label]

    @staticmethod
    def from_results(results: Sequence[MergedResult], ids: Sequence[str | None], *, at: str) -> list[ServedRow]:
        """The rows of merged results (as `/v1/predict` answers them), each with its captured sample's id."""
        out: list[ServedRow] = []
        for result, sample in zip(results, ids, strict=True):
            release = str(result.get("release") or "")
            for group, g in result.get("groups", {}).items():
                multilabel = "labels" in g and "label" not in g
                label = json.dumps(g.get("labels") or []) if multilabel else g.get("label")
                out.append(ServedRow(at, release, sample, group, g.get("version"), label, g.get("confidence"),
                                     str(g.get("outcome") or "labelled"), str(g.get("source") or "model")))
        return out


class ServedLog:
    """The served answers of one model folder; safe to share between threads (one connection, a lock)."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, model_dir: str | Path, *, create: bool = True) -> Self:
        path = served_path(model_dir)
        if not create and not path.is_file():
            raise ArtifactNotFoundError(f"{Path(model_dir)} has no served answers ({FILENAME}); start the server "
                                        f"with capture on (compose serve --store {Path(model_dir)} --capture) and "
                                        "send it predictions first")
        try:
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            for statement in _DDL.split(";"):
                db.execute(statement)
        except sqlite3.OperationalError as exc:
            raise EnvironmentFault(f"{path} cannot be opened for writing ({exc}): free some space or make the "
                                   "model folder writable, and run again", str(path)) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a readable log of served answers ({exc}); move it away (the server "
                             "starts a new one)") from exc
        return cls(path, db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, rows: Iterable[ServedRow]) -> int:
        """Store a batch of answers in one transaction; the number stored."""
        values = [astuple(r) for r in rows]
        if not values:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO served VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(values)

    def rows(self, *, since: str | None = None, release: str | None = None,
             group: str | None = None) -> list[ServedRow]:
        """The stored answers, oldest first: at or after `since` (an ISO time), of one release, of one group."""
        where, params = [], []
        for column, value in (("at >= ?", since), ("release = ?", release), ("grp = ?", group)):
            if value is not None:
                where.append(column)
                params.append(value)
        sql = "SELECT * FROM served" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY at, rowid"
        with self._lock:
            found = self._db.execute(sql, params).fetchall()
        return [ServedRow(*row) for row in found]
