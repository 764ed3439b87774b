"""Merged results built column-wise, as dicts and as JSON Lines text, for a batch of rows.

The rows of a plain group fall into a few patterns, one per outcome, and every row of a pattern
has the same keys in the same order (`compose.runtime.columns.result_keys`, the one key order).
Each key's values are a column over the batch, computed with array operations
(`GroupColumns`); a pattern's dicts are zipped from its columns in one pass
(`dict(zip(keys, values))`: no Python statement per row), and its JSON text is one `%` format per
row with the pattern's constant keys written into the format. The merged results are assembled
the same way from the groups' columns. Numbers are rounded to 4 places, so their JSON text is
looked up in a table of the 10,001 values from 0 to 1 (the text `repr` gives), not formatted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from itertools import chain, repeat
from typing import Any, cast

import numpy as np

from compose.runtime.columns import OUTCOMES, SKIPPED, GroupColumns, result_keys
from compose.runtime.hierarchy import HierarchyColumns
from compose.typing import GroupResult, MergedResult

#: The columns of one group of the merged result (a hierarchy's heads read as one group).
ResultColumns = GroupColumns | HierarchyColumns

try:  # a fast encoder when installed (the `fast` extra); the standard library otherwise
    import orjson

    def dumps(value: Any) -> str:
        """One JSON value (a string, a number, None, a list or a dict), keeping non-ASCII text."""
        return orjson.dumps(value).decode("utf-8")
except ImportError:  # pragma: no cover - orjson is in the dev extra

    def dumps(value: Any) -> str:
        """One JSON value (a string, a number, None, a list or a dict), keeping non-ASCII text."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Constant:
    """A key whose value is the same on every row of a pattern (written into its format once)."""

    def __init__(self, value: Any) -> None:
        self.value = value


Column = list[Any] | _Constant


def _list(values: np.ndarray) -> list[Any]:
    out: list[Any] = values.tolist()
    return out


@cache
def _number_table() -> np.ndarray:
    """The JSON text of k / 10000 for k in 0..10000 (what `repr` gives for a value rounded to 4 places)."""
    return np.array([repr(k / 10000) for k in range(10001)], dtype=object)


def number_texts(values: np.ndarray) -> np.ndarray:
    """The JSON text of values rounded to 4 places (NaN: null), as an object array of their shape."""
    nan = np.isnan(values)
    clean = np.where(nan, 0.0, values)
    if clean.size and (clean.max() > 1.0 or np.signbit(clean).any()):
        texts = np.array([repr(v) for v in clean.ravel().tolist()], dtype=object).reshape(values.shape)
    else:
        texts = _number_table()[np.rint(clean * 10000).astype(np.int64)]
    texts[nan] = "null"
    return texts


def _format(keys: Sequence[str], constants: dict[str, str]) -> str:
    """A `%` format of a JSON object of `keys`: constant keys written in, `%s` for the others."""
    parts = [dumps(k).replace("%", "%%") + ":" + (constants[k].replace("%", "%%") if k in constants else "%s")
             for k in keys]
    return "{" + ",".join(parts) + "}"


def _zip_rows(columns: list[Column], rows: np.ndarray | None) -> Iterable[tuple[Any, ...]]:
    picked = [repeat(c.value) if isinstance(c, _Constant) else (c if rows is None else [c[i] for i in rows])
              for c in columns]
    return zip(*picked, strict=False)  # a constant repeats as long as the rows last


def _scatter(n: int, parts: list[tuple[np.ndarray | None, list[Any]]]) -> list[Any]:
    """Rows of several patterns (each: its row indices, None for all rows, and its values) in row order."""
    if len(parts) == 1 and parts[0][0] is None:
        return parts[0][1]
    out: list[Any] = [None] * n
    for rows, values in parts:
        assert rows is not None
        for i, v in zip(rows.tolist(), values, strict=True):
            out[i] = v
    return out


def _patterns(c: GroupColumns, start: int, stop: int) -> list[tuple[int, np.ndarray | None]]:
    """Each outcome among rows start..stop, with its rows (None: all of them)."""
    codes = c.outcome[start:stop]
    present = np.unique(codes).tolist()
    if len(present) == 1:
        return [(int(present[0]), None)]
    return [(int(code), np.flatnonzero(codes == code)) for code in present]


