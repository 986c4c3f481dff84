"""A stand-in for another camera's data set, made from DRIVE's test photographs.

Explained in ``book/07_your_own_data.ipynb``.

Only DRIVE is at hand where the book is built, so chapter 07 makes what a
narrower camera would have seen of the same eyes and writes it in STARE's
layout as distributed: each of DRIVE's 20 test photographs is cut to the
central 35° of its 45° field (STARE's camera sees 35°), enlarged so that
this circle is 649 pixels wide (STARE's FOV), framed 605 x 700 (which cuts
the circle at the top and bottom, as STARE's frame does), recoloured (a
warmer, flatter camera), and written as gzipped PPMs in three tar files,
with the 1st and 2nd manual as STARE's ``ah`` and ``vk`` labels. Reading it
back with :func:`retina_tutorial.public_sets.load_stare` then exercises the
same code a reader's real STARE would, and the shipped model, which never
saw DRIVE's test images, meets eyes it does not know through a camera it
does not know.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from retina_tutorial import public_sets, scale
from retina_tutorial.splits import Split

#: STARE's frame (height, width) and FOV width, and its camera's field.
STARE_FRAME = (605, 700)
STARE_FOV_WIDTH = 649
STARE_FIELD = public_sets.FIELD_DEGREES["stare"]
#: Channel gains and gamma of the stand-in's "camera": warmer and flatter.
COLOUR_GAINS = (1.08, 0.86, 0.7)
GAMMA = 0.8


def narrower_camera(image, vessels, vessels_2nd, fov, field_degrees: float = 45.0):
    """One eye as the stand-in camera sees it: photograph, vessels, vessels_2nd in STARE's frame."""
    rows, cols = np.nonzero(fov)
    centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    diameter = scale.fov_diameter(fov) * STARE_FIELD / field_degrees
    grid_rows, grid_cols = np.indices(fov.shape)
    inside = np.hypot(grid_rows - centre[0], grid_cols - centre[1]) <= diameter / 2
    factor = STARE_FOV_WIDTH / diameter
    frame = np.zeros((*STARE_FRAME, 3), np.float32)
    # The enlarged circle, centred in the frame: place the source's centre there.
    enlarged = scale.resized_shape(fov.shape, factor)
    top = round(STARE_FRAME[0] / 2 - centre[0] * factor)
    left = round(STARE_FRAME[1] / 2 - centre[1] * factor)

    def place(array, fill=0.0):
        big = scale.resize_image(np.asarray(array, np.float32), enlarged)
        out = np.full(STARE_FRAME + big.shape[2:], fill, np.float32)
        src = np.s_[max(0, -top) : STARE_FRAME[0] - top, max(0, -left) : STARE_FRAME[1] - left]
        dst_top, dst_left = max(0, top), max(0, left)
        piece = big[src]
        out[dst_top : dst_top + piece.shape[0], dst_left : dst_left + piece.shape[1]] = piece
        return out

    circle = place(inside) >= 0.5
    coloured = np.clip(np.power(np.clip(image, 0, 1), GAMMA) * COLOUR_GAINS, 0, 1)
    frame = np.where(circle[..., None], place(coloured), 0.0)
    labels = [place(mask) >= 0.5 for mask in (vessels, vessels_2nd)]
    return frame.astype(np.float32), labels[0] & circle, labels[1] & circle


def write_stare(
    test: Split, folder, field_degrees: float = 45.0, *, made_from: str = "DRIVE"
) -> Path:
    """Write ``test`` (20 images with a 2nd annotation) as a STARE stand-in in ``folder``.

    Parameters
    ----------
    test : Split
        The 20 test images it is made from.
    folder : str or Path
    field_degrees : float
        Their camera's field angle.
    made_from : str
        The name of the data set they come from (``Dataset.name``), written
        into the stand-in so that everything that reads it says so.

    Returns
    -------
    Path
        ``folder``, holding ``stare-images.tar``, ``labels-ah.tar`` and
        ``labels-vk.tar`` as STARE is distributed, and
        :data:`retina_tutorial.public_sets.STAND_IN_FILE`, which makes
        :func:`retina_tutorial.public_sets.load_stare` read it as a stand-in.
    """
    if len(test) != len(public_sets.STARE_IDS) or test.vessels_2nd is None:
        raise ValueError(
            f"the stand-in needs {len(public_sets.STARE_IDS)} images with two annotations "
            f"(DRIVE's test split); got {len(test)}."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (
        tarfile.open(folder / "stare-images.tar", "w") as images,
        tarfile.open(folder / "labels-ah.tar", "w") as first,
        tarfile.open(folder / "labels-vk.tar", "w") as second,
    ):
        for index, stare_id in enumerate(public_sets.STARE_IDS):
            photo, vessels, vessels_2nd = narrower_camera(
                test.images[index],
                test.vessels[index],
                test.vessels_2nd[index],
                test.fov[index],
                field_degrees,
            )
            pixels = np.round(photo * 255).astype(np.uint8)
            _add(images, f"{stare_id}.ppm.gz", pixels)
            _add(first, f"{stare_id}.ah.ppm.gz", vessels.astype(np.uint8) * 255)
            _add(second, f"{stare_id}.vk.ppm.gz", vessels_2nd.astype(np.uint8) * 255)
    (folder / public_sets.STAND_IN_FILE).write_text(
        f"stand-in for STARE made from {made_from} test images "
        f"{test.ids[0]}-{test.ids[-1]} (not STARE)\n"
        "Written by retina_tutorial.stand_in.write_stare: each photograph cut to the "
        "central 35 degrees, enlarged to STARE's FOV width, framed and recoloured.\n"
    )
    return folder


def _add(archive: tarfile.TarFile, name: str, pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PPM")
    payload = gzip.compress(buffer.getvalue())
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))
