"""What a stored version says of its making: when it was written (`now`), and what to install when
an intact artifact names a module that is not importable here (the plugin its meta.json records)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from compose.store.records import FeatureMeta, GroupMeta, VersionMeta


def missing_plugin_message(path: Path, meta: VersionMeta, exc: BaseException) -> str:
    """Why an intact artifact cannot be unpickled (a module or class it names is missing), and what
    to install: the plugin recorded in its meta.json when there is one, else the missing module."""
    plugin = meta.plugin if isinstance(meta, FeatureMeta | GroupMeta) else None
    missing = getattr(exc, "name", None) or str(exc)
    if plugin is not None:
        made = plugin.as_plugin()
        source = f"{made.distribution} {made.version}".strip() or "no installed distribution"
        said = f"; it was made by {made.name!r} from module {made.module!r} ({source}); {made.install_hint()}"
    else:
        said = "; install the package that provides it"
    return (f"{path} needs {missing!r} to load, which is not importable here ({type(exc).__name__}: {exc})"
            f"{said}. The file itself is intact (its sha256 matches)")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
