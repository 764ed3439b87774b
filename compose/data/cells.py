"""The cell grammar: an empty cell is unknown; single labels; multilabel cells as JSON lists or `a|b`."""

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


