"""The cell grammar: an empty cell is unknown; single labels; multilabel cells as JSON lists or `a|b`.

A multilabel cell can also give per-label truth, `{"red": true, "blue": false}` (a JSON object, or a
mapping read from JSON Lines or Parquet): the labels it names are known, every other label of the
group is unknown for that row, neither present nor absent.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return bool(value is pd.NA or value is pd.NaT)


def split_multilabel(value: Any) -> list[str] | None:
    if is_missing(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{text[:40]!r} looks like a JSON list but is not valid JSON ({exc.msg})") from exc
        except RecursionError:
            raise ValueError(f"{text[:40]!r}... looks like a JSON list but is nested too deeply to read; write the "
                             "labels as a flat list") from None
        if not isinstance(parsed, list):
            raise ValueError(f"{text[:40]!r} is not a list")
        return [str(v) for v in parsed]
    return [part.strip() for part in text.split("|") if part.strip()]


def _truth(label: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"label {label!r} is given {value!r}; per-label truth is true or false")


def multilabel_cell(value: Any) -> list[str] | dict[str, bool] | None:
    """A multilabel cell: None (not annotated), the list of present labels (every other label is
    absent), or a mapping label -> present for a cell that gives per-label truth (`{"red": true}`:
    the labels it does not name are unknown). Raises ValueError on a malformed cell."""
    if is_missing(value):
        return None
    if isinstance(value, dict):
        return {str(k): _truth(str(k), v) for k, v in value.items()}
    if isinstance(value, str) and value.strip().startswith("{"):
        text = value.strip()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{text!r} looks like a JSON object but is not valid JSON ({exc.msg})") from exc
        if not isinstance(parsed, dict):
            raise ValueError(f"{text!r} is not a JSON object of label: true/false")
        return {str(k): _truth(str(k), v) for k, v in parsed.items()}
    return split_multilabel(value)


def single_label(value: Any, labels: list[str], binary_default: bool) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    if text in labels:
        return text
    if binary_default:
        low = text.lower()
        if low in _TRUE:
            return labels[1]
        if low in _FALSE:
            return labels[0]
    return text


