"""The start of a fit worker process, kept free of heavy imports so it runs first.

A spawned worker unpickles its initializer before anything else; this module imports only the
standard library, so the worker asks the kernel to kill it with its parent (`PR_SET_PDEATHSIG`)
before it spends seconds importing scikit-learn and unpickling the training matrices (which come
as bytes for that reason).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import signal
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1
MATRICES: list[Any] = []


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), and exit if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def init_worker(parent: int, matrices: bytes) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    MATRICES[:] = pickle.loads(matrices)  # our own bytes, from the parent process


def run_in_worker(job: Any, key: int) -> Any:
    return job.run(MATRICES[key])
