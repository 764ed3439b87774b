"""The names of versions (`v0003`) and releases (`r0004`): one place writes and reads them.

Standard library only, so the CLI can format names without importing the store's dependencies.
"""

from __future__ import annotations

import re

from compose.errors import ArtifactNotFoundError

VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
RELEASE_PATTERN = re.compile(r"^r(\d{4,})$")


def version_name(version: int) -> str:
    """3 -> `v0003`."""
    return f"v{version:04d}"


def release_name(number: int) -> str:
    """4 -> `r0004`."""
    return f"r{number:04d}"


def parse_version(text: str | int) -> int:
    """`v0003`, `3` or 3 -> 3."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"v?(\d+)", text.strip())
    if not m:
        raise ArtifactNotFoundError(f"{text!r} is not a version; write it as v0003 or 3")
    return int(m.group(1))


def node_folder(name: str) -> str:
    """The folder of a node: its name, with a hierarchy head's `/` and other unsafe characters quoted
    (`emoji/People & Body` -> `emoji%2FPeople%20%26%20Body`); a plain name is its own folder."""
    from urllib.parse import quote

    return quote(name, safe="_.-")


def node_of_folder(folder: str) -> str:
    """The node a folder holds (`node_folder` undone)."""
    from urllib.parse import unquote

    return unquote(folder)