class _Values:
    """The values of each key of one plain group's results for rows start..stop, as columns."""

    def __init__(self, c: GroupColumns, start: int, stop: int, text: bool) -> None:
        self.c, self.start, self.stop, self.text = c, start, stop, text
        self.cache: dict[str, Column] = {}

    def column(self, key: str, outcome: int) -> Column:
        if key == "outcome":
            return _Constant(OUTCOMES[outcome])
        if key not in self.cache:
            self.cache[key] = self._column(key)
        return self.cache[key]

    def _labels(self, labels: list[str], missing: Any) -> np.ndarray:
        values: list[Any] = [dumps(x) for x in labels] if self.text else list(labels)
        return np.array([*values, missing], dtype=object)  # index -1: no label

    def _column(self, key: str) -> Column:  # noqa: PLR0911 - one branch per key of a group result
        c, s, text = self.c, slice(self.start, self.stop), self.text
        if key in ("version", "decision_version", "source"):
            value = {"version": c.version, "decision_version": c.decision_version, "source": c.source}[key]
            return _Constant(value)
        if key == "review":
            return _Constant(True)
        if key == "label":
            return _list(self._labels(c.labels, "null" if text else None)[c.chosen[s]])
        if key == "candidate":
            return _list(self._labels(c.labels, "null" if text else None)[c.candidate[s]])
        if key == "confidence":
            if text:
                return _list(number_texts(c.confidence[s]))
            values = c.confidence[s].astype(object)
            values[np.isnan(c.confidence[s])] = None
            return _list(values)
        if key == "scores":
            return self._scores()
        if key == "labels":
            codes, sets = c.sets
            table: list[Any] = ["[" + ",".join(dumps(x) for x in st) + "]" for st in sets] if text else sets
            picked = np.array([*table, "[]" if text else []], dtype=object)[codes[s]].tolist()
            return picked if text else list(map(list, picked))  # a fresh list per row
        if key == "skipped":
            return self._strings(c.output.skipped_reason[s])
        if key in ("reason", "abstained"):
            reasons = c.reasons
            return self._strings([reasons.get(r) for r in range(self.start, self.stop)])
        raise KeyError(f"no column for the key {key!r} of a group result; add it to compose.runtime.columnar")

    def _strings(self, values: list[str | None]) -> list[Any]:
        return [dumps(v) for v in values] if self.text else list(values)

    def _scores(self) -> list[Any]:
        c, s = self.c, slice(self.start, self.stop)
        if not self.text:
            return list(map(dict, map(zip, repeat(c.labels), c.rounded[s].tolist())))
        fmt = "{" + ",".join(dumps(label).replace("%", "%%") + ":%s" for label in c.labels) + "}"
        return [fmt % tuple(row) for row in number_texts(c.rounded[s]).tolist()]


