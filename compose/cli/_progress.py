"""Progress bars on a terminal: rows/s and an ETA on stderr, never when piped, with `-q`, or in `--json` output.

A command asks `progress(args, total, unit, what)` for a callback `advance(n)`; off a terminal
(or without tqdm) the callback does nothing and the command's log lines say what happened.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def bars_on(args: argparse.Namespace) -> bool:
    """True when progress bars may be drawn: stderr is a terminal and `-q` was not given."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:  # the `progress` extra is not installed: log lines only
        return False
    return True


@contextmanager
def progress(args: argparse.Namespace, total: int | None, unit: str, what: str) -> Iterator[Callable[[int], None]]:
    """A callback that advances a bar of `total` units (None: unknown, rate only) while the block runs."""
    if not bars_on(args):
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=f" {unit}", unit_scale=True, desc=what, file=sys.stderr, dynamic_ncols=True,
              leave=True, smoothing=0.1) as bar:
        yield bar.update


@contextmanager
def fit_progress(args: argparse.Namespace) -> Iterator[Callable[[int, int], None] | None]:
    """An `on_fit(done, total)` callback for a fit executor: one bar over the estimator fits of the run."""
    if not bars_on(args):
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=None, unit=" fits", desc="fit", file=sys.stderr, dynamic_ncols=True, leave=True) as bar:

        def on_fit(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield on_fit
