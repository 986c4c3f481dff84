"""The U-Net's grid: image sides padded up to a multiple, and tiles laid on it.

Explained in ``book/02_unet_architecture.ipynb`` (padding) and
``book/06_going_further.ipynb`` (tiles).

A U-Net with ``depth`` poolings halves the image ``depth`` times, so both
sides must be multiples of ``2 ** depth``. Training (:mod:`.pipeline`) and
prediction (:mod:`.inference`) pad the same way, here: by reflection, the
extra pixels split between both sides (the odd one at the bottom or right),
so the image stays centred. A large photograph is predicted in overlapping
tiles whose starts stay on that grid (:func:`tile_layout`), blended with
:func:`tile_weights`. Pure NumPy: no Keras needed.
"""

from __future__ import annotations

import typing

import numpy as np

from retina_tutorial import checks


class CropBox(typing.NamedTuple):
    """Where the original image lies inside a padded one (pixels)."""

    top: int
    left: int
    height: int
    width: int


def ceil_div(length, step) -> int:
    """``length / step`` rounded up: how many steps of ``step`` cover ``length``.

    >>> ceil_div(565, 16), ceil_div(560, 16)
    (36, 35)
    """
    return -(-int(length) // checks.integer(step, "step", minimum=1))


def round_up(length, multiple) -> int:
    """``length`` rounded up to a multiple of ``multiple``.

    >>> round_up(565, 16), round_up(576, 16)
    (576, 576)
    """
    return ceil_div(length, multiple) * int(multiple)


def pad_amounts(shape, multiple: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding that brings an image's sides up to a multiple of ``multiple``.

    Explained in ``book/03_augmentation.ipynb``.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` or any shape starting with them.
    multiple : int
        Positive; typically ``2 ** depth`` of the U-Net.

    Returns
    -------
    ((top, bottom), (left, right)) : tuple of tuple of int
        The odd pixel, if any, goes to the bottom or right.

    Examples
    --------
    >>> pad_amounts((584, 565), 16)
    ((4, 4), (5, 6))
    """
    multiple = checks.integer(multiple, "multiple", minimum=1)
    height, width = (int(side) for side in tuple(shape)[:2])
    extra_h, extra_w = round_up(height, multiple) - height, round_up(width, multiple) - width
    return (extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)


def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, CropBox]:
    """Reflect-pad the two spatial axes up to a multiple of ``multiple``.

    Explained in ``book/05_evaluation.ipynb``.

    The padding is split between both sides as :func:`pad_amounts` says, so
    the image stays centred.

    Parameters
    ----------
    image : (H, W), (H, W, C) or (N, H, W, C) ndarray
        Spatial axes are the first two, except for 4-D stacks.
    multiple : int
        Positive; typically ``2 ** depth`` of the U-Net.

    Returns
    -------
    padded : ndarray
        Same dtype and layout, spatial sides multiples of ``multiple``.
    box : CropBox
        Where the original lies in ``padded``; :func:`crop` undoes the padding.
    """
    image = np.asarray(image)
    rows, cols = spatial_axes(image, "image")
    height, width = image.shape[rows], image.shape[cols]
    if height == 0 or width == 0:
        raise ValueError(f"image has an empty side: shape {image.shape}.")
    (top, bottom), (left, right) = pad_amounts((height, width), multiple)
    for axis, before, after, length in ((rows, top, bottom, height), (cols, left, right, width)):
        if before or after:
            widths = [(0, 0)] * image.ndim
            widths[axis] = (before, after)
            # A side of one pixel has nothing to reflect: repeat it.
            image = np.pad(image, widths, mode="reflect" if length > 1 else "edge")
    return image, CropBox(top, left, height, width)


def crop(image: np.ndarray, box: CropBox) -> np.ndarray:
    """Cut ``box`` out of a padded image (undoes :func:`pad_to_multiple`).

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    image : (H, W), (H, W, C) or (N, H, W, C) ndarray
        Same layout rules as :func:`pad_to_multiple`.
    box : CropBox
    """
    image = np.asarray(image)
    rows, cols = spatial_axes(image, "image")
    if box.top + box.height > image.shape[rows] or box.left + box.width > image.shape[cols]:
        raise ValueError(f"crop box {tuple(box)} does not fit in an image of shape {image.shape}.")
    index = [slice(None)] * image.ndim
    index[rows] = slice(box.top, box.top + box.height)
    index[cols] = slice(box.left, box.left + box.width)
    return image[tuple(index)]


def spatial_axes(image: np.ndarray, name: str) -> tuple[int, int]:
    """The (rows, columns) axes of an (H, W), (H, W, C) or (N, H, W, C) array."""
    if image.ndim in (2, 3):
        return 0, 1
    if image.ndim == 4:
        return 1, 2
    raise ValueError(f"{name} must be (H, W), (H, W, C) or (N, H, W, C), got shape {image.shape}.")


def tile_layout(shape, tiles, overlap: int, multiple: int):
    """Where the tiles of a padded image of this ``(height, width)`` lie.

    Explained in ``book/06_going_further.ipynb``. Along each axis tiles
    start every ``(tile - overlap) // multiple * multiple`` pixels, so their
    starts stay on the model's grid and pooling windows line up with the
    whole image's, and a last tile is aligned with the far edge. A tile
    larger than the image shrinks to it.

    Parameters
    ----------
    shape : (int, int)
        The padded image's sides, multiples of ``multiple``
        (:func:`round_up` gives them).
    tiles : (int, int)
        Tile height and width, multiples of ``multiple``.
    overlap : int
        Pixels shared by neighbouring tiles.
    multiple : int

    Returns
    -------
    ((int, list of int), (int, list of int))
        For rows, then columns: the tile's side and the start of each tile.

    Examples
    --------
    >>> tile_layout((592, 576), (256, 256), 64, 8)
    ((256, [0, 192, 336]), (256, [0, 192, 320]))
    """
    layout = []
    for length, tile in zip(shape, tiles):
        tile = min(int(tile), int(length))
        stride = (tile - overlap) // multiple * multiple
        starts = [0] if length <= tile else [*range(0, length - tile, stride), length - tile]
        layout.append((tile, starts))
    return tuple(layout)


def tile_weights(start: int, tile: int, length: int, overlap: int) -> np.ndarray:
    """1-D blending weights of one tile: low near edges shared with other tiles.

    Explained in ``book/06_going_further.ipynb``. The outer quarter of the
    overlap gets weight 0 (tile-edge artefacts are never used), the middle
    half ramps up as a raised cosine. Edges on the image border keep full
    weight.
    """
    distance = np.full(tile, np.inf)
    position = np.arange(tile)
    if start > 0:
        distance = np.minimum(distance, position)
    if start + tile < length:
        distance = np.minimum(distance, tile - 1 - position)
    margin, ramp = overlap // 4, overlap // 2
    if ramp == 0:
        return (distance >= margin).astype(np.float32)
    t = np.clip((distance - margin + 0.5) / ramp, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)
