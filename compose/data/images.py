"""Image cells: file paths (relative to the data file) or image bytes, checked and opened here.

`resolve_images` turns an input column of type `image` into absolute paths (a relative path is
read from the folder of the data file, or the working folder for in-memory data) or bytes (a
binary Parquet column), and refuses a missing file naming its row and path. `open_image` decodes one
cell with Pillow (the `[image]` extra, imported on first use); a file that is there but cannot be
decoded is refused naming the file. `image_digest` is the content hash that puts an image row in the
training or holdout split wherever its file lives.
"""

from __future__ import annotations

import hashlib
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


def resolve_images(values: np.ndarray, base: Path, where: str, required: bool) -> np.ndarray:
    """Absolute path strings or bytes per cell (NaN for an empty optional cell); missing files refused."""
    out = np.empty(len(values), dtype=object)
    problems: list[str] = []
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
        path = Path(str(value).strip()).expanduser()
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            count += 1
            if len(problems) < _MAX_SHOWN:
                problems.append(f"row {i + 1}: {str(value)!r} (looked for {path})")
            continue
        out[i] = str(path)
    if problems:
        more = f" (and {count - len(problems)} more)" if count > len(problems) else ""
        raise DataError(f"{where}: image file not found in " + "; ".join(problems) + more
                        + f". Paths are read relative to {base}; fix the paths or add the files")
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
