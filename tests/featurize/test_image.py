"""Image inputs: paths and bytes, the colour-histogram, HOG and ONNX featurizers, the emoji subset."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import compose
from compose.errors import DataError, SchemaError
from compose.featurize.image import ColorHistogram, Hog, OnnxImageEmbedding
from compose.schema.load import parse_schema
from compose.store.store import ModelStore
from compose.training.run import fit_and_release

EMOJI = Path(__file__).resolve().parents[1] / "fixtures" / "emoji"
SCHEMA = Path(__file__).resolve().parents[2] / "examples" / "emoji" / "emoji.yaml"

FAST_SCHEMA = """\
schema_version: 1
name: emoji
inputs:
  image: {type: image}
features:
  colour: {type: color_histogram, inputs: [image]}
  shape: {type: hog, inputs: [image], params: {pixels_per_cell: 16}}
groups:
  category:
    type: multiclass
    labels: [Smileys & Emotion, People & Body, Animals & Nature, Food & Drink, Travel & Places, Activities,
             Objects, Symbols, Flags]
    features: [shape, colour]
  skin_tone:
    type: multiclass
    labels: [none, light, medium-light, medium, medium-dark, dark]
    features: [colour]
training: {group_by: base}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("emoji")
    fit_and_release(parse_schema(FAST_SCHEMA), EMOJI / "emoji.csv", root)
    return root / "emoji"


