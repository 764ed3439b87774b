"""The sample store: every sample a model learns from and every annotation ever given, in SQLite
(or, with `--samples postgresql://...` / COMPOSE_SAMPLES, in PostgreSQL: `compose.store.sample_sql`).

`models/<name>/samples.sqlite` (standard-library sqlite3, WAL journal, one transaction per write,
a busy timeout for concurrent writers) holds:

- **samples**: a row is a sample (the identity rule: `compose.store.sample_rows`): its input values
  as first seen (immutable), an id, the hash of its inputs (the hash the holdout rule reads), the
  source and revision that brought it, and its split, fixed at first sight.
- **history**: every annotation of each (sample, group) ever given, the latest being the current
  one (a removal is a change to nothing), with the revision that made it. A revision is one write (an
  upsert, one annotation set or removed) with its time and source, so `as_of=revision` names the
  rows and labels a version was trained on exactly.
- **fits**: the exact samples each stored group version was fitted on.

Multilabel annotations (present labels, or per-label truth): `compose.store.sample_records`.

    store = SampleStore.open("models/movies", schema=schema)
    report = store.upsert(frame, schema, source="labels.csv")   # new samples, changed annotations
    store.export("samples.parquet")                              # the format `compose train` reads
"""

from __future__ import annotations

import contextlib
import json
import logging
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compose.data.hierarchy import off_path_rows
from compose.data.io import as_frame, source_of, write_table
from compose.data.targets import holdout_mask, parse_targets, prepare_inputs, row_hashes, split_hashes, split_tags
from compose.errors import DataError, SampleConflictError, SampleNotFoundError
from compose.schema.models import Schema
from compose.store.sample_db import (
    CURRENT,
    FILENAME,
    LATEST,
    NO_BOUND,
    PUT_INFO,
    Connection,
    Identity,
    OnConflict,
    SampleDatabase,
    input_column,
    sample_store_path,
)
from compose.store.sample_records import (
    HOLDOUT,
    TRAIN,
    Cell,
    Change,
    Sample,
    SampleCounts,
    SamplePage,
    SampleSet,
    UpsertReport,
    decode,
    encode_row,
    encode_truths,
    group_counts,
    merge,
    targets_from,
    truths,
)
from compose.store.sample_rows import given_ids, hash_id, merge_duplicates, ordinals, row_cells
from compose.store.sample_sql import PostgresConnection

log = logging.getLogger("compose")

__all__ = ["FILENAME", "SampleStore", "sample_store_path"]


