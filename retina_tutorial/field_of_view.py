"""The field of view: finding the illuminated retina in a photograph without a mask.

Explained in ``book/06_going_further.ipynb``; :func:`estimate_fov` is also
importable from :mod:`retina_tutorial.inference`.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from retina_tutorial import grid, scale

#: estimate_fov works on a copy reduced to at most this many pixels a side.
FOV_WORKING_SIDE = 1024


def estimate_fov(image: np.ndarray) -> np.ndarray:
    """Field of view (the illuminated retina) of a fundus photograph.

    Explained in ``book/06_going_further.ipynb``.

    For images that come without a FOV mask. The red channel is bright all
    over the retina and near black outside it, so the mask is: red above 15 %
    of its 99th percentile, opened to remove specks (text, noise), reduced to
    its largest connected component and with holes filled row- and column-
    wise. On DRIVE's 40 images this agrees with the official masks with a
    Dice of about 0.998 (``tests/test_inference.py`` measures it). Images
    larger than ``FOV_WORKING_SIDE`` a side are reduced first, so a 4,000
    pixel photograph takes about as long as DRIVE's.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].

    Returns
    -------
    (H, W) bool ndarray
        True inside the field of view.

    Raises
    ------
    ValueError
        If ``image`` is not (H, W, 3), or it is uniformly dark, so there is no
        retina to find.
    """
    images, single = as_rgb_stack(image)
    if not single:
        raise ValueError(f"image must be one (H, W, 3) image, got shape {np.shape(image)}.")
    height, width = images.shape[1:3]
    step = math.ceil(max(height, width) / FOV_WORKING_SIDE)
    if step > 1:
        # A large photograph's disc is found as well on a reduced copy, in a
        # fraction of the time; its edge is then within `step` pixels.
        reduced = scale.resize_image(
            images[0], (grid.ceil_div(height, step), grid.ceil_div(width, step))
        )
        return scale.resize_mask(estimate_fov(reduced), (height, width))
    red = images[0, :, :, 0]
    level = float(np.percentile(red, 99))
    if level <= 0.02:
        raise ValueError(
            "image is uniformly dark (red channel 99th percentile "
            f"{level:.3f}): no field of view can be found in it."
        )
    mask = red > 0.15 * level
    # Opening (erode, then dilate) removes specks smaller than ~0.5 % of the image.
    size = max(3, 2 * (min(height, width) // 400) + 1)
    mask = _rank_filter(_rank_filter(mask, size, "min"), size, "max")
    mask = _largest_component(mask)
    return _fill_spans(mask)


def _fill_spans(mask: np.ndarray) -> np.ndarray:
    """Fill every row and column between its first and last True (holes inside the disc)."""

    def spans(m):
        index = np.arange(m.shape[1])
        any_true = m.any(axis=1)
        first = np.where(any_true, m.argmax(axis=1), m.shape[1])
        last = np.where(any_true, m.shape[1] - 1 - m[:, ::-1].argmax(axis=1), -1)
        return (index >= first[:, None]) & (index <= last[:, None])

    return spans(mask) & spans(mask.T).T


def _rank_filter(mask: np.ndarray, size: int, kind: str) -> np.ndarray:
    picture = Image.fromarray(mask.astype(np.uint8) * 255)
    rank = ImageFilter.MinFilter(size) if kind == "min" else ImageFilter.MaxFilter(size)
    return np.asarray(picture.filter(rank)) > 127


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 4-connected component of ``mask``.

    Labels are found on a coarse grid (at most ~128 cells a side) by
    propagating the largest label to neighbours until nothing changes, which
    needs no scipy and takes milliseconds even for large photographs.
    """
    if not mask.any():
        return mask
    height, width = mask.shape
    step = max(1, math.ceil(max(height, width) / 128))
    rows, cols = grid.ceil_div(height, step), grid.ceil_div(width, step)
    padded = np.zeros((rows * step, cols * step), dtype=np.float32)
    padded[:height, :width] = mask
    coarse = padded.reshape(rows, step, cols, step).mean(axis=(1, 3)) >= 0.5
    if not coarse.any():
        return mask
    labels = np.where(coarse, np.arange(1, coarse.size + 1).reshape(coarse.shape), 0)
    while True:
        grown = labels.copy()
        grown[1:] = np.maximum(grown[1:], labels[:-1])
        grown[:-1] = np.maximum(grown[:-1], labels[1:])
        grown[:, 1:] = np.maximum(grown[:, 1:], labels[:, :-1])
        grown[:, :-1] = np.maximum(grown[:, :-1], labels[:, 1:])
        grown = np.where(coarse, grown, 0)
        if np.array_equal(grown, labels):
            break
        labels = grown
    values, counts = np.unique(labels[labels > 0], return_counts=True)
    keep = labels == values[np.argmax(counts)]
    # One coarse cell of slack, so the full-resolution boundary is not cut.
    keep = _rank_filter(keep, 3, "max")
    keep = np.repeat(np.repeat(keep, step, axis=0), step, axis=1)[:height, :width]
    return mask & keep


def as_rgb_stack(image) -> tuple[np.ndarray, bool]:
    """One RGB image or a stack of them as an (N, H, W, 3) float32 stack in [0, 1].

    The input check of everything that takes photographs (:func:`estimate_fov`
    and :mod:`retina_tutorial.inference`'s predictors).

    Returns
    -------
    ((N, H, W, 3) float32 ndarray, bool)
        The stack, and whether a single (H, W, 3) image was given.

    Raises
    ------
    ValueError
        Saying what is wrong: not (H, W, 3) or (N, H, W, 3), empty, not
        float, or values outside [0, 1].
    """
    image = np.asarray(image)
    if image.ndim not in (3, 4):
        raise ValueError(
            f"image must be (H, W, 3) or (N, H, W, 3), got shape {image.shape}. "
            "A greyscale image must be converted to RGB first."
        )
    if image.shape[-1] != 3:
        raise ValueError(
            f"image must have 3 colour channels (RGB) in its last axis, got shape "
            f"{image.shape}. Drop an alpha channel, or use read_fundus(path)."
        )
    if image.shape[-3] == 0 or image.shape[-2] == 0 or (image.ndim == 4 and image.shape[0] == 0):
        raise ValueError(f"image is empty: shape {image.shape}.")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"image must be float RGB in [0, 1], got dtype {image.dtype}. Divide 8-bit "
            "pixels by 255 (read_fundus does this)."
        )
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1e-6 or high > 1.0 + 1e-6:
        raise ValueError(
            f"image values must lie in [0, 1], found [{low:g}, {high:g}]. Divide 8-bit "
            "pixels by 255 (read_fundus does this)."
        )
    single = image.ndim == 3
    return (image[None] if single else image), single
