"""Text helpers shared by every message: close-match suggestions, one sentence for an OS error."""

from __future__ import annotations

import difflib
import errno

from compose.errors import EnvironmentFault


def did_you_mean(value: str, choices: list[str]) -> str:
    """` Did you mean 'x'?` for the closest of `choices`, or an empty string."""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def describe_os_error(exc: OSError, path: str | None = None, doing: str = "writing") -> str:  # noqa: PLR0911
    """One sentence for an operating-system error: what happened to which path, and how to fix it."""
    where = path or exc.filename or "the store"
    code = exc.errno
    if code == errno.ENOSPC:
        return (f"no space left on the device holding {where} while {doing} it; free some space (`compose gc "
                "--store DIR` removes leftovers of aborted runs) and run again")
    if code == getattr(errno, "EDQUOT", -1):
        return (f"the disk quota is exceeded on the device holding {where} while {doing} it; free some space "
                "and run again")
    if code == errno.EROFS:
        return f"{where} is on a read-only file system, so compose cannot write there; use a writable folder"
    if code in (errno.EACCES, errno.EPERM):
        return (f"permission denied {doing} {where}; give your user write access to it (or read access to "
                "read it) or use another folder")
    if code in (errno.ENOTDIR, errno.EEXIST) or (code == errno.EISDIR and doing == "writing"):
        return (f"{where} (or a folder above it) is a file where compose needs a folder; move that file away "
                "or choose another path")
    if code == errno.EISDIR:
        return f"{where} is a folder where compose needs a file; give the path of a file"
    if code == errno.ENOENT:
        return f"{where} does not exist; check the path"
    reason = exc.strerror or type(exc).__name__
    return f"{reason.lower()} while {doing} {where} (errno {code}); check the device and run again"


def environment_fault(exc: OSError, path: str | None = None, doing: str = "writing") -> EnvironmentFault:
    """The EnvironmentFault for `exc`, naming `path` (default: the file the OS error names)."""
    where = path or (str(exc.filename) if exc.filename else None)
    return EnvironmentFault(describe_os_error(exc, where, doing), where, exc.errno)