class SampleStore(SampleDatabase):
    """The samples and annotations of one model, in `<model folder>/samples.sqlite`.

    Open one with `SampleStore.open`; it is safe to share between threads (one connection, a lock)
    and between processes (SQLite's locking, a busy timeout). Close it, or use it in a `with` block.
    """

    # --- upsert --------------------------------------------------------------------------------

    def upsert(self, data: Any, schema: Schema, *, source: str | None = None,
               on_conflict: OnConflict = "update", identity: Identity = "rows") -> UpsertReport:
        """Add the rows of `data` (a file or a frame in the format `compose train` reads) as samples
        and their labelled cells as annotations, in one transaction.

        A row is a sample. A row with an `id` is that sample, and must have its inputs; rows of one
        upsert that repeat an id are merged (two that disagree on a group are an error naming both).
        A row without an id is, with `identity="rows"` (files), the k-th stored sample with its inputs
        when it is the k-th such row of `data`, else a new sample; with `identity="new"` (rows posted
        over HTTP), always a new sample. A label that differs from the stored annotation is an
        annotation change, or, with `on_conflict="error"`, a SampleConflictError naming the sample
        (and nothing is written). Empty cells change nothing.
        """
        if on_conflict not in ("update", "error"):
            raise DataError(f"on_conflict={on_conflict!r}; use 'update' or 'error'")
        if identity not in ("rows", "new"):
            raise DataError(f"identity={identity!r}; use 'rows' or 'new'")
        df = split_tags(as_frame(data), schema)
        where = source_of(df)
        src_name = source or (where if where != "the data" else "api")
        if identity == "new" and schema.training.group_by and schema.training.group_by not in df.columns:
            df[schema.training.group_by] = None  # a served row without it: split by its inputs
        inputs = prepare_inputs(df, schema)
        targets = parse_targets(df, schema)
        hashes = row_hashes(inputs, self.seed)
        split = split_hashes(df, inputs, schema, self.seed)  # `training.group_by`: a group lands on one side
        named = given_ids(df, where, allow_empty=identity == "new")
        cells = {g: row_cells(schema, g, t) for g, t in targets.items()}
        report = UpsertReport(None, len(df), 0, 0)
        keep = merge_duplicates(schema, named, hashes, cells, where)
        with contextlib.suppress(_NothingNew), self._write() as db:
            groups = self._sync_schema(db, schema)
            db.execute(PUT_INFO, ("schema", json.dumps(schema.to_dict())))
            ids, existing, shared = self._identify(db, named, hashes, keep, fresh=identity == "new", where=where)
            rev = self._new_revision(db, src_name, "upsert")
            new_rows = [r for r in keep if r not in existing]
            sids = self._insert_samples(db, schema, inputs, ids, hashes, new_rows, split=split,
                                        src=self._source_id(db, src_name), rev=rev)
            sids.update({r: existing[r][0] for r in existing})
            stored = self._stored(db, [existing[r][0] for r in existing])
            changes = _changes(cells, groups, {r: sids[r] for r in keep}, stored, report,
                               ids if on_conflict == "error" else None, where, shared)
            writes = [(gid, sid, rev, value) for gid, sid, value in changes]
            db.executemany("INSERT INTO history VALUES (?, ?, ?, ?)", writes)
            # a hierarchy label moved to another branch: the heads it left lose their stale annotation
            cleared = _off_path(schema, cells, groups, {r: sids[r] for r in existing}, stored, report, rev)
            db.executemany("INSERT INTO history VALUES (?, ?, ?, ?)", cleared)
            report.new_samples, report.known_samples = len(new_rows), len(existing)
            if not writes and not new_rows and not cleared:
                raise _NothingNew  # leave the database untouched, byte for byte
            report.revision = rev
        report.ids = list(ids)
        report.warn_ambiguous(where)
        for message in report.warnings:
            log.warning(message)
        return report

    def _identify(self, db: Connection, named: list[str | None], hashes: np.ndarray, keep: list[int], *,
                  fresh: bool, where: str) -> tuple[list[str], dict[int, tuple[int, int]], set[int]]:
        """The sample id of each row, the rows whose sample is stored (row -> (sid, hash)), and the rows
        without an id whose inputs several samples share once this upsert is written."""
        ids: list[str] = [i if i is not None else "" for i in named]
        by_id = [r for r in keep if named[r] is not None]
        existing = self._existing(db, [ids[r] for r in by_id], by_id)
        for r, (_sid, stored_hash) in existing.items():
            if stored_hash != int(hashes[r].astype(np.int64)):
                raise DataError(f"{where}, row {r + 1}: sample {ids[r]!r} is stored with other input values; "
                                "a sample's inputs never change. Give the row a new id (or remove its id to "
                                "identify it by its inputs)")
        anonymous = [r for r in keep if named[r] is None]
        if not anonymous:
            return ids, existing, set()
        signed = hashes.astype(np.int64)
        stored = self._with_hashes(db, signed[anonymous])
        k = ordinals(signed, anonymous)
        taken: set[str] = set()
        fresh_ids: list[int] = []
        for r, nth in zip(anonymous, k.tolist(), strict=True):
            have = stored.get(int(signed[r]), [])
            if not fresh and nth < len(have):
                existing[r] = (have[nth][0], int(signed[r]))
                ids[r] = have[nth][1]
                continue
            ids[r] = hash_id(int(hashes[r]), nth if not fresh else len(have) + nth)
            fresh_ids.append(r)
        clash = self._taken(db, [ids[r] for r in fresh_ids]) | {ids[r] for r in by_id}
        for r in fresh_ids:
            n = 1
            while ids[r] in clash or ids[r] in taken:  # an id given by hand looks like a generated one
                ids[r], n = f"{hash_id(int(hashes[r]))}-x{n}", n + 1
            taken.add(ids[r])
        rows_of = Counter(signed[anonymous].tolist())
        after = {h: len(stored.get(h, [])) + c if fresh else max(len(stored.get(h, [])), c)
                 for h, c in rows_of.items()}  # samples with those inputs once this upsert is written
        shared = {r for r in anonymous if after[int(signed[r])] > 1}
        return ids, existing, shared

    def _with_hashes(self, db: Connection, hashes: np.ndarray) -> dict[int, list[tuple[int, str]]]:
        """Signed hash -> the stored samples with those inputs, (sid, id), first stored first."""
        distinct = np.unique(hashes).tolist()
        if not distinct or db.execute("SELECT 1 FROM samples LIMIT 1").fetchone() is None:
            return {}
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS wanted (hash {self.dialect.int64} PRIMARY KEY)")
        db.execute("DELETE FROM wanted")
        db.executemany("INSERT INTO wanted VALUES (?)", ((h,) for h in distinct))
        out: dict[int, list[tuple[int, str]]] = {}
        for h, sid, sample_id in db.execute("SELECT s.hash, s.sid, s.id FROM wanted w JOIN samples s ON "
                                            "s.hash = w.hash ORDER BY s.sid"):
            out.setdefault(int(h), []).append((int(sid), str(sample_id)))
        db.execute("DELETE FROM wanted")
        return out

    def _taken(self, db: Connection, ids: list[str]) -> set[str]:
        """Those of `ids` that name a stored sample."""
        if not ids:
            return set()
        found = self._existing(db, ids, list(range(len(ids))))
        return {ids[r] for r in found}

    def _existing(self, db: Connection, ids: list[str], rows: list[int]) -> dict[int, tuple[int, int]]:
        """Row -> (sid, stored hash) of the rows whose sample is stored already."""
        if db.execute("SELECT 1 FROM samples LIMIT 1").fetchone() is None:
            return {}
        db.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (id TEXT PRIMARY KEY, pos INTEGER NOT NULL)")
        db.execute("DELETE FROM incoming")
        db.executemany("INSERT INTO incoming VALUES (?, ?)", zip(ids, rows, strict=True))
        found = db.execute("SELECT i.pos, s.sid, s.hash FROM incoming i JOIN samples s ON s.id = i.id").fetchall()
        db.execute("DELETE FROM incoming")
        return {int(pos): (int(sid), int(h)) for pos, sid, h in found}

    def _insert_samples(  # noqa: PLR0913 - the rows and their columns, the split keyword-only
            self, db: Connection, schema: Schema, inputs: pd.DataFrame, ids: list[str], hashes: np.ndarray,
            rows: list[int], *, split: np.ndarray, src: int, rev: int) -> dict[int, int]:
        if not rows:
            return {}
        start = int(db.execute("SELECT coalesce(max(sid), 0) + 1 FROM samples").fetchone()[0])
        sids = list(range(start, start + len(rows)))
        picked = inputs.iloc[rows]
        held = holdout_mask(split[rows], self.holdout_fraction).astype(int).tolist()
        columns: list[list[Any]] = [sids, [ids[r] for r in rows], hashes[rows].astype(np.int64).tolist(), held,
                                    [src] * len(rows), [rev] * len(rows)]
        names = list(schema.inputs)
        for name in names:
            values = picked[name]
            columns.append(values.astype(object).where(values.notna(), None).tolist())
        marks = ", ".join("?" * (6 + len(names)))
        cols = ", ".join(["sid", "id", "hash", "holdout", "src", "rev",
                          *(input_column(n, self.dialect) for n in names)])
        db.executemany(f"INSERT INTO samples ({cols}) VALUES ({marks})", zip(*columns, strict=True))
        return dict(zip(rows, sids, strict=True))

    def _stored(self, db: Connection, sids: list[int]) -> dict[tuple[int, int], str]:
        """(gid, sid) -> current annotation of the given samples."""
        if not sids:
            return {}
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS picked (sid {self.dialect.int64} PRIMARY KEY)")
        db.execute("DELETE FROM picked")
        db.executemany("INSERT INTO picked VALUES (?) ON CONFLICT DO NOTHING", ((s,) for s in sids))
        out: dict[tuple[int, int], str] = {}
        for gid, _, _ in self._groups(db).values():
            found = db.execute(CURRENT.format(only=" AND h.sid IN (SELECT sid FROM picked)"), (gid, NO_BOUND))
            out.update({(gid, int(s)): str(v) for s, v, _ in found if v is not None})
        db.execute("DELETE FROM picked")
        return out

    @staticmethod
    def _current(db: Connection, gid: int, sid: int) -> str | None:
        row = db.execute("SELECT value FROM history WHERE gid = ? AND sid = ? ORDER BY rev DESC LIMIT 1",
                         (gid, sid)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    # --- one annotation ------------------------------------------------------------------------

    def _sample_key(self, db: Connection, sample_id: str) -> int:
        row = db.execute("SELECT sid FROM samples WHERE id = ?", (sample_id,)).fetchone()
        if row is None:
            raise SampleNotFoundError(f"no sample {sample_id!r} in {self.location}; add it first (upsert or "
                                      "compose learn --data FILE)")
        return int(row[0])

    def annotate(self, sample_id: str, group: str, value: Cell | bool, schema: Schema, *, label: str | None = None,
                 source: str = "api", on_conflict: OnConflict = "update") -> int | None:
        """Set the annotation of one sample for `group` (for a multilabel group, `label=` and a bool set
        one label); return the new revision, or None when nothing changed."""
        if label is not None:
            cell: Any = {label: bool(value)}
        elif isinstance(value, dict):
            cell = dict(value)
        else:
            cell = value
        frame = pd.DataFrame({group: [json.dumps(cell) if isinstance(cell, (dict, list)) else cell]})
        t = parse_targets(frame, schema, [group])
        if group not in t or not t[group].labelled[0]:
            raise DataError(f"annotate {sample_id!r}: an empty value for group {group!r}; to remove an "
                            "annotation use remove_annotation")
        given = encode_row(schema.groups[group].type, schema.labels_of(group), t[group], 0)
        with self._write() as db:
            groups = self._sync_schema(db, schema)
            gid, kind, labels = self._group(groups, group)
            sid = self._sample_key(db, sample_id)
            old = self._current(db, gid, sid)
            new = merge(kind, labels, old, given)
            if new == old:
                return None
            if old is not None and on_conflict == "error":
                raise SampleConflictError(f"sample {sample_id!r} is annotated {old} for group {group!r}, not {new}",
                                          sample_id, group, old, new)
            rev = self._new_revision(db, source, f"annotate {group}")
            db.execute("INSERT INTO history VALUES (?, ?, ?, ?)", (gid, sid, rev, new))
            return rev

    def remove_annotation(self, sample_id: str, group: str, *, label: str | None = None,
                          source: str = "api") -> int | None:
        """Remove a sample's annotation for `group` (or, multilabel, make one `label` unknown); return
        the new revision, or None when there was nothing to remove. The history keeps the old value."""
        with self._write() as db:
            gid, kind, labels = self._group(self._groups(db), group)
            sid = self._sample_key(db, sample_id)
            old = self._current(db, gid, sid)
            if old is None:
                return None
            new: str | None = None
            if label is not None:
                if kind != "multilabel":
                    raise DataError(f"group {group!r} is {kind}: remove its annotation without label=")
                known = truths(decode(kind, old), labels)
                if label not in known:
                    return None
                del known[label]
                new = encode_truths(known, labels) if known else None
            rev = self._new_revision(db, source, f"remove {group}" + (f" {label}" if label else ""))
            db.execute("INSERT INTO history VALUES (?, ?, ?, ?)", (gid, sid, rev, new))
            return rev

    # --- reading -------------------------------------------------------------------------------

    def _samples_from(self, db: Connection, rows: list[tuple[Any, ...]],
                      names: list[str]) -> list[Sample]:
        groups = {gid: (name, kind) for name, (gid, kind, _) in self._groups(db).items()}
        sids = [int(r[0]) for r in rows]
        notes: dict[int, dict[str, Cell]] = {s: {} for s in sids}
        for start in range(0, len(sids), 500):
            chunk = sids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for gid, (name, kind) in groups.items():
                for sid, value, _ in db.execute(CURRENT.format(only=f" AND h.sid IN ({marks})"),
                                                [gid, NO_BOUND, *chunk]):
                    if value is not None:
                        notes[int(sid)][name] = decode(kind, str(value))
        out = []
        for r in rows:
            sid, sample_id, held, src, rev, at, *values = r
            out.append(Sample(str(sample_id), HOLDOUT if held else TRAIN, str(src), str(at), int(rev),
                              dict(zip(names, values, strict=True)), notes[int(sid)]))
        return out

    def _select(self, names: list[str]) -> str:
        cols = "".join(f", s.{input_column(n, self.dialect)}" for n in names)
        return ("SELECT s.sid, s.id, s.holdout, so.name, s.rev, r.at" + cols + " FROM samples s "
                "JOIN sources so ON so.src = s.src JOIN revisions r ON r.rev = s.rev")

    def get(self, sample_id: str) -> Sample:
        """One sample with its current annotations; SampleNotFoundError if it is not stored."""
        with self._read() as db:
            names = list(self._inputs(db))
            rows = db.execute(self._select(names) + " WHERE s.id = ?", (sample_id,)).fetchall()
            if not rows:
                raise SampleNotFoundError(f"no sample {sample_id!r} in {self.location}")
            return self._samples_from(db, rows, names)[0]

    def samples(self, *, group: str | None = None, annotated: bool | None = None, split: str | None = None,
                source: str | None = None, after: int | None = None, limit: int = 100) -> SamplePage:
        """A page of samples in the order they were added: by `group` and whether it is `annotated`
        for it, by `split` (train / holdout) and by `source`; pass the page's `next_after` as `after`."""
        if split not in (None, TRAIN, HOLDOUT):
            raise DataError(f"split={split!r}; use 'train' or 'holdout'")
        if annotated is not None and group is None:
            raise DataError("annotated= needs group=")
        with self._read() as db:
            names = list(self._inputs(db))
            where: list[str] = ["s.sid > ?"]
            args: list[Any] = [after or 0]
            if group is not None:
                gid = self._group(self._groups(db), group)[0]
                has = "(SELECT h.value FROM history h WHERE h.gid = ? AND h.sid = s.sid ORDER BY h.rev DESC LIMIT 1)"
                where.append(has + (" IS NOT NULL" if annotated in (None, True) else " IS NULL"))
                args.append(gid)
            if split is not None:
                where.append("s.holdout = ?")
                args.append(int(split == HOLDOUT))
            if source is not None:
                where.append("so.name = ?")
                args.append(source)
            sql = self._select(names) + " WHERE " + " AND ".join(where) + " ORDER BY s.sid LIMIT ?"
            rows = db.execute(sql, [*args, limit + 1]).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            page = self._samples_from(db, rows, names)
        return SamplePage(page, int(rows[-1][0]) if more and rows else None)

    def history(self, sample_id: str, group: str | None = None) -> list[Change]:
        """Every change of a sample's annotations (or of one group's), oldest first."""
        with self._read() as db:
            sid = self._sample_key(db, sample_id)
            groups = {gid: (name, kind) for name, (gid, kind, _) in self._groups(db).items()}
            rows = db.execute("SELECT h.gid, h.rev, r.at, r.source, h.value FROM history h JOIN revisions r "
                              "ON r.rev = h.rev WHERE h.sid = ? ORDER BY h.rev", (sid,)).fetchall()
        out = []
        for gid, rev, at, src, value in rows:
            name, kind = groups[int(gid)]
            if group is None or name == group:
                out.append(Change(name, int(rev), str(at), str(src), None if value is None else decode(kind, value)))
        return out

    def last_change(self, group: str) -> int:
        """The revision of the latest change to `group`'s annotations (0: none)."""
        with self._lock:
            row = self._db.execute("SELECT coalesce(max(h.rev), 0) FROM history h JOIN groups g ON g.gid = h.gid "
                                   "WHERE g.name = ?", (group,)).fetchone()
        return int(row[0])

    def counts(self) -> SampleCounts:
        """Samples, splits and sources; per group annotated / unknown by split and per label counts."""
        with self._read() as db:
            split = dict(db.execute("SELECT holdout, count(*) FROM samples GROUP BY holdout").fetchall())
            total = sum(split.values())
            sources = {str(n): int(c) for n, c in db.execute(
                "SELECT so.name, count(*) FROM samples s JOIN sources so ON so.src = s.src GROUP BY so.name "
                "ORDER BY min(s.sid)")}
            last = dict(db.execute("SELECT gid, max(rev) FROM history GROUP BY gid").fetchall())
            groups = {}
            for name, (gid, kind, labels) in self._groups(db).items():
                rows = db.execute(f"SELECT a.value, s.holdout, count(*) FROM ({LATEST}) a JOIN samples s ON "
                                  "s.sid = a.sid WHERE a.value IS NOT NULL GROUP BY a.value, s.holdout",
                                  (gid, self.revision)).fetchall()
                groups[name] = group_counts(kind, labels, rows, total, int(last.get(gid) or 0))
        return SampleCounts(total, int(split.get(0, 0)), int(split.get(1, 0)), self.revision, sources, groups)

    def read(self, schema: Schema, groups: Sequence[str] | None = None, *, as_of: int | str | None = None,
             annotated_only: bool = False) -> SampleSet:
        """The stored samples as training reads them: prepared inputs (typed by `schema`), targets of
        `groups` (default: the schema's groups the store knows), the fixed split, as of a revision.

        With `annotated_only`, only samples annotated for at least one of `groups` are read.
        """
        rev = self.resolve(as_of)
        with self._read() as db:
            stored = self._groups(db)
            wanted = [g for g in (groups if groups is not None else schema.groups) if g in stored]
            names = [n for n in self._inputs(db) if n in schema.inputs]
            cols = "".join(f", {input_column(n, self.dialect)}" for n in names)
            rows = db.execute(f"SELECT sid, id, hash, holdout{cols} FROM samples WHERE rev <= ? ORDER BY sid",
                              (rev,)).fetchall()
            values = {g: self._values(db, stored[g][0], rev) for g in wanted}
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * (4 + len(names))
        sids = np.asarray(columns[0], dtype=np.int64)
        if annotated_only and wanted:
            keep = np.zeros(len(sids), dtype=bool)
            for g in wanted:
                keep |= np.isin(sids, np.fromiter(values[g], dtype=np.int64, count=len(values[g])))
            picked = np.flatnonzero(keep).tolist()
            columns = [[c[i] for i in picked] for c in columns]
            sids = sids[picked]
        frame = pd.DataFrame({n: pd.Series(columns[4 + i], dtype=object) for i, n in enumerate(names)})
        frame.attrs["source"] = f"the sample store {self.location}"
        inputs = prepare_inputs(frame, schema)
        # decoded with the schema's labels: they are what the heads are built for
        targets = {g: targets_from(schema.groups[g].type, g, schema.labels_of(g),
                                   [values[g].get(int(s)) for s in sids]) for g in wanted}
        hashes = np.asarray(columns[2], dtype=np.int64).view(np.uint64)
        holdout = np.asarray(columns[3], dtype=bool)
        return SampleSet(inputs, targets, holdout, hashes, sids, [str(i) for i in columns[1]], rev)

    @staticmethod
    def _values(db: Connection, gid: int, rev: int) -> dict[int, str]:
        found = db.execute(LATEST, (gid, rev))
        return {int(s): str(v) for s, v, _ in found if v is not None}

    def frame(self, schema: Schema, *, groups: Sequence[str] | None = None, as_of: int | str | None = None,
              meta: bool = False) -> pd.DataFrame:
        """The samples as a table `compose train` reads: `id`, the inputs, one column per group
        (empty: not annotated); with `meta`, also `split` and `source`."""
        rev = self.resolve(as_of)
        data = self.read(schema, groups, as_of=rev)
        with self._read() as db:
            stored = self._groups(db)
            out = pd.DataFrame({"id": data.ids})
            for name in data.inputs.columns:
                out[name] = data.inputs[name].to_numpy()
            for g in data.targets:
                values = self._values(db, stored[g][0], rev)
                out[g] = pd.Series([values.get(int(s)) for s in data.sids], dtype=object)
            if meta:
                out["split"] = np.where(data.holdout, HOLDOUT, TRAIN)
                src = dict(db.execute("SELECT s.sid, so.name FROM samples s JOIN sources so ON so.src = s.src"))
                out["source"] = [src[int(s)] for s in data.sids]
        return out

    def export(self, path: str | Path, schema: Schema, *, groups: Sequence[str] | None = None,
               as_of: int | str | None = None, meta: bool = False) -> Path:
        """Write `frame(...)` to a CSV, JSON Lines or Parquet file (by its suffix); return the path."""
        return write_table(self.frame(schema, groups=groups, as_of=as_of, meta=meta), path)

    # --- fits ----------------------------------------------------------------------------------

    def record_fit(self, group: str, version: int, sids: np.ndarray, revision: int) -> None:
        """Remember the samples version `version` of `group` was fitted on (as of `revision`)."""
        keys = np.sort(np.asarray(sids, dtype=np.int64))
        blob = zlib.compress(np.diff(keys, prepend=0).astype(np.int64).tobytes(), 6)
        with self._write() as db:
            gid = self._group(self._groups(db), group)[0]
            db.execute("INSERT INTO fits VALUES (?, ?, ?, ?, ?) ON CONFLICT (gid, version) DO UPDATE SET "
                       "rev = excluded.rev, n = excluded.n, sids = excluded.sids",
                       (gid, version, revision, len(keys), blob))

    def fitted(self, group: str, version: int) -> tuple[np.ndarray, int] | None:
        """The sample keys version `version` of `group` was fitted on and the revision, or None if unknown."""
        with self._lock:
            row = self._db.execute("SELECT f.sids, f.rev FROM fits f JOIN groups g ON g.gid = f.gid WHERE g.name = ? "
                                   "AND f.version = ?", (group, version)).fetchone()
        if row is None:
            return None
        deltas = np.frombuffer(zlib.decompress(row[0]), dtype=np.int64)
        return np.cumsum(deltas), int(row[1])

    def keys(self, ids: Sequence[str]) -> np.ndarray:
        """The store's key of each sample id (-1 for an id it does not hold), as `fitted` returns them."""
        distinct = list(dict.fromkeys(ids))
        with self._write() as db:  # a temporary table for the join; nothing of the store is changed
            found = self._existing(db, distinct, list(range(len(distinct))))
        key = {distinct[r]: sid for r, (sid, _) in found.items()}
        return np.array([key.get(i, -1) for i in ids], dtype=np.int64)

    def ids_of(self, data: Any, schema: Schema) -> list[str]:
        """The sample id of each row of `data` as an upsert of it would name them (its `id` column,
        else the stored sample its inputs and their order match, else the id a new sample would get)."""
        df = split_tags(as_frame(data), schema)
        hashes = row_hashes(prepare_inputs(df, schema), self.seed)
        with self._write() as db:  # temporary tables for the joins; nothing of the store is changed
            ids, _, _ = self._identify(db, given_ids(df, source_of(df)), hashes, list(range(len(df))), fresh=False,
                                       where=source_of(df))
        return ids

    def size_bytes(self) -> int:
        """The database's size on disk (main file and write-ahead log; on PostgreSQL, the model's tables)."""
        if isinstance(self._db, PostgresConnection):
            with self._lock:
                return self._db.size_bytes()
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)


