"""`compose`: the entry point. Parses the command line, runs one command, turns errors into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence

import compose
from compose.cli import (
    advisor,
    artifacts,
    core,
    export,
    gc,
    history,
    labelstudio,
    learning,
    monitor,
    quality,
    samples,
    serve,
)
from compose.cli._output import EXIT_ENVIRONMENT, EXIT_USER_ERROR

# Errors of the user's own input (a path that does not exist, a folder given for a file): exit 2.
_USER_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENAMETOOLONG}

ENV_KEY = "COMPOSE_SIGNING_KEY"  # compose.store.signing.ENV_KEY, without importing the store for --help
ENV_SAMPLES = "COMPOSE_SAMPLES"  # compose.store.sample_sql.ENV


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

    for room in (core, learning, history, samples, advisor, quality, gc, export, artifacts, serve, monitor,
                 labelstudio):
        room.register(add)
    return p


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one exit code per kind of error
    """Run one command; the logging state it changes (a handler and the level of the `compose`
    logger, warnings captured into logging) and its SIGTERM handler are put back as they were before it returns."""
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
    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM unwinds like Ctrl-C (through SystemExit), so a stopped run removes its staging files.
        with contextlib.suppress(ValueError, OSError):
            previous_sigterm = signal.signal(signal.SIGTERM, _terminate)
    saved_key, saved_samples = os.environ.get(ENV_KEY), os.environ.get(ENV_SAMPLES)
    try:
        _set_environment(args)
        fn: Callable[[argparse.Namespace], int] = args.fn
        return fn(args)
    except compose.EnvironmentFault as exc:
        sys.stderr.write(f"compose: error: {exc}\n")
        return EXIT_ENVIRONMENT
    except compose.ComposeError as exc:
        sys.stderr.write(f"compose: error: {exc}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("compose: interrupted; the store keeps its previous release\n")
        return 130
    except OSError as exc:
        from compose._text import describe_os_error

        path = str(exc.filename) if exc.filename else None
        sys.stderr.write(f"compose: error: {describe_os_error(exc, path, 'reading or writing')}\n")
        return EXIT_USER_ERROR if exc.errno in _USER_ERRNOS else EXIT_ENVIRONMENT
    except RecursionError:
        sys.stderr.write("compose: error: the input is nested too deeply to read (thousands of brackets or "
                         "levels); flatten it\n")
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
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        for name, saved in ((ENV_KEY, saved_key), (ENV_SAMPLES, saved_samples)):
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved


def _set_environment(args: argparse.Namespace) -> None:
    """`--key-file` and `--samples`, as the variables every store the command opens reads."""
    if getattr(args, "key_file", None):
        os.environ[ENV_KEY] = _key_text(args.key_file)  # every store the command opens signs and checks with it
    if getattr(args, "samples", None):
        os.environ[ENV_SAMPLES] = _samples_text(args.samples)  # every sample store the command opens is there


def _samples_text(value: str) -> str:
    """`--samples`: a postgresql:// URL, a file:// URL or a folder."""
    import re

    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", value)
    if scheme and not re.match(r"^(postgres(ql)?(\+[a-z0-9]+)?|file)$", scheme.group(1), re.IGNORECASE):
        raise compose.StoreError(f"--samples {value}: the sample database is a postgresql:// URL "
                                 f"(postgresql://USER@HOST:PORT/DATABASE) or a folder; not a {scheme.group(1)}:// URL")
    return value


def _terminate(signum: int, frame: object) -> None:
    sys.stderr.write("compose: terminated; the store keeps its previous release\n")
    raise SystemExit(128 + signum)


def _key_text(path: str) -> str:
    from compose.store.signing import read_key_file

    raw = read_key_file(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise compose.StoreError(f"--key-file {path}: the key must be text (for example 64 hex digits)") from exc
