"""The Try it page's JavaScript modules against the package, in Node.js.

``book/_static/tryit/`` ports :func:`retina_tutorial.field_of_view.estimate_fov`,
:mod:`retina_tutorial.scale`'s resizing and :mod:`retina_tutorial.grid`'s
padding and tiles to JavaScript. Run here in Node (no browser: a second or
two) on synthetic photographs at three sizes, they must give the package's
masks pixel for pixel and its resized images to float32 rounding, so the
browser tests (``test_browser_page.py``) only have the model and the
browser's decoding left to differ. Skipped without Node.js.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retina_tutorial import field_of_view, grid, scale, synthetic

MODULES = str(Path(__file__).resolve().parents[1] / "book" / "_static" / "tryit")

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not found")

# Reads the cases Python wrote, runs the page's modules on them, writes the results.
SCRIPT = """
import { readFileSync, writeFileSync } from "node:fs";
const modules = process.argv[1];
const { estimateFov } = await import(`${modules}/fov.js`);
const { resizeImage } = await import(`${modules}/resize.js`);
const { fovDiameter, resizedShape } = await import(`${modules}/scale.js`);
const { padToMultiple, tileStarts, tileWeights } = await import(`${modules}/tiles.js`);
const folder = process.argv[2];
const cases = JSON.parse(readFileSync(`${folder}/cases.json`));
const floats = (path) => {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
};
const answers = [];
for (const [index, one] of cases.photographs.entries()) {
  const image = { width: one.width, height: one.height, channels: 3, data: floats(one.path) };
  const fov = estimateFov(image);
  writeFileSync(`${folder}/${index}.fov`, fov);
  const [height, width] = resizedShape(one.height, one.width, one.factor);
  writeFileSync(`${folder}/${index}.resized`, resizeImage(image, height, width).data);
  writeFileSync(`${folder}/${index}.padded`, padToMultiple(image, 16).image.data);
  answers.push({ diameter: fovDiameter(fov, one.height, one.width), shape: [height, width] });
}
const tiles = cases.tiles.map(([length, tile, overlap]) => {
  const { tile: side, starts } = tileStarts(length, tile, overlap, 16);
  const weights = starts.map((start) => Array.from(tileWeights(start, side, length, overlap)));
  return { side, starts, weights };
});
writeFileSync(`${folder}/answers.json`, JSON.stringify({ photographs: answers, tiles }));
"""


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modules")
    image = synthetic.make_fundus(3)[0]
    pixels = Image.fromarray(np.round(image * 255).astype(np.uint8))
    photographs = []
    for size, factor in ((1.0, 1.3), (2.0, 0.5), (0.75, 1.33)):
        width, height = round(pixels.width * size), round(pixels.height * size)
        resized = pixels.resize((width, height), Image.Resampling.BICUBIC)
        array = np.asarray(resized).astype(np.float32) / np.float32(255)
        path = folder / f"{size}.bin"
        array.tofile(path)
        photographs.append(
            {"path": str(path), "width": width, "height": height, "factor": factor, "image": array}
        )
    tiles = [(2336, 1024, 204), (1168, 1024, 204), (592, 1024, 204), (3504, 1024, 64)]
    cases = {"photographs": [{k: v for k, v in p.items() if k != "image"} for p in photographs]}
    (folder / "cases.json").write_text(json.dumps({**cases, "tiles": tiles}))
    subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, MODULES, str(folder)], check=True, timeout=120
    )
    found = json.loads((folder / "answers.json").read_text())
    return folder, photographs, tiles, found


def test_the_field_of_view_is_the_packages_pixel_for_pixel(answers):
    folder, photographs, _, found = answers
    for index, photograph in enumerate(photographs):
        expected = field_of_view.estimate_fov(photograph["image"])
        mask = np.fromfile(folder / f"{index}.fov", np.uint8).reshape(expected.shape)
        assert np.array_equal(mask.astype(bool), expected), photograph["path"]
        assert found["photographs"][index]["diameter"] == scale.fov_diameter(expected)


def test_resizing_and_padding_are_the_packages(answers):
    folder, photographs, _, found = answers
    for index, photograph in enumerate(photographs):
        image = photograph["image"]
        shape = scale.resized_shape(image.shape, photograph["factor"])
        assert tuple(found["photographs"][index]["shape"]) == shape
        expected = scale.resize_image(image, shape)
        resized = np.fromfile(folder / f"{index}.resized", np.float32).reshape(expected.shape)
        np.testing.assert_allclose(resized, expected, rtol=0, atol=1e-6)
        padded, _ = grid.pad_to_multiple(image, 16)
        ours = np.fromfile(folder / f"{index}.padded", np.float32).reshape(padded.shape)
        assert np.array_equal(ours, padded)


def test_tiles_and_their_weights_are_the_packages(answers):
    _, _, tiles, found = answers
    for (length, tile, overlap), ours in zip(tiles, found["tiles"]):
        ((side, starts),) = grid.tile_layout((length,), (tile,), overlap, 16)
        assert (ours["side"], ours["starts"]) == (side, starts)
        for start, weights in zip(starts, ours["weights"]):
            expected = grid.tile_weights(start, side, length, overlap)
            np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-6)
