"""Image cells: file paths (relative to the data file), image bytes or `data:` URLs, checked and opened here.

`resolve_images` turns an input column of type `image` into absolute paths (a relative path is
read from the folder of the data file, or the working folder for in-memory data) or bytes (a
binary Parquet column), and refuses a missing file naming its row and path. `open_image` decodes one
cell with Pillow (the `[image]` extra, imported on first use); a file that is there but cannot be
decoded is refused naming the file. `image_digest` is the content hash that puts an image row in the
training or holdout split wherever its file lives.

Over HTTP the request must not reach the server's disk: `request_images(root)` (set by `compose
serve` around every request) makes an image cell bytes (base64 text or a `data:` URL), or a path
only under the server's `--image-root` (resolved, symlinks and `..` included, before the check).
Any other path or URL is refused with one sentence that says nothing of the file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compose.data.cells import is_missing
from compose.errors import DataError

IMAGE_HINT = "pip install 'compose-groups[image]'"
_MAX_SHOWN = 5


def base_folder(source: str | None) -> Path:
    """Where relative image paths are read from: the data file's folder, else the working folder."""
    if source:
        p = Path(source)
        if p.is_file():
            return p.resolve().parent
    return Path.cwd()


@dataclass(frozen=True)
class RequestImages:
    """How the image cells of one HTTP request are read: as bytes, or as paths under `root` only."""

    root: Path | None


_REQUEST: ContextVar[RequestImages | None] = ContextVar("compose_request_images", default=None)
_BASE64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


@contextlib.contextmanager
def request_images(root: str | Path | None) -> Iterator[None]:
    """Within the block, image cells are read by the request rule (see the module's docstring)."""
    token = _REQUEST.set(RequestImages(Path(root).resolve() if root is not None else None))
    try:
        yield
    finally:
        _REQUEST.reset(token)


class _RefusedCellError(Exception):
    """A request's image cell that is neither bytes nor a path under the image root."""


def data_url(text: str) -> bytes:
    """The bytes of a `data:[<type>];base64,<data>` URL; anything else is a ValueError."""
    head, comma, body = text.partition(",")
    if not comma or not head.lower().startswith("data:") or not head.lower().endswith(";base64"):
        raise ValueError("not a base64 data: URL (data:image/png;base64,...)")
    return base64.b64decode(body, validate=True)


def _request_cell(text: str, rule: RequestImages) -> str | bytes:
    """A request's image cell as bytes or as an absolute path under the root, else `_RefusedCellError`."""
    if _BASE64.fullmatch(text) and len("".join(text.split())) % 4 == 0:
        return base64.b64decode(text, validate=False)
    if rule.root is None or _SCHEME.match(text) or text.startswith("~"):
        raise _RefusedCellError
    path = (rule.root / text).resolve()  # an absolute `text` replaces the root, and is checked the same way
    if not path.is_relative_to(rule.root):
        raise _RefusedCellError
    return str(path)


def _cell(value: Any, base: Path, rule: RequestImages | None) -> str | bytes:
    """One present cell as bytes or an absolute path (not yet checked to exist)."""
    text = str(value).strip()
    if text[:5].lower() == "data:":
        try:
            return data_url(text)
        except (ValueError, binascii.Error) as exc:
            raise _RefusedCellError from exc
    if rule is not None:
        return _request_cell(text, rule)
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else base / path)


def _refusal(where: str, rows: list[int], rule: RequestImages | None) -> DataError:
    shown = ", ".join(str(r + 1) for r in rows[:_MAX_SHOWN]) + (f" (and {len(rows) - _MAX_SHOWN} more)"
                                                              if len(rows) > _MAX_SHOWN else "")
    if rule is None:
        return DataError(f"{where}: row {shown}: a cell that starts with data: must be a base64 data URL "
                         "(data:image/png;base64,...); fix the cell or give a file path")
    root = ("or a path under the server's --image-root" if rule.root is not None
            else "(this server was started without --image-root, so it reads no paths)")
    return DataError(f"{where}: row {shown}: an image sent over HTTP must be its bytes, as base64 text or a "
                     f"data: URL, {root}; send the image's bytes")


def resolve_images(values: np.ndarray, base: Path, where: str, required: bool) -> np.ndarray:
    """Absolute path strings or bytes per cell (NaN for an empty optional cell); missing files refused."""
    rule = _REQUEST.get()
    out = np.empty(len(values), dtype=object)
    problems: list[str] = []
    refused: list[int] = []
    count = 0
    for i, value in enumerate(values):
        if isinstance(value, (bytes, bytearray, memoryview)):
            out[i] = bytes(value)
            continue
        if is_missing(value):
            if required:
                count += 1
                if len(problems) < _MAX_SHOWN:
                    problems.append(f"row {i + 1}: no image")
            out[i] = np.nan
            continue
        try:
            cell = _cell(value, base, rule)
        except _RefusedCellError:
            refused.append(i)
            continue
        if isinstance(cell, str) and not Path(cell).is_file():
            count += 1
            if len(problems) < _MAX_SHOWN:
                problems.append(f"row {i + 1}: {str(value)!r}" + ("" if rule else f" (looked for {cell})"))
            continue
        out[i] = cell
    if refused:
        raise _refusal(where, refused, rule)
    if problems:
        more = f" (and {count - len(problems)} more)" if count > len(problems) else ""
        place = "under the server's --image-root" if rule else f"relative to {base}"
        raise DataError(f"{where}: image file not found in " + "; ".join(problems) + more
                        + f". Paths are read {place}; fix the paths or add the files")
    return out


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"image inputs need Pillow: {IMAGE_HINT}") from exc
    return Image


def open_image(value: Any, row: int | None = None) -> Any:
    """The decoded RGBA image of one cell (a path or bytes); a cell that is not an image is a DataError."""
    image_module = _pillow()
    import io

    what = f"{len(value)} bytes of image data" if isinstance(value, bytes) else repr(str(value))
    try:
        with image_module.open(io.BytesIO(value) if isinstance(value, bytes) else str(value)) as img:
            img.load()
            return img.convert("RGBA")
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as exc:
        at = f"row {row + 1}: " if row is not None else ""
        raise DataError(f"{at}cannot read {what} as an image ({exc}); replace the file or fix its path") from exc


def image_digest(value: Any) -> str:
    """A digest of an image cell's content (not its path), for the holdout hash."""
    if is_missing(value):
        return ""
    data = value if isinstance(value, bytes) else Path(str(value)).read_bytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()
