"""`type: embedding`: wordllama's shipped weights, and a local ONNX text model with its tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _schemas import MOVIES_SMALL

import compose
from compose.errors import DataError, SchemaError
from compose.featurize.embedding import TextEmbedding
from compose.schema.load import parse_schema
from compose.training.run import fit_and_release

VOCAB = ["[PAD]", "[UNK]", "alien", "ridley", "scott", "amelie", "paris"]


def _onnx_text_model(folder: Path) -> np.ndarray:
    """A tiny transformer stand-in: token ids -> rows of a fixed table (n, seq, 4), plus its tokenizer."""
    from onnx import TensorProto, helper, numpy_helper, save
    from tokenizers import Tokenizer, models, pre_tokenizers

    table = np.random.default_rng(0).normal(size=(len(VOCAB), 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "input_ids"], ["last_hidden_state"])], "embed",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", "s"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["n", "s"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["n", "s", 4])],
        [numpy_helper.from_array(table, "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    save(model, str(folder / "model.onnx"))
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    return table.astype(np.float64)


def test_wordllama_loads_from_the_package_and_embeds_offline() -> None:
    frame = pd.DataFrame({"title": ["Alien", "", "Amelie", None]})
    x = TextEmbedding(("title",)).fit(frame).transform(frame)
    assert x.shape == (4, 256)
    assert np.allclose(np.linalg.norm(x[[0, 2]], axis=1), 1.0)
    assert not x[[1, 3]].any()  # an empty text gives zeros, not NaN
    short = TextEmbedding(("title",), dim=64).fit(frame).transform(frame)
    assert short.shape == (4, 64)


def test_a_local_onnx_text_model_is_mean_pooled_over_its_tokens(tmp_path: Path) -> None:
    table = _onnx_text_model(tmp_path / "model")
    frame = pd.DataFrame({"title": ["alien ridley scott", "paris"]})
    featurizer = TextEmbedding(("title",), model_path=str(tmp_path / "model")).fit(frame)
    x = featurizer.transform(frame)
    first = table[[2, 3, 4]].mean(axis=0)
    assert np.allclose(x[0], first / np.linalg.norm(first), atol=1e-6)  # padding of the shorter row is masked
    assert np.allclose(x[1], table[6] / np.linalg.norm(table[6]), atol=1e-6)


def test_a_model_path_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"holds neither model\.onnx nor a sentence-transformers"):
        TextEmbedding(("t",), model_path=str(tmp_path)).fit(pd.DataFrame({"t": ["a"]}))
    with pytest.raises(DataError, match="does not exist"):
        TextEmbedding(("t",), model_path=str(tmp_path / "nope")).fit(pd.DataFrame({"t": ["a"]}))


def test_embedding_features_train_and_the_row_path_matches_the_batch(tmp_path: Path, movies_csv: Path) -> None:
    text = MOVIES_SMALL.replace(
        "  length: {type: tabular, inputs: [runtime]}",
        "  length: {type: tabular, inputs: [runtime]}\n"
        "  meaning: {type: embedding, inputs: [title, director, writer, cast], params: {dim: 128}}")
    text = text.replace("    features: [people]\n", "    features: [people, meaning]\n", 1)
    schema = parse_schema(text)
    df = pd.read_csv(movies_csv).head(500).drop(columns=["genres", "mpaa"])
    fit_and_release(schema, df, tmp_path, groups=["language", "decade"])
    model = compose.load(tmp_path / "films")
    row = {"title": "Alien", "director": "Ridley Scott", "runtime": 117}
    assert model.predict_one(row) == model.predict([row, row])[0]
    assert model.row_featurizers_["meaning"][1] == "frame"


@pytest.mark.parametrize(("feature", "says"), [
    ("{type: embedding, inputs: [price]}", "a embedding feature reads text inputs, but input 'price' is number; "
     "read it with a 'tabular' feature"),
    ("{type: embedding, inputs: [title], params: {dims: 3}}", "unknown embedding parameter 'dims'"),
])
def test_schema_checks_of_embedding_features(feature: str, says: str) -> None:
    text = ("schema_version: 1\nname: x\ninputs:\n  title: {type: text}\n  price: {type: number}\n"
            f"features:\n  f: {feature}\ngroups:\n  g: {{type: binary}}\n")
    with pytest.raises(SchemaError) as exc:
        parse_schema(text)
    assert says in str(exc.value)
