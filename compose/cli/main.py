"""`compose`: the entry point. Parses the command line, runs one command, turns errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence

import compose
from compose.cli import advisor, core, history, quality
from compose.cli._output import EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="compose", description="Classification with separated label groups.")
    p.add_argument("--version", action="version", version=f"compose {compose.__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        # `-q` is accepted after the command too; SUPPRESS keeps a missing one from undoing an earlier one.
        sp.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="print only results and errors (no progress)")
        return sp

    for room in (core, history, advisor, quality):
        room.register(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the logging state it changes (a handler and the level of the `compose`
    logger, warnings captured into logging) is put back as it was before it returns."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("compose")
    level = logger.level
    showwarning = warnings.showwarning
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    logging.captureWarnings(True)
    captured_here = warnings.showwarning is not showwarning  # False when warnings were captured already
    try:
        fn: Callable[[argparse.Namespace], int] = args.fn
        return fn(args)
    except compose.ComposeError as exc:
        sys.stderr.write(f"compose: error: {exc}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("compose: interrupted; the store keeps its previous release\n")
        return 130
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        sys.stderr.write(f"compose: error: {exc.strerror or exc}: {exc.filename}\n")
        return EXIT_USER_ERROR
    except Exception as exc:
        if os.environ.get("COMPOSE_DEBUG"):
            raise
        sys.stderr.write(f"compose: internal error: {type(exc).__name__}: {exc}. This is a bug in compose, not in "
                         "your input; rerun with COMPOSE_DEBUG=1 for the traceback and report it\n")
        return 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        if captured_here:
            logging.captureWarnings(False)
