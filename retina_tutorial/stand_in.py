"""A stand-in for another camera's data set, made from DRIVE's photographs.

Explained in ``book/07_your_own_data.ipynb``.

Only DRIVE is at hand where the book is built, so chapter 07 makes what a
narrower camera would have seen of the same eyes and writes it in STARE's
layout as distributed: ten of DRIVE's training photographs (for the
stand-in's training images) and ten of its test photographs (for its test
images) are each cut to the central 35° of its 45° field (STARE's camera sees 35°), enlarged so that
this circle is 649 pixels wide (STARE's FOV), framed 605 x 700 (which cuts
the circle at the top and bottom, as STARE's frame does), recoloured (a
warmer, flatter camera), and written as gzipped PPMs in three tar files,
with the 1st and 2nd manual as STARE's ``ah`` and ``vk`` labels. Reading it
back with :func:`retina_tutorial.public_sets.load_stare` then exercises the
same code a reader's real STARE would; the shipped model, which never saw
DRIVE's test images, meets eyes it does not know through a camera it does
not know, and a model fine-tuned on the stand-in has trained on none of
them. What each image was made from is written beside the tars and read
back (:attr:`retina_tutorial.datasets.Dataset.made_from`).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from retina_tutorial import public_sets, scale
from retina_tutorial.datasets import Split

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


def write_stare(source, folder, field_degrees: float = 45.0, *, made_from: str = "DRIVE") -> Path:
    """Write a STARE stand-in in ``folder``, made from ``source``'s photographs.

    Parameters
    ----------
    source : Dataset or Split
        A data set (DRIVE or the synthetic set): the stand-in's ten training
        images (STARE's first ten) are made from its first ten training
        images, its ten test images from its last ten test images, which
        have a 2nd annotation. So a model fine-tuned on the stand-in has
        trained on none of ``source``'s test images. A split of 20 images
        with a 2nd annotation (the older form) makes all twenty from that
        split; the stand-in's training images are then made from test
        images, which the file records, and
        :func:`retina_tutorial.provenance.check_unseen` refuses to score a
        model trained on it on them.
    folder : str or Path
    field_degrees : float
        Their camera's field angle.
    made_from : str
        With a split: the name of its data set (``Dataset.name``). A data
        set names itself.

    Returns
    -------
    Path
        ``folder``, holding ``stare-images.tar``, ``labels-ah.tar`` and
        ``labels-vk.tar`` as STARE is distributed (the ``vk`` labels of the
        test images only, where the source has no 2nd annotation), and
        :data:`retina_tutorial.public_sets.STAND_IN_FILE`, which makes
        :func:`retina_tutorial.public_sets.load_stare` read it as a stand-in
        and says what each image was made from.
    """
    half = len(public_sets.STARE_IDS) // 2
    if isinstance(source, Split):
        if len(source) != len(public_sets.STARE_IDS) or source.vessels_2nd is None:
            raise ValueError(
                f"the stand-in needs {len(public_sets.STARE_IDS)} images with two annotations "
                f"(DRIVE's test split), or a whole data set; got {len(source)}."
            )
        parts = [(source, index, "test") for index in range(len(source))]
    else:
        made_from, field_degrees = source.name, source.field_degrees
        train, test = source.train, source.test
        if len(train) < half or len(test) < half or test.vessels_2nd is None:
            raise ValueError(
                f"the stand-in needs {half} training images and {half} test images with a "
                f"2nd annotation; {source.name} has {len(train)} and {len(test)}."
            )
        parts = [(train, index, "training") for index in range(half)]
        parts += [(test, len(test) - half + index, "test") for index in range(half)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    origins = []
    with (
        tarfile.open(folder / "stare-images.tar", "w") as images,
        tarfile.open(folder / "labels-ah.tar", "w") as first,
        tarfile.open(folder / "labels-vk.tar", "w") as second,
    ):
        for stare_id, (split, index, kind) in zip(public_sets.STARE_IDS, parts):
            photo, vessels, vessels_2nd = narrower_camera(
                split.images[index],
                split.vessels[index],
                split.vessels_2nd[index] if split.vessels_2nd is not None else split.vessels[index],
                split.fov[index],
                field_degrees,
            )
            _add(images, f"{stare_id}.ppm.gz", np.round(photo * 255).astype(np.uint8))
            _add(first, f"{stare_id}.ah.ppm.gz", vessels.astype(np.uint8) * 255)
            if split.vessels_2nd is not None:
                _add(second, f"{stare_id}.vk.ppm.gz", vessels_2nd.astype(np.uint8) * 255)
            origins.append((stare_id, kind, split.ids[index]))
    (folder / public_sets.STAND_IN_FILE).write_text(
        f"stand-in for STARE made from {made_from} images ({_summary(origins)}; not STARE)\n"
        + "".join(f"{stare_id} <- {made_from} {image_id}\n" for stare_id, _, image_id in origins)
    )
    return folder


def _summary(origins) -> str:
    """``'its training images from training images 21-30, its test images from ...'``."""
    said = []
    for role, ids in (
        ("training", public_sets.STARE_IDS[:10]),
        ("test", public_sets.STARE_IDS[10:]),
    ):
        rows = [(kind, image_id) for stare_id, kind, image_id in origins if stare_id in ids]
        kinds = sorted({kind for kind, _ in rows})
        said.append(
            f"its {role} images from {' and '.join(kinds)} images {rows[0][1]}-{rows[-1][1]}"
        )
    return ", ".join(said)


def _add(archive: tarfile.TarFile, name: str, pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PPM")
    payload = gzip.compress(buffer.getvalue())
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))
