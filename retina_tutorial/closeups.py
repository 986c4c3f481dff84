"""Where to look closely in a photograph: the optic disc, the square with the most of something.

Explained in ``book/06_going_further.ipynb``, which places its close-ups
with these (the errors around the optic disc, the thinnest vessels missed).
Plain NumPy, SciPy and Pillow; nothing here runs a model.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from retina_tutorial import checks


def optic_disc_centre(image, fov, *, margin: int = 30) -> tuple[int, int]:
    """Where the optic disc is: the brightest spot well inside the field of view.

    Explained in ``book/06_going_further.ipynb``. The optic disc is the
    largest bright spot of a fundus photograph, so the centre of the
    brightest 51 x 51 box (a box blur of the mean intensity) at least
    ``margin`` pixels inside the FOV finds it closely enough to place a
    close-up; the margin keeps the bright rim of the camera's field out.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].
    fov : (H, W) bool ndarray
        Field of view.
    margin : int
        Distance in pixels from the FOV border that the centre must keep.

    Returns
    -------
    (row, column) : tuple of int

    Raises
    ------
    ValueError
        If the shapes differ or no pixel lies ``margin`` pixels inside the FOV.
    """
    from scipy import ndimage  # distance transform: fast even for a wide margin

    image, fov = np.asarray(image, np.float32), np.asarray(fov, bool)
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[:2] != fov.shape:
        raise ValueError(
            f"optic_disc_centre: image (H, W, 3) and fov (H, W) must match; "
            f"got {image.shape} and {fov.shape}."
        )
    inner = ndimage.distance_transform_edt(fov) > margin
    if not inner.any():
        raise ValueError(
            f"optic_disc_centre: no pixel lies more than {margin} pixels inside the FOV; "
            "pass a smaller margin."
        )
    grey = np.round(np.clip(image.mean(axis=-1), 0, 1) * 255).astype(np.uint8)
    bright = np.asarray(Image.fromarray(grey).filter(ImageFilter.BoxBlur(25)))
    row, column = np.unravel_index(np.argmax(np.where(inner, bright, 0)), fov.shape)
    return int(row), int(column)


def densest_square(mask, side: int, *, away_from=None, distance: float = 0.0) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` square holding the most of ``mask``.

    Explained in ``book/06_going_further.ipynb``, where it finds the spot
    of an image with the most errors (or missed thin vessels) for a
    close-up. Squares lie on a grid of ``side // 4`` pixels; of equal ones
    the first in reading order wins.

    Parameters
    ----------
    mask : (H, W) bool ndarray
        What to count.
    side : int
        Side of the square, at most the image's smaller side.
    away_from : (row, column), optional
        Skip squares whose centre is closer than ``distance`` to this point
        (e.g. the optic disc, to look elsewhere).
    distance : float
        See ``away_from``.

    Returns
    -------
    (top, left) : tuple of int

    Examples
    --------
    >>> mask = np.zeros((16, 16), bool); mask[8:12, 4:8] = True
    >>> densest_square(mask, 4)
    (8, 4)
    """
    mask = np.asarray(mask, bool)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(
            f"densest_square: mask must be a non-empty (H, W) array, got {mask.shape}."
        )
    side = checks.integer(side, "densest_square: side", minimum=1, maximum=min(mask.shape))
    step = max(1, side // 4)
    tops = np.arange(0, mask.shape[0] - side + 1, step)
    lefts = np.arange(0, mask.shape[1] - side + 1, step)
    summed = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = (
        summed[tops[:, None] + side, lefts[None] + side]
        - summed[tops[:, None], lefts[None] + side]
        - summed[tops[:, None] + side, lefts[None]]
        + summed[tops[:, None], lefts[None]]
    )
    if away_from is not None:
        centres = np.hypot(
            tops[:, None] + side / 2 - away_from[0], lefts[None] + side / 2 - away_from[1]
        )
        counts = np.where(centres < distance, -1, counts)
    row, column = np.unravel_index(np.argmax(counts), counts.shape)
    return int(tops[row]), int(lefts[column])
