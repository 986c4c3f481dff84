"""Tiny files in DRIVE's official layout, for tests of the loader and cache."""

import zlib

import numpy as np
from PIL import Image

from retina_tutorial import data

SHAPE = (12, 10)


def write_image(path, mode="RGB", shape=SHAPE, levels=(0, 255)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    if mode == "RGB":
        pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    else:
        pixels = np.where(rng.random(shape) > 0.5, levels[1], levels[0]).astype(np.uint8)
    image = Image.fromarray(pixels)
    if mode == "P":
        image = image.convert("P")
    image.save(path)


def make_fake_drive(root):
    """A complete DRIVE layout with tiny images, in the official file names."""
    for split, ids in (("training", data.TRAINING_IDS), ("test", data.TEST_IDS)):
        for image_id in ids:
            for key, pattern in data.LAYOUT[split].items():
                file = root / pattern.format(id=image_id)
                write_image(file, "RGB" if key == "images" else "P")
    return root