def _square(background: tuple[int, int, int, int], size: int = 64) -> Image.Image:
    img = Image.new("RGBA", (size, size), background)
    for x in range(size // 4, 3 * size // 4):
        for y in range(size // 4, 3 * size // 4):
            img.putpixel((x, y), (200, 30, 30, 255))
    return img


def test_skin_tone_variants_of_one_emoji_never_straddle_train_and_holdout(trained: Path) -> None:
    frame = pd.read_csv(EMOJI / "emoji.csv")
    base_of = {str((EMOJI / p).resolve()): b for p, b in zip(frame["image"], frame["base"], strict=True)}
    store = ModelStore(trained)
    held = store.load_extra("groups", "skin_tone", 1, "holdout")
    held_bases = {base_of[p] for p in held["inputs"]["image"]}
    counts = frame.groupby("base").size()
    assert any(counts[b] > 1 for b in held_bases)  # toned emoji are in the holdout ...
    train_bases = set(frame["base"]) - held_bases
    assert held_bases and train_bases and not held_bases & train_bases  # ... with all their variants
    assert len(held["y"]) == int(frame["base"].isin(held_bases).sum())


def test_the_emoji_groups_train_and_predict_one_path_like_a_batch(trained: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    model = compose.load(trained)
    monkeypatch.chdir(EMOJI)
    frame = pd.read_csv("emoji.csv").head(5)
    one = model.predict_one({"image": frame["image"][3]})
    batch = model.predict(frame[["image"]])
    assert one == batch[3]
    assert one["groups"]["skin_tone"]["label"] in model.schema.labels_of("skin_tone")
    report = compose.evaluate(model, EMOJI / "emoji.csv", split="holdout")
    assert report["groups"]["skin_tone"]["accuracy"] > 0.6  # majority "none" is 0.65 of the subset


def test_the_example_schema_reads_different_featurizers_per_group() -> None:
    schema = compose.load_schema(SCHEMA)
    assert schema.features_of("skin_tone") == ["colour"] and set(schema.features_of("category")) == {"shape", "colour"}
    assert schema.groups["subcategory"].when == {"category": ["People & Body"]}
    assert schema.training.group_by == "base"


def test_a_missing_image_names_the_row_and_the_file(trained: Path, tmp_path: Path) -> None:
    data = tmp_path / "new.csv"
    data.write_text("image\nnot/there.png\n", encoding="utf-8")
    model = compose.load(trained)
    with pytest.raises(DataError, match=r"row 1: 'not/there.png'"):
        model.predict(data)
    with pytest.raises(DataError, match="image file not found"):
        model.predict_one({"image": str(tmp_path / "gone.png")})


def test_a_file_that_is_not_an_image_names_the_file(trained: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_text("not a png", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 1: cannot read '.*bad.png' as an image"):
        compose.load(trained).predict([{"image": str(tmp_path / "bad.png")}])


def test_image_bytes_in_parquet_give_the_results_of_the_paths(trained: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(EMOJI / "emoji.csv").head(6)
    paths = [str(EMOJI / p) for p in frame["image"]]
    as_bytes = pd.DataFrame({"image": [Path(p).read_bytes() for p in paths]})
    as_bytes.to_parquet(tmp_path / "images.parquet")
    model = compose.load(trained)
    assert model.predict(tmp_path / "images.parquet") == model.predict(pd.DataFrame({"image": paths}))


def test_the_colour_histogram_ignores_a_transparent_or_white_background() -> None:
    frame = pd.DataFrame({"image": [_png(_square((0, 0, 0, 0))), _png(_square((255, 255, 255, 255))),
                                    _png(_square((0, 0, 255, 255)))]})
    x = ColorHistogram(("image",)).fit(frame).transform(frame)
    assert np.allclose(x[0], x[1]) and not np.allclose(x[0], x[2])
    assert x[0, -1] == pytest.approx(0.25)  # the foreground fraction
    assert np.count_nonzero(x[0, :-1]) == 1  # one colour


def test_batches_bound_memory_without_changing_the_features() -> None:
    frame = pd.DataFrame({"image": [str(p) for p in sorted((EMOJI / "img").glob("*.png"))[:9]]})
    small = Hog(("image",), pixels_per_cell=16, batch_size=2).fit(frame).transform(frame)
    large = Hog(("image",), pixels_per_cell=16).fit(frame).transform(frame)
    assert small.shape == (9, 324) and np.array_equal(small, large)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _mean_pool_model(path: Path) -> Path:
    """A tiny ONNX image model: global average pooling per channel, flattened (3 numbers per image)."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["embedding"])],
        "pool", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    save(model, str(path))
    return path


def test_an_onnx_image_model_embeds_each_image(tmp_path: Path) -> None:
    onnx_file = _mean_pool_model(tmp_path / "model.onnx")
    frame = pd.DataFrame({"image": [_png(_square((255, 255, 255, 255), 32))]})
    featurizer = OnnxImageEmbedding(("image",), model_path=str(tmp_path), size=32, mean=(0, 0, 0), std=(1, 1, 1))
    x = featurizer.fit(frame).transform(frame)
    expected = np.asarray(_square((255, 255, 255, 255), 32).convert("RGB"), dtype=np.float64).mean(axis=(0, 1)) / 255
    assert x.shape == (1, 3) and np.allclose(x[0], expected, atol=1e-5)
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")  # the model changed after fitting
    with pytest.raises(DataError, match="changed since this featurizer was fitted"):
        featurizer.transform(frame)


def test_an_onnx_image_feature_trains_and_predicts_through_the_schema(tmp_path: Path) -> None:
    _mean_pool_model(tmp_path / "model.onnx")
    schema = parse_schema(f"""\
schema_version: 1
name: tiny
inputs:
  image: {{type: image}}
features:
  pooled: {{type: onnx_embedding, inputs: [image], params: {{model_path: '{tmp_path}', size: 32}}}}
groups:
  skin_tone:
    type: multiclass
    labels: [none, light, medium-light, medium, medium-dark, dark]
""")
    fit_and_release(schema, EMOJI / "emoji.csv", tmp_path / "store")
    model = compose.load(tmp_path / "store" / "tiny")
    assert model.predict_one({"image": str(next((EMOJI / "img").glob("*.png")))})["groups"]["skin_tone"]["label"]


@pytest.mark.parametrize(("feature", "says"), [
    ("{type: hog, inputs: [title]}", "a hog feature reads image inputs, but input 'title' is text; "
     "read it with a 'embedding' or 'tfidf'"),
    ("{type: tfidf, inputs: [image]}", "a tfidf feature reads text inputs, but input 'image' is image; "
     "read it with a 'color_histogram' or 'hog'"),
    ("{type: tabular, inputs: [image]}", "input 'image' is image"),
    ("{type: onnx_embedding, inputs: [image]}", "needs params.model_path"),
    ("{type: color_histogram, inputs: [image], params: {bin: 3}}", "unknown color_histogram parameter 'bin'"),
])
def test_schema_checks_of_image_features(feature: str, says: str) -> None:
    text = ("schema_version: 1\nname: x\ninputs:\n  image: {type: image}\n  title: {type: text}\n"
            f"features:\n  f: {feature}\ngroups:\n  g: {{type: binary}}\n")
    with pytest.raises(SchemaError) as exc:
        parse_schema(text)
    assert says in str(exc.value)
