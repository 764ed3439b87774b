"""Over HTTP an image input is its bytes: a request never reaches the server's disk.

A real `compose serve` (uvicorn in a subprocess, tests/_serve.py) of a model with an image input:
base64 and `data:` URL cells are predicted exactly as the same images read from files by the
Python API; a path is read only under `--image-root` (resolved: `..` and symlinks cannot leave
it); any other path or URL is a 422 whose message is the same whether the file exists or not and
says nothing of what it holds.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import compose
from compose.cli.main import main
from tests._serve import Server

EMOJI = Path(__file__).resolve().parents[1] / "fixtures" / "emoji"
SCHEMA = """\
schema_version: 1
name: emoji
inputs:
  image: {type: image}
features:
  colour: {type: color_histogram, inputs: [image]}
groups:
  skin_tone:
    type: multiclass
    labels: [none, light, medium-light, medium, medium-dark, dark]
    features: [colour]
training: {group_by: base}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, list[str]]]:
    """A server with --image-root (a folder of four real emoji and a symlink out of it), the root, the names."""
    folder = tmp_path_factory.mktemp("images")
    compose.train(compose.parse_schema(SCHEMA), EMOJI / "emoji.csv", store=folder / "store", n_jobs=1)
    root = folder / "root"
    root.mkdir()
    table = pd.read_csv(EMOJI / "emoji.csv")
    names = [Path(table.loc[table["skin_tone"] == tone, "image"].iloc[0]).name  # one emoji of each tone
             for tone in ("none", "light", "medium", "dark")]
    for name in names:
        shutil.copy(EMOJI / "img" / name, root / name)
    (folder / "outside.png").write_bytes((EMOJI / "img" / names[0]).read_bytes())
    (root / "escape.png").symlink_to(folder / "outside.png")
    with Server(folder / "store", "--image-root", str(root)) as srv:
        yield srv, root, names


def _predict(srv: Server, cells: list[str]) -> tuple[int, dict[str, object]]:
    with srv.client() as client:
        r = client.post("/v1/predict", json={"rows": [{"image": c} for c in cells]})
    return r.status_code, r.json()


def _labels(body: dict[str, object]) -> list[object]:
    results = body["results"]
    assert isinstance(results, list)
    return [r["groups"]["skin_tone"]["scores"] for r in results]


def test_base64_and_data_urls_predict_what_the_files_predict(served: tuple[Server, Path, list[str]]) -> None:
    srv, root, names = served
    raw = [(root / n).read_bytes() for n in names]
    model = compose.load(srv.store)
    by_path = model.predict(pd.DataFrame({"image": [str(root / n) for n in names]})).to_list()
    expected = [r["groups"]["skin_tone"]["scores"] for r in by_path]
    assert len({r["groups"]["skin_tone"]["label"] for r in by_path}) > 1  # the four images are told apart
    plain = [base64.b64encode(b).decode() for b in raw]
    urls = ["data:image/png;base64," + p for p in plain]
    for cells in (plain, urls, names, [str(root / n) for n in names]):
        code, body = _predict(srv, cells)
        assert code == 200, body
        assert _labels(body) == expected


OUTSIDE = ["/etc/passwd", "/etc/no-such-file", "../outside.png", "escape.png", "sub/../../outside.png",
           "file:///etc/passwd", "http://127.0.0.1:1/x.png", "~/x.png", "data:image/png;base64,@@@"]


@pytest.mark.parametrize("cell", OUTSIDE)
def test_a_path_outside_the_image_root_is_a_422_that_says_nothing_of_the_file(
        served: tuple[Server, Path, list[str]], cell: str) -> None:
    srv, _, names = served
    code, body = _predict(srv, [names[0], cell])
    assert code == 422, body
    detail = str(body["detail"])
    assert detail == ("the request's rows, column 'image': row 2: an image sent over HTTP must be its bytes, as "
                      "base64 text or a data: URL, or a path under the server's --image-root; send the image's bytes")
    assert "root:" not in detail and "outside" not in detail


def test_samples_obey_the_same_rule(served: tuple[Server, Path, list[str]]) -> None:
    srv, _, _ = served
    with srv.client() as client:
        r = client.post("/v1/samples", json={"rows": [{"image": "/etc/passwd", "skin_tone": "none"}]},
                        headers=srv.auth)
    assert r.status_code == 422, r.text
    assert "must be its bytes" in r.json()["detail"] and "passwd" not in r.json()["detail"]


def test_without_an_image_root_no_path_is_read(served: tuple[Server, Path, list[str]], tmp_path: Path) -> None:
    srv, root, names = served
    with Server(srv.store, token=None) as bare:
        code, body = _predict(bare, [str(root / names[0])])
        assert code == 422 and "started without --image-root, so it reads no paths" in str(body["detail"])
        code, body = _predict(bare, [base64.b64encode((root / names[0]).read_bytes()).decode()])
        assert code == 200, body


def test_an_image_root_that_is_no_folder_is_refused_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  served: tuple[Server, Path, list[str]]) -> None:
    srv, _, _ = served
    code = main(["serve", "--store", str(srv.store), "--image-root", str(tmp_path / "nowhere"), "--port", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--image-root" in err and "not a folder" in err, err


def test_the_cli_and_python_api_still_read_paths_from_files(served: tuple[Server, Path, list[str]]) -> None:
    srv, root, names = served
    frame = pd.DataFrame({"image": [str(root / "escape.png"), "data:image/png;base64,"
                                    + base64.b64encode((root / names[0]).read_bytes()).decode()]})
    results = compose.load(srv.store).predict(frame).to_list()
    assert results[0]["groups"] == results[1]["groups"]
