"""Text helpers shared by every message: close-match suggestions."""

from __future__ import annotations

import difflib


def did_you_mean(value: str, choices: list[str]) -> str:
    """` Did you mean 'x'?` for the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
