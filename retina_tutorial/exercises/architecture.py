"""Exercise checkers for Chapter 02, the U-Net architecture."""

from __future__ import annotations

import numpy as np

from retina_tutorial import checks, grid
from retina_tutorial.exercises._core import (
    Result,
    _as_number,
    _finish,
    _not_a_number,
    _unanswered,
    variants,
)


def _receptive_field(depth: int, convolutions: int = 2, kernel: int = 3) -> int:
    """:func:`retina_tutorial.model.receptive_field`, imported when first asked.

    The checkers import no Keras or TensorFlow until one needs a model: a
    chapter's kernel (and each graded run of a submission) starts seconds
    sooner.
    """
    from retina_tutorial.model import receptive_field

    return receptive_field(depth, convolutions, kernel)


def check_receptive_field(
    answer, depth: int, *, convolutions: int = 2, kernel: int = 3, verbose: bool = True
) -> Result:
    """Check the receptive field (pixels across) of a U-Net of a given depth.

    Explained in ``book/02_unet_architecture.ipynb`` (exercise 1). The U-Net
    is laid out like the package's: ``convolutions`` ``kernel`` x ``kernel``
    convolutions per level ('same' padding), 2 x 2 pooling and 2 x 2 stride-2
    transposed convolutions.

    Parameters
    ----------
    answer : int or None
        Width in input pixels of the region one output pixel depends on.
    depth : int
        Number of down-sampling steps.
    convolutions : int
        Convolutions per level (2 in the package's U-Net).
    kernel : int
        Side of the convolution kernels (3 in the package's U-Net).
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    depth = checks.integer(depth, "depth", minimum=0)
    if answer is None:
        return _unanswered(f"the receptive field of a depth-{depth} U-Net, in pixels", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one whole number of pixels", verbose)
    depth = int(depth)
    widen = convolutions * (kernel - 1)
    truth = _receptive_field(depth, convolutions, kernel)
    if value == truth:
        return _finish(
            True,
            (
                f"A depth-{depth} U-Net with {convolutions} convolutions of {kernel} x {kernel} "
                f"per level sees {truth} x {truth} input pixels for each output pixel: the "
                "context roughly doubles with every level."
            ),
            verbose,
        )
    contracting_only = 1 + sum((widen + 1) * 2**level for level in range(depth)) + widen * 2**depth
    if depth > 0 and value == contracting_only:
        message = (
            "That counts the contracting path and the bottleneck only. The expanding "
            "path's convolutions widen the region too (by less: they work on finer grids)."
        )
    elif depth > 0 and value == _receptive_field(depth - 1, convolutions, kernel):
        message = f"That is the receptive field of a depth-{depth - 1} U-Net: one level is missing."
    elif value == _receptive_field(depth + 1, convolutions, kernel):
        message = f"That is the receptive field of a depth-{depth + 1} U-Net: one level too many."
    elif convolutions != 2 and value == _receptive_field(depth):
        message = (
            f"That is the receptive field with 2 convolutions per level; this U-Net has "
            f"{convolutions}, and each one widens the region on its own grid."
        )
    else:
        message = (
            f"{value:g} is off. Hint: walk back from one output pixel, with the chapter's "
            "`receptive_field` function or by hand: +2 per 3 x 3 convolution on its own grid, "
            "r -> r // 2 + 1 through a transposed convolution, r -> 2 r through a pooling."
        )
    return _finish(False, message, verbose)


def check_conv_parameters(
    answer,
    *,
    in_channels: int,
    filters: int,
    kernel: int = 3,
    bias: bool = True,
    verbose: bool = True,
) -> Result:
    """Check the number of parameters of one 2-D convolution layer.

    Explained in ``book/02_unet_architecture.ipynb`` (exercise 2).

    Parameters
    ----------
    answer : int or None
        The learner's count.
    in_channels, filters, kernel : int
        Input channels, output channels (filters) and kernel side.
    bias : bool
        Whether the layer has a bias per filter.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if answer is None:
        return _unanswered("the number of weights and biases of the layer", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one whole number", verbose)
    weights = kernel * kernel * in_channels * filters
    truth = weights + (filters if bias else 0)
    if value == truth:
        return _finish(
            True,
            (
                f"{kernel} x {kernel} x {in_channels} x {filters} weights"
                + (f" + {filters} biases" if bias else "")
                + f" = {truth:,} parameters."
            ),
            verbose,
        )
    if bias and value == weights:
        message = f"You counted the weights; each of the {filters} filters also has a bias."
    elif value == kernel * kernel * filters + (filters if bias else 0):
        message = (
            f"Each filter spans all {in_channels} input channels: it has "
            f"{kernel} x {kernel} x {in_channels} weights, not {kernel} x {kernel}."
        )
    elif value == kernel * kernel * in_channels + (1 if bias else 0):
        message = f"That is one filter; the layer has {filters} of them."
    else:
        message = (
            f"{value:g} is off. Hint: a filter has one weight per kernel position and input "
            "channel, plus a bias; the layer has one filter per output channel."
        )
    return _finish(False, message, verbose)


def check_padded_shape(answer, image_shape, depth: int, *, verbose: bool = True) -> Result:
    """Check the smallest padded size a U-Net of ``depth`` accepts for an image.

    Explained in ``book/02_unet_architecture.ipynb`` (exercise 3).

    Parameters
    ----------
    answer : tuple of (int, int) or None
        ``(height, width)`` after padding.
    image_shape : tuple of int
        ``(height, width)`` of the image, e.g. ``(584, 565)``.
    depth : int
        Number of down-sampling steps of the U-Net.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    height, width = (int(side) for side in tuple(image_shape)[:2])
    multiple = 2 ** int(depth)
    if answer is None:
        return _unanswered("the padded `(height, width)`", verbose)
    numbers = [_as_number(a) for a in answer] if np.ndim(answer) == 1 else []
    if len(numbers) != 2 or None in numbers or any(x != round(x) for x in numbers):
        return _finish(
            False, "Give the size as a pair of whole numbers, `(height, width)`.", verbose
        )
    value = tuple(int(x) for x in numbers)
    truth = (grid.round_up(height, multiple), grid.round_up(width, multiple))
    if value == truth:
        return _finish(
            True,
            (
                f"{height} x {width} pads to {truth[0]} x {truth[1]}, the next multiples of "
                f"2 ** {depth} = {multiple}: every pooling then halves an even size."
            ),
            verbose,
        )
    if value == truth[::-1]:
        message = "Right numbers, wrong order: NumPy and Keras give (height, width)."
    elif value[0] < height or value[1] < width:
        message = "Smaller than the image: pad it, never crop, or you lose pixels to evaluate."
    elif all(side % multiple == 0 for side in value):
        message = (
            f"Those sides are multiples of {multiple}, but not the smallest ones: padding "
            "more costs memory and time for nothing."
        )
    else:
        bad = [side for side in value if side % multiple]
        message = (
            f"{bad} is not a multiple of 2 ** depth = {multiple}. Hint: round each side "
            f"up to the next multiple of {multiple}."
        )
    return _finish(False, message, verbose)


def check_bottleneck_shape(
    answer, image_shape, depth: int, base_filters: int, *, verbose: bool = True
) -> Result:
    """Check the bottleneck's (height, width, channels) for a padded input.

    Explained in ``book/02_unet_architecture.ipynb`` (exercise 4).

    Parameters
    ----------
    answer : tuple of (int, int, int) or None
        ``(height, width, channels)`` of the bottleneck's output.
    image_shape : tuple of int
        ``(height, width)`` of the (already padded) input.
    depth, base_filters : int
        Of the U-Net.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    height, width = (int(side) for side in tuple(image_shape)[:2])
    multiple = 2 ** int(depth)
    if height % multiple or width % multiple:
        raise ValueError(
            f"image_shape {image_shape} is not a multiple of {multiple}: pass the padded size."
        )
    if answer is None:
        return _unanswered("the bottleneck's `(height, width, channels)`", verbose)
    numbers = [_as_number(a) for a in answer] if np.ndim(answer) == 1 else []
    if len(numbers) != 3 or None in numbers or any(x != round(x) for x in numbers):
        return _finish(False, "Give three whole numbers, `(height, width, channels)`.", verbose)
    value = tuple(int(x) for x in numbers)
    truth = (height // multiple, width // multiple, base_filters * multiple)
    if value == truth:
        return _finish(
            True,
            (
                f"{truth[0]} x {truth[1]} x {truth[2]}: {depth} halvings of the grid and "
                f"{depth} doublings of the filters; each bottleneck pixel stands for a "
                f"{multiple} x {multiple} block of the image."
            ),
            verbose,
        )
    if value[:2] != truth[:2]:
        message = (
            f"The grid is off: each of the {depth} poolings halves height and width, "
            f"so divide by {multiple}."
        )
    elif value[2] in (base_filters * multiple // 2, base_filters * multiple * 2):
        message = (
            f"The channels are off by a factor 2: the filters double at every level down, "
            f"{depth} times, starting from {base_filters}."
        )
    else:
        message = f"The channels are off. Hint: {base_filters} x 2 ** depth."
    return _finish(False, message, verbose)


# --- the values a grading variant gives (see exercises.given) --------------------


@variants("02-ex1")
def _receptive_field_values(rng) -> dict:
    choices = [(d, c) for d in (2, 3, 4, 5) for c in (2, 3, 4) if (d, c) != (3, 3)]
    depth, convolutions = choices[rng.integers(len(choices))]
    return {"depth": depth, "convolutions": convolutions}


@variants("02-ex2")
def _conv_parameter_values(rng) -> dict:
    in_channels = int(rng.choice([3, 16, 24, 48, 96, 192, 384]))
    return {"in_channels": in_channels, "filters": int(rng.choice([32, 64, 80, 160, 320]))}


@variants("02-ex3")
def _padded_shape_values(rng) -> dict:
    shape = tuple(int(side) for side in rng.integers(301, 1200, size=2))
    return {"shape": shape, "depth": int(rng.choice([3, 4, 6]))}


@variants("02-ex4")
def _bottleneck_values(rng) -> dict:
    depth = int(rng.choice([3, 4]))
    shape = tuple(int(side) * 2**depth for side in rng.integers(20, 60, size=2))
    return {"shape": shape, "depth": depth, "base_filters": int(rng.choice([8, 16, 24]))}
