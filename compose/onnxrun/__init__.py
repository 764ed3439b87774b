"""A user's ONNX model run with onnxruntime (the `[onnx]` extra), for the embedding featurizers.

The only place in compose that imports onnxruntime, on first use, with an install hint. Sessions
are cached per (file, sha256) and are never pickled: a featurizer keeps the model's path and
sha256, and a model file that changed since training is refused rather than silently used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose.errors import DataError

ONNX_HINT = "pip install 'compose-groups[onnx]'"
_SESSIONS: dict[tuple[str, str], OnnxSession] = {}


@dataclass
class OnnxSession:
    """An open onnxruntime session, the model file it came from and that file's sha256."""

    path: Path
    sha256: str
    session: Any

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def run(self, x: Any, output: str | None = None) -> Any:
        """The named output (default: the first) for one input array fed to the model's first input."""
        return self.run_feeds({self.input_names[0]: x}, output)

    def run_feeds(self, feeds: dict[str, Any], output: str | None = None) -> Any:
        names = [output] if output is not None else [self.session.get_outputs()[0].name]
        try:
            return self.session.run(names, feeds)[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DataError(f"the ONNX model {self.path} failed on a batch: {exc}") from exc


def model_file(path: str | Path) -> Path:
    """The `.onnx` file of `path`: the file itself, or `model.onnx` / `onnx/model.onnx` in a folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "model.onnx", p / "onnx" / "model.onnx"):
            if candidate.is_file():
                return candidate.resolve()
        raise DataError(f"model_path {str(p)!r} holds no model.onnx (nor onnx/model.onnx); point it at an .onnx "
                        "file or a folder that has one")
    if not p.is_file():
        raise DataError(f"model_path {str(p)!r} does not exist; give the path of a local .onnx file or folder")
    return p.resolve()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_model(path: str | Path, expected_sha256: str | None = None) -> OnnxSession:
    """The (cached) session of a local ONNX model; refused when its sha256 is not the expected one."""
    file = model_file(path)
    digest = sha256_of(file)
    if expected_sha256 is not None and digest != expected_sha256:
        raise DataError(f"the ONNX model {file} changed since this featurizer was fitted (sha256 {digest[:12]}, "
                        f"fitted with {expected_sha256[:12]}); restore the file or retrain the feature")
    key = (str(file), digest)
    if key not in _SESSIONS:
        try:
            import onnxruntime
        except ImportError as exc:
            raise ImportError(f"ONNX models need onnxruntime: {ONNX_HINT}") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types
            raise DataError(f"cannot load the ONNX model {file}: {exc}") from exc
        _SESSIONS[key] = OnnxSession(file, digest, session)
    return _SESSIONS[key]
