"""`type: embedding`: pretrained sentence vectors of text inputs (extra `[embed]`).

Backends, chosen by the feature's params:

- `model: wordllama` (the default): WordLlama 0.4 static token embeddings (`wordllama==0.4.0.post1`,
  whose wheel ships the 256-dimension weights). It is loaded from the package's own folder with
  downloads disabled: its default loader looks for `tokenizer/` in a cache folder (the wheel ships
  `tokenizers/`) and then goes to the network. `dim` truncates the vectors (64, 128, 256).
- `model_path: DIR`: a local model the user already has. A folder with `model.onnx` (or
  `onnx/model.onnx`) and `tokenizer.json` runs with onnxruntime and the `tokenizers` package,
  mean-pooled over the attention mask; a sentence-transformers folder (`modules.json`) without an
  ONNX file runs with sentence-transformers when it is installed.

Vectors are L2-normalised; an empty text gives zeros. The backend is loaded on first use and never
pickled (the store keeps the parameters, and for an ONNX model its sha256, which is checked).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from compose.errors import DataError
from compose.featurize.base import FeaturizerBase, join_text
from compose.schema.models import FeatureSpec, Schema

EMBED_HINT = "pip install 'compose-groups[embed]'"
_BACKENDS: dict[tuple[str, str, int], Any] = {}


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


class _WordLlama:
    def __init__(self, dim: int) -> None:
        try:
            import wordllama
        except ImportError as exc:
            raise ImportError(f"the embedding featurizer needs wordllama: {EMBED_HINT}") from exc
        try:
            self.model = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True,
                                                  trunc_dim=dim if dim != 256 else None)
        except (FileNotFoundError, ValueError) as exc:
            raise DataError(f"cannot load the wordllama weights shipped with the package ({exc}); reinstall "
                            f"wordllama==0.4.0.post1 ({EMBED_HINT})") from exc

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.embed(texts, norm=False), dtype=np.float64)


class _OnnxText:
    """A local transformer exported to ONNX, with its `tokenizer.json`; mean pooling over the mask."""

    def __init__(self, folder: Path, sha256: str | None, max_length: int = 256) -> None:
        from compose.onnxrun import open_model

        self.model = open_model(folder, sha256)
        tokenizer_file = next((p for p in (folder / "tokenizer.json", self.model.path.parent / "tokenizer.json")
                               if p.is_file()), None)
        if tokenizer_file is None:
            raise DataError(f"model_path {str(folder)!r} has model.onnx but no tokenizer.json; export the "
                            "tokenizer beside the model (tokenizer.save_pretrained)")
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ImportError(f"ONNX text models need the tokenizers package: {EMBED_HINT}") from exc
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding()

    def embed(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        wanted = self.model.input_names
        out = np.asarray(self.model.run_feeds({k: v for k, v in feeds.items() if k in wanted}), dtype=np.float64)
        if out.ndim == 3:  # token vectors: the mean over real tokens
            weights = mask[:, :, None].astype(np.float64)
            out = (out * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return out.reshape(len(texts), -1)


class _SentenceTransformer:
    def __init__(self, folder: Path) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(f"model_path {folder} is a sentence-transformers folder without model.onnx: "
                              "pip install sentence-transformers, or export it to ONNX") from exc
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=64, show_progress_bar=False), dtype=np.float64)


class TextEmbedding(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Joins the text columns of each row and embeds them, `batch_size` rows at a time."""

    def __init__(self, columns: tuple[str, ...] = (), model: str = "wordllama", model_path: str | None = None,
                 dim: int = 256, batch_size: int = 512) -> None:
        self.columns = columns
        self.model = model
        self.model_path = model_path
        self.dim = dim
        self.batch_size = batch_size

    def _backend(self) -> Any:
        key = (self.model if self.model_path is None else str(self.model_path), getattr(self, "sha256_", "") or "",
               self.dim)
        if key not in _BACKENDS:
            if self.model_path is None:
                if self.model != "wordllama":
                    raise DataError(f"unknown embedding model {self.model!r}; use 'wordllama' or model_path: DIR")
                _BACKENDS[key] = _WordLlama(self.dim)
            else:
                folder = Path(self.model_path).expanduser()
                if not folder.exists():
                    raise DataError(f"model_path {str(folder)!r} does not exist; give a local sentence-transformers "
                                    "or ONNX model folder")
                if folder.is_file() or any((folder / p).is_file() for p in ("model.onnx", "onnx/model.onnx")):
                    _BACKENDS[key] = _OnnxText(folder if folder.is_dir() else folder.parent,
                                               getattr(self, "sha256_", None))
                elif (folder / "modules.json").is_file():
                    _BACKENDS[key] = _SentenceTransformer(folder)
                else:
                    raise DataError(f"model_path {str(folder)!r} holds neither model.onnx nor a sentence-transformers "
                                    "model (modules.json)")
        return _BACKENDS[key]

    def fit(self, X: pd.DataFrame, y: Any = None) -> TextEmbedding:  # noqa: N803 - scikit-learn's name
        self.sha256_: str | None = None
        backend = self._backend()
        if isinstance(backend, _OnnxText):
            self.sha256_ = backend.model.sha256
        self.width_ = int(backend.embed(["a"]).shape[1])
        self.source_ = (json.dumps({"model": self.model, "model_path": self.model_path, "dim": self.dim,
                                    "sha256": self.sha256_}))
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        parts = [X[c].tolist() for c in self.columns]
        texts = [join_text(row) for row in zip(*parts, strict=True)]
        out = np.zeros((len(texts), self.width_), dtype=np.float64)
        backend = self._backend()
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start:start + self.batch_size]
            filled = [i for i, t in enumerate(chunk) if t.strip()]
            if filled:
                out[[start + i for i in filled]] = _normalise(backend.embed([chunk[i] for i in filled]))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"embedding_{j}" for j in range(self.width_)], dtype=object)



class EmbeddingFeaturizer(FeaturizerBase):
    """`type: embedding` in the registry: text inputs, `TextEmbedding` as the batch transform."""

    accepts = frozenset({"text"})
    fit_hint = ("Check `model_path` (a local folder with model.onnx and tokenizer.json, or a "
                f"sentence-transformers folder) or reinstall the wordllama weights: {EMBED_HINT}.")

    def param_names(self) -> Collection[str]:
        return ("batch_size", "dim", "model", "model_path")

    def build(self, spec: FeatureSpec, schema: Schema) -> TextEmbedding:
        return TextEmbedding(tuple(spec.inputs), **spec.params)

    def width(self, fitted: Any) -> int:
        return int(fitted.width_)
