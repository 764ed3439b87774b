"""The one place that imports distributed: a client for an address, with the install hint."""

from __future__ import annotations

from typing import Any

from compose.errors import ClusterError

HINT = "pip install 'compose-groups[dask]'"


def require_distributed() -> Any:
    try:
        import distributed
    except ModuleNotFoundError as exc:
        if exc.name in ("distributed", "dask"):
            raise ModuleNotFoundError(f"a Dask cluster needs the dask extra: {HINT}") from exc
        raise
    return distributed


def connect(scheduler: Any, timeout: float = 10.0) -> tuple[Any, bool]:
    """A distributed Client for `scheduler` (an address, or a Client already), and whether we own it."""
    distributed = require_distributed()
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    try:
        return distributed.Client(scheduler, timeout=timeout, set_as_default=False), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}; start one "
                           "(`dask scheduler`) or check the address (tcp://HOST:8786)") from exc


def address_of(scheduler: Any) -> str:
    inner = getattr(scheduler, "scheduler", None)  # a Client knows its scheduler's address
    return str(inner.address if inner is not None else scheduler)
