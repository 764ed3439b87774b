"""`Predictions`: the results of a batch, a sequence of merged results backed by per-group arrays.

`ComposedModel.predict` returns one. It reads as a list of merged-result mappings (the JSON shape
of the README: `labels`, `groups`, `release`, and `review` when a group sent the row to review),
so `preds[i]`, `len(preds)`, `list(preds)` and `preds == [...]` work as they did on a list. A
merged result is built only when it is asked for. The exports read the arrays directly and never
build one per row: `to_frame()` and `to_arrow()` turn label indices into categorical
(dictionary) columns, `to_parquet(path)` writes that table, and `to_jsonl(path)` writes the merged
results as JSON Lines from per-group string fragments (orjson when installed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast, overload

import numpy as np
import pandas as pd

from compose.heads.decide import Decided
from compose.runtime.columns import OUTCOMES, SKIPPED, GroupColumns
from compose.runtime.hierarchy import HierarchyColumns, result_groups
from compose.runtime.merge import merged_results
from compose.runtime.outputs import GroupOutput, ModelView
from compose.typing import GroupResult, MergedResult

if TYPE_CHECKING:
    import pyarrow as pa

#: The columns of one group of the merged result (a hierarchy's heads read as one group).
ResultColumns = GroupColumns | HierarchyColumns

_CHUNK = 8192  # rows turned into Python objects at a time
ROW_PATH_ROWS = 64  # up to this many rows, merged results are built row by row (compose.runtime.merge)


try:  # a fast encoder when installed (the `fast` extra); the standard library otherwise
    import orjson

    def _dumps(value: Any) -> str:
        """One JSON value (a string, a number or None here), keeping non-ASCII text."""
        return orjson.dumps(value).decode("utf-8")
except ImportError:  # pragma: no cover - orjson is in the dev extra

    def _dumps(value: Any) -> str:
        """One JSON value (a string, a number or None here), keeping non-ASCII text."""
        return json.dumps(value, ensure_ascii=False)


def _slice_output(output: GroupOutput, rows: slice | np.ndarray) -> GroupOutput:
    d = output.decided
    decided = Decided(d.chosen[rows], d.confidence[rows], d.abstained[rows],
                      None if d.selected is None else d.selected[rows], None if d.review is None else d.review[rows])
    reasons = output.skipped_reason
    picked = reasons[rows] if isinstance(rows, slice) else [reasons[int(r)] for r in rows]
    return GroupOutput(output.group, output.applied[rows], output.scores[rows], decided, list(picked))


class Predictions(Sequence[MergedResult]):
    """The merged results of a batch, one per row, computed from per-group arrays on demand.

    `outputs` maps each group (in plan order) to what its head produced for the batch.
    """

    def __init__(self, model: ModelView, outputs: dict[str, GroupOutput]) -> None:
        self._model = model
        self.outputs = outputs
        self.release = model.release_name
        self._n = len(next(iter(outputs.values())).applied) if outputs else 0
        self._columns: list[ResultColumns] | None = None
        self._rows: list[MergedResult] | None = None  # the row path's results, for a few rows

    @property
    def groups(self) -> list[str]:
        return list(self.outputs)

    @property
    def columns_(self) -> list[ResultColumns]:
        if self._columns is None:
            self._columns = [GroupColumns.of(self._model, self.outputs[g]) if tree is None else tree
                             for g, tree in result_groups(self._model, self.outputs)]
        return self._columns

    def scores(self, group: str) -> np.ndarray:
        """The raw scores of a group, (n_rows, n_labels); NaN rows where a conditional head did not run."""
        return self.outputs[group].scores

    # --- the sequence ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> MergedResult: ...

    @overload
    def __getitem__(self, index: slice) -> Predictions: ...

    def __getitem__(self, index: int | slice) -> MergedResult | Predictions:
        if isinstance(index, slice):
            return Predictions(self._model, {g: _slice_output(o, index) for g, o in self.outputs.items()})
        i = int(index)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"row {index} is out of range for {self._n} predictions")
        return self._dicts(i, i + 1)[0]

    def __iter__(self) -> Iterator[MergedResult]:
        for start in range(0, self._n, _CHUNK):
            yield from self._dicts(start, min(start + _CHUNK, self._n))

    def to_list(self) -> list[MergedResult]:
        """Every merged result as a plain list of dicts."""
        out: list[MergedResult] = []
        for start in range(0, self._n, _CHUNK):
            out.extend(self._dicts(start, min(start + _CHUNK, self._n)))
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Predictions):
            return len(self) == len(other) and self.to_list() == other.to_list()
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(self) == len(other) and self.to_list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and compared by value, like a list

    def __repr__(self) -> str:
        return f"Predictions({self._n} rows, groups={self.groups}, release={self.release!r})"

    # --- merged results as dicts ------------------------------------------------------------------

    def _dicts(self, start: int, stop: int) -> list[MergedResult]:
        if self._n <= ROW_PATH_ROWS:
            if self._rows is None:
                self._rows = merged_results(self._model, self.outputs)
            return self._rows[start:stop]  # the same dicts each time, as a list would hold them
        return self._columnar_dicts(start, stop)

    def _columnar_dicts(self, start: int, stop: int) -> list[MergedResult]:
        per_group = [(c.group, _group_dicts(c, start, stop)) for c in self.columns_]
        flats = _flat_labels(self.columns_, start, stop)
        reviews = _review_groups(self.columns_, start, stop)
        release = self.release
        results: list[MergedResult] = []
        for k in range(stop - start):
            result: MergedResult = {"labels": flats[k], "groups": {g: ds[k] for g, ds in per_group},
                                    "release": release}
            if reviews is not None and reviews[k]:
                result["review"] = reviews[k]
            results.append(result)
        return results

    # --- columnar exports -----------------------------------------------------------------------

    def _table_columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {}
        for c in self.columns_:
            cols.update(c.table())
        cols["release"] = (np.zeros(self._n, dtype=np.int32), [self.release])
        return cols

    def to_frame(self) -> pd.DataFrame:
        """A flat table, one row per input row: labels as categorical columns, scores as floats.

        Per group: `<group>` (the label, or a multilabel group's labels joined by '|'),
        `<group>_confidence` (multiclass, binary), `<group>_score_<label>` (multilabel),
        `<group>_labels` (top_k, cumulative), `<group>_review` (zones), `<group>_source` (a zero-shot
        head: `zero-shot` where it ran) and `<group>_outcome`;
        then `release`. A group that did not run on a row (or gave no label) is missing there.
        """
        data: dict[str, Any] = {}
        for name, col in self._table_columns().items():
            if isinstance(col, tuple):
                codes, categories = col
                data[name] = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))
            else:
                data[name] = col
        return pd.DataFrame(data, index=pd.RangeIndex(self._n), copy=False)

    def to_arrow(self) -> pa.Table:
        """The table of `to_frame()` as a pyarrow Table: dictionary-encoded labels, nulls where missing."""
        import pyarrow as pa

        arrays: dict[str, Any] = {}
        for name, col in self._table_columns().items():
            if isinstance(col, tuple):
                codes, categories = col
                indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
                arrays[name] = pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))
            elif col.dtype == bool:
                arrays[name] = pa.array(col, type=pa.bool_())
            else:
                arrays[name] = pa.array(col, type=pa.float64(), mask=np.isnan(col))
        return pa.table(arrays)

    def to_parquet(self, path: str | Path) -> Path:
        """Write `to_arrow()` as one Parquet file; return the path."""
        import pyarrow.parquet as pq

        p = Path(path)
        pq.write_table(self.to_arrow(), p)
        return p

    def to_jsonl(self, path: str | Path | IO[bytes], *, ids: tuple[str, Sequence[Any]] | None = None) -> None:
        """Write one merged result per line (JSON Lines, UTF-8), without building them as dicts.

        `ids` (a column name and one value per row) puts that key first in every line.
        """
        if isinstance(path, (str, Path)):
            with Path(path).open("wb") as fh:
                self.to_jsonl(fh, ids=ids)
            return
        for start in range(0, self._n, _CHUNK):
            stop = min(start + _CHUNK, self._n)
            prefix = None
            if ids is not None:
                key = _dumps(ids[0])
                prefix = [f"{key}:{_dumps(v)}," for v in ids[1][start:stop]]
            path.write(jsonl_lines(self, start, stop, prefix).encode("utf-8"))


def _flat_labels(columns: list[ResultColumns], start: int, stop: int) -> list[list[str]]:
    """Per row, the flat `labels` list: each group's label, or its set (multilabel, top_k, cumulative)."""
    flats: list[list[str]] = [[] for _ in range(stop - start)]
    for c in columns:
        if c.has_sets():
            codes, sets = c.sets
            for k, code in enumerate(codes[start:stop].tolist()):
                if code >= 0:
                    flats[k].extend(sets[code])
        else:
            labels = c.labels
            for k, j in enumerate(c.chosen[start:stop].tolist()):
                if j >= 0:
                    flats[k].append(labels[j])
    return flats


def _review_groups(columns: list[ResultColumns], start: int, stop: int) -> list[list[str]] | None:
    zones = [(c, c.output.decided.review) for c in columns
             if isinstance(c, GroupColumns) and c.output.decided.review is not None]
    if not zones:
        return None
    out: list[list[str]] = [[] for _ in range(stop - start)]
    for c, review in zones:
        assert review is not None
        sent = np.asarray(review[start:stop], dtype=bool) & c.applied[start:stop]
        for k in np.flatnonzero(sent).tolist():
            out[k].append(c.group)
    return out


def _group_dicts(c: ResultColumns, start: int, stop: int) -> list[GroupResult]:
    """The merged result of one group for rows start..stop, key order as in the README."""
    if isinstance(c, HierarchyColumns):
        return c.dicts(start, stop)
    labels, version, decision = c.labels, c.version, c.decision_version
    applied = c.applied[start:stop].tolist()
    outcome = np.asarray(OUTCOMES, dtype=object)[c.outcome[start:stop]].tolist()
    reasons = c.reasons
    skipped = c.output.skipped_reason
    rounded = c.rounded[start:stop].tolist()
    out: list[dict[str, Any]] = []
    if c.kind == "multilabel":
        codes, sets = c.sets
        for k, code in enumerate(codes[start:stop].tolist()):
            r = start + k
            if not applied[k]:
                out.append({"labels": [], "skipped": skipped[r], "version": version, "decision_version": decision,
                            "outcome": "skipped", "reason": reasons[r]})
                continue
            res: dict[str, Any] = {"labels": list(sets[code]), "scores": dict(zip(labels, rounded[k], strict=True)),
                                   "version": version, "decision_version": decision, "outcome": outcome[k]}
            if r in reasons:
                res["reason"] = reasons[r]
            out.append(res)
        return cast(list[GroupResult], out)
    d = c.output.decided
    source = None if c.source == "model" else c.source
    chosen = c.chosen[start:stop].tolist()
    confidence = c.confidence[start:stop].tolist()
    abstained = np.asarray(d.abstained[start:stop], dtype=bool).tolist()
    review = None if d.review is None else np.asarray(d.review[start:stop], dtype=bool).tolist()
    codes, sets = c.sets
    set_codes = codes[start:stop].tolist() if d.selected is not None else None
    candidate = c.candidate[start:stop].tolist() if review is not None else None
    for k, j in enumerate(chosen):
        r = start + k
        if not applied[k]:
            out.append({"label": None, "confidence": None, "skipped": skipped[r], "version": version,
                        "decision_version": decision, "outcome": "skipped", "reason": reasons[r]})
            continue
        conf = confidence[k]
        res = {"label": labels[j] if j >= 0 else None, "confidence": None if math.isnan(conf) else conf,
               "scores": dict(zip(labels, rounded[k], strict=True)), "version": version}
        if source is not None:
            res["source"] = source
        if set_codes is not None:
            res["labels"] = list(sets[set_codes[k]])
        if abstained[k]:
            res["abstained"] = reasons.get(r)
        if review is not None and candidate is not None and review[k]:
            res["review"] = True
            res["candidate"] = labels[candidate[k]]
        res["decision_version"] = decision
        res["outcome"] = outcome[k]
        if r in reasons:
            res["reason"] = reasons[r]
        out.append(res)
    return cast(list[GroupResult], out)


# --- JSON Lines from fragments --------------------------------------------------------------------


def _number(x: float) -> str:
    return "null" if math.isnan(x) else repr(x)


def _group_fragments(c: ResultColumns, start: int, stop: int) -> list[str]:
    """The JSON text of one group's merged result for rows start..stop (as `_group_dicts`, dumped)."""
    if isinstance(c, HierarchyColumns):
        return c.fragments(start, stop)
    labels = c.labels
    keys = [_dumps(label) + ":" for label in labels]
    scores_format = "{" + ",".join(k.replace("%", "%%") + "%r" for k in keys) + "}"
    tail_common = f',"version":{c.version},"decision_version":{_dumps(c.decision_version)}'
    outcome_json = [_dumps(o) for o in OUTCOMES]
    codes_out = c.outcome[start:stop].tolist()
    applied = c.applied[start:stop].tolist()
    reasons = c.reasons
    skipped = c.output.skipped_reason
    rounded = c.rounded[start:stop].tolist()
    out: list[str] = []
    skip_head = '{"labels":[]' if c.kind == "multilabel" else '{"label":null,"confidence":null'
    skip_tail = f'{tail_common},"outcome":{outcome_json[SKIPPED]},"reason":'
    if c.kind == "multilabel":
        codes, sets = c.sets
        set_json = ["[" + ",".join(_dumps(x) for x in s) + "]" for s in sets]
        for k, code in enumerate(codes[start:stop].tolist()):
            r = start + k
            if not applied[k]:
                out.append(f'{skip_head},"skipped":{_dumps(skipped[r])}{skip_tail}{_dumps(reasons[r])}}}')
                continue
            text = (f'{{"labels":{set_json[code]},"scores":{scores_format % tuple(rounded[k])}{tail_common}'
                    f',"outcome":{outcome_json[codes_out[k]]}')
            out.append(text + (f',"reason":{_dumps(reasons[r])}}}' if r in reasons else "}"))
        return out
    d = c.output.decided
    label_json = [_dumps(label) for label in labels]
    chosen = c.chosen[start:stop].tolist()
    confidence = c.confidence[start:stop].tolist()
    abstained = np.asarray(d.abstained[start:stop], dtype=bool).tolist()
    review = None if d.review is None else np.asarray(d.review[start:stop], dtype=bool).tolist()
    set_codes, sets = c.sets
    set_json = ["[" + ",".join(_dumps(x) for x in s) + "]" for s in sets]
    picked = set_codes[start:stop].tolist() if d.selected is not None else None
    candidate = c.candidate[start:stop].tolist() if review is not None else None
    version_part = f',"version":{c.version}' + ("" if c.source == "model" else f',"source":{_dumps(c.source)}')
    decision_part = f',"decision_version":{_dumps(c.decision_version)}'
    for k, j in enumerate(chosen):
        r = start + k
        if not applied[k]:
            out.append(f'{skip_head},"skipped":{_dumps(skipped[r])}{skip_tail}{_dumps(reasons[r])}}}')
            continue
        parts = [f'{{"label":{label_json[j] if j >= 0 else "null"},"confidence":{_number(confidence[k])}'
                 f',"scores":{scores_format % tuple(rounded[k])}{version_part}']
        if picked is not None:
            parts.append(f',"labels":{set_json[picked[k]]}')
        if abstained[k]:
            parts.append(f',"abstained":{_dumps(reasons.get(r))}')
        if review is not None and candidate is not None and review[k]:
            parts.append(f',"review":true,"candidate":{label_json[candidate[k]]}')
        parts.append(f'{decision_part},"outcome":{outcome_json[codes_out[k]]}')
        parts.append(f',"reason":{_dumps(reasons[r])}}}' if r in reasons else "}")
        out.append("".join(parts))
    return out


def _flat_json(columns: list[ResultColumns], start: int, stop: int) -> list[str]:
    """Per row, the flat `labels` list as JSON text (as `_flat_labels`, dumped)."""
    pieces: list[list[str]] = [[] for _ in range(stop - start)]
    for c in columns:
        if c.has_sets():
            codes, sets = c.sets
            texts = [",".join(_dumps(x) for x in s) for s in sets]
            for k, code in enumerate(codes[start:stop].tolist()):
                if code >= 0 and texts[code]:
                    pieces[k].append(texts[code])
        else:
            label_json = [_dumps(label) for label in c.labels]
            for k, j in enumerate(c.chosen[start:stop].tolist()):
                if j >= 0:
                    pieces[k].append(label_json[j])
    return ["[" + ",".join(p) + "]" for p in pieces]


def jsonl_lines(preds: Predictions, start: int, stop: int, prefix: list[str] | None = None) -> str:
    """Rows start..stop of `preds` as JSON Lines text (each line ends with a newline).

    `prefix` (one per row) is JSON text of leading keys, each ending with a comma.
    """
    columns = preds.columns_
    fragments = [(_dumps(c.group), _group_fragments(c, start, stop)) for c in columns]
    flats = _flat_json(columns, start, stop)
    reviews = _review_groups(columns, start, stop)
    release = _dumps(preds.release)
    lines: list[str] = []
    for k in range(stop - start):
        groups = ",".join(f"{name}:{frags[k]}" for name, frags in fragments)
        line = f'{{{prefix[k] if prefix else ""}"labels":{flats[k]},"groups":{{{groups}}},"release":{release}'
        if reviews is not None and reviews[k]:
            line += ',"review":[' + ",".join(_dumps(g) for g in reviews[k]) + "]"
        lines.append(line + "}\n")
    return "".join(lines)