def _off_path(schema: Schema, cells: dict[str, list[str | None]], groups: dict[str, tuple[int, str, list[str]]],
              rows: dict[int, int], stored: dict[tuple[int, int], str], report: UpsertReport,
              rev: int) -> list[tuple[int, int, int, str | None]]:
    """Removals of the stored annotations of hierarchy heads that a row's new path no longer passes
    through (`compose.data.hierarchy.off_path_rows`), counted as changes."""
    out: list[tuple[int, int, int, str | None]] = []
    for head, off in off_path_rows(schema, cells).items():
        gid = groups[head][0]
        gone = [(gid, rows[r], rev, None) for r in off if r in rows and stored.get((gid, rows[r])) is not None]
        report.changed[head] = report.changed.get(head, 0) + len(gone)
        out.extend(gone)
    return out


def _changes(cells: dict[str, list[str | None]], groups: dict[str, tuple[int, str, list[str]]], rows: dict[int, int],
             stored: dict[tuple[int, int], str], report: UpsertReport, refuse: list[str] | None,
             where: str, shared: set[int]) -> list[tuple[int, int, str]]:
    """The annotations an upsert writes, (gid, sid, value), counted into `report`; with `refuse`
    (the rows' ids), a change of a stored annotation is a SampleConflictError. Changes of the rows
    in `shared` (matched by their order among equal inputs) are counted as `report.ambiguous`."""
    writes: list[tuple[int, int, str]] = []
    for g, column in cells.items():
        gid, kind, labels = groups[g]
        if not stored:  # only new samples: every labelled cell is added as it is
            new = [(gid, sid, value) for r, sid in rows.items() if (value := column[r]) is not None]
            writes.extend(new)
            report.added[g], report.changed[g], report.unchanged[g] = len(new), 0, 0
            continue
        added = changed = same = 0
        for r, sid in rows.items():
            given = column[r]
            if given is None:
                continue
            old = stored.get((gid, sid))
            value = merge(kind, labels, old, given)
            if old is None:
                added += 1
            elif value == old:
                same += 1
                continue
            else:
                if refuse is not None:
                    raise SampleConflictError(
                        f"{where}, row {r + 1}: sample {refuse[r]!r} is annotated {old} for group {g!r}; "
                        f"the row says {value}. Change the annotation explicitly", refuse[r], g, old, value)
                changed += 1
                report.ambiguous += r in shared
            writes.append((gid, sid, value))
        report.added[g], report.changed[g], report.unchanged[g] = added, changed, same
    return writes


class _NothingNew(Exception):  # noqa: N818 - control flow inside `upsert`, never raised out of it
    """An upsert that adds no sample and changes no annotation: roll its transaction back."""