def _constant_texts(values: _Values, keys: Sequence[str], outcome: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in keys:
        col = values.column(key, outcome)
        if isinstance(col, _Constant):
            out[key] = dumps(col.value)
    return out


def group_dicts(c: ResultColumns, start: int, stop: int) -> list[GroupResult]:
    """The result of one group for rows start..stop (key order: `result_keys`)."""
    if isinstance(c, HierarchyColumns):
        return c.dicts(start, stop)
    values = _Values(c, start, stop, text=False)
    parts: list[tuple[np.ndarray | None, list[Any]]] = []
    for outcome, rows in _patterns(c, start, stop):
        keys = _keys(c, outcome)
        columns = [values.column(k, outcome) for k in keys]
        parts.append((rows, list(map(dict, map(zip, repeat(keys), _zip_rows(columns, rows))))))
    return cast(list[GroupResult], _scatter(stop - start, parts))


def group_json(c: ResultColumns, start: int, stop: int) -> list[str]:
    """The JSON text of one group's result for rows start..stop (as `group_dicts`, dumped)."""
    if isinstance(c, HierarchyColumns):
        return [dumps(d) for d in c.dicts(start, stop)]
    values = _Values(c, start, stop, text=True)
    parts: list[tuple[np.ndarray | None, list[Any]]] = []
    for outcome, rows in _patterns(c, start, stop):
        keys = _keys(c, outcome)
        constants = _constant_texts(values, keys, outcome)
        fmt = _format(keys, constants)
        columns = [values.column(k, outcome) for k in keys if k not in constants]
        parts.append((rows, [fmt % row for row in _zip_rows(columns, rows)]))
    return _scatter(stop - start, parts)


def _keys(c: GroupColumns, outcome: int) -> tuple[str, ...]:
    return result_keys(c.kind, outcome, source=c.source != "model" and outcome != SKIPPED,
                       sets=c.output.decided.selected is not None)


# --- the merged results -----------------------------------------------------------------------------


def _flat_pieces(c: ResultColumns, start: int, stop: int, piece: Callable[[list[str]], Any], empty: Any) -> list[Any]:
    """Per row, the group's part of the flat `labels` (its label, or its set), as `piece` gives it."""
    if c.has_sets():
        codes, sets = c.sets
        table = [piece(st) for st in sets]
        return _list(np.array([*table, empty], dtype=object)[codes[start:stop]])
    table = [piece([label]) for label in c.labels]
    return _list(np.array([*table, empty], dtype=object)[c.chosen[start:stop]])


def flat_labels(columns: list[ResultColumns], start: int, stop: int) -> list[list[str]]:
    """Per row, the flat `labels` list: each group's label, or its set (multilabel, top_k, cumulative, path)."""
    pieces = [_flat_pieces(c, start, stop, tuple, ()) for c in columns]
    if not pieces:
        return [[] for _ in range(stop - start)]
    return [list(chain.from_iterable(t)) for t in zip(*pieces, strict=True)]


def flat_json(columns: list[ResultColumns], start: int, stop: int) -> list[str]:
    """Per row, the flat `labels` list as JSON text (as `flat_labels`, dumped)."""
    pieces = [_flat_pieces(c, start, stop, lambda st: ",".join(dumps(x) for x in st), "") for c in columns]
    if not pieces:
        return ["[]"] * (stop - start)
    return ["[" + ",".join(filter(None, t)) + "]" for t in zip(*pieces, strict=True)]


def review_groups(columns: list[ResultColumns], start: int, stop: int) -> list[list[str]] | None:
    """Per row, the groups that sent it to review; None when no group has a review zone."""
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


def merged_dicts(columns: list[ResultColumns], release: str, start: int, stop: int) -> list[MergedResult]:
    """The merged results of rows start..stop: `labels`, `groups`, `release`, and `review` when some group sent it."""
    names = [c.group for c in columns]
    per_group = [group_dicts(c, start, stop) for c in columns]
    groups: Iterable[dict[str, GroupResult]] = (map(dict, map(zip, repeat(names), zip(*per_group, strict=True)))
                                               if per_group else ({} for _ in range(stop - start)))
    results: list[MergedResult] = [{"labels": flat, "groups": g, "release": release}
                                   for flat, g in zip(flat_labels(columns, start, stop), groups, strict=True)]
    reviews = review_groups(columns, start, stop)
    if reviews is not None:
        for result, review in zip(results, reviews, strict=True):
            if review:
                result["review"] = review
    return results


def jsonl_text(columns: list[ResultColumns], release: str, start: int, stop: int,
               prefix: list[str] | None = None) -> str:
    """Rows start..stop as JSON Lines text (each line ends with a newline), as `merged_dicts`, dumped.

    `prefix` (one per row) is JSON text of leading keys, each ending with a comma.
    """
    groups = ",".join(dumps(c.group).replace("%", "%%") + ":%s" for c in columns)
    fmt = '{%s"labels":%s,"groups":{' + groups + '},"release":' + dumps(release).replace("%", "%%") + "%s}\n"
    reviews = review_groups(columns, start, stop)
    tails = [',"review":' + dumps(r) if r else "" for r in reviews] if reviews is not None else repeat("")
    heads = prefix if prefix is not None else repeat("")
    fragments = [group_json(c, start, stop) for c in columns]
    rows = zip(heads, flat_json(columns, start, stop), *fragments, tails, strict=False)  # heads, tails: maybe repeat
    return "".join([fmt % row for row in rows])

