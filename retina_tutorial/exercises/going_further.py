"""Exercise checkers for Chapter 06, going further."""

from __future__ import annotations

import math

import numpy as np

from retina_tutorial import data, grid, scale, topology
from retina_tutorial.exercises._core import (
    FOUR_DECIMALS,
    NEAR_MISS,
    Result,
    _as_number,
    _check_split,
    _close,
    _finish,
    _nearest,
    _not_a_number,
    _one_number,
    _pair_of_numbers,
    _unanswered,
    variants,
)


def check_fov_share(answer, whole_targets, patch_targets, *, verbose: bool = True) -> Result:
    """Check the share of target pixels that count in the loss, for two kinds of batch.

    Explained in ``book/06_going_further.ipynb`` (exercise 1).

    Parameters
    ----------
    answer : tuple of (float, float) or None
        ``(whole_images, patches)``: the fraction of pixels whose FOV
        channel is 1 in each batch.
    whole_targets, patch_targets : (B, H, W, 2) array-like or tensor
        Targets of a whole-image batch and of a patch batch.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    whole = np.asarray(whole_targets, dtype=np.float64)
    patches = np.asarray(patch_targets, dtype=np.float64)
    for name, targets in (("whole_targets", whole), ("patch_targets", patches)):
        if targets.ndim != 4 or targets.shape[-1] != 2:
            raise ValueError(f"{name} must be (B, H, W, 2) targets, got shape {targets.shape}.")
    if answer is None:
        return _unanswered("a pair `(whole_images, patches)` of fractions", verbose)
    values = _pair_of_numbers(answer, "`(whole_images, patches)`", verbose)
    if isinstance(values, Result):
        return values
    truth = (float(whole[..., 1].mean()), float(patches[..., 1].mean()))
    ok = [_close(v, t) for v, t in zip(values, truth)]
    if all(ok):
        return _finish(
            True,
            (
                f"{truth[0]:.1%} of a whole-image batch counts in the loss against "
                f"{truth[1]:.1%} of a patch batch: the rest is surround, padding and the "
                "corners augmentation uncovers, computed and then thrown away."
            ),
            verbose,
        )
    if _close(values[0], truth[1]) and _close(values[1], truth[0]):
        return _finish(
            False, "Both are right but swapped: whole images first, patches second.", verbose
        )
    vessel = (float(whole[..., 0].mean()), float(patches[..., 0].mean()))
    if any(_close(v, t) for v, t in zip(values, vessel)):
        message = "You measured channel 0, the vessels. The FOV is channel 1: `targets[..., 1]`."
    else:
        message = "Hint: the mean of the FOV channel, `targets[..., 1].mean()`, for each batch."
    return _finish(False, message, verbose)


def check_tile_count(
    answer, image_shape, tile_size: int, overlap: int, multiple: int, *, verbose: bool = True
) -> Result:
    """Check the number of tiles the tiled predictor cuts from a large image.

    Explained in ``book/06_going_further.ipynb`` (exercise 2). As in
    :func:`retina_tutorial.inference.predict`: the image is padded to a
    multiple of ``multiple``; tiles of ``tile_size`` start every
    ``(tile_size - overlap) // multiple * multiple`` pixels, and a last tile
    is aligned with the far edge.

    Parameters
    ----------
    answer : int or None
    image_shape : tuple of int
        ``(height, width)`` of the image.
    tile_size, overlap, multiple : int
        ``tile_size`` a multiple of ``multiple``.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if tile_size % multiple:
        raise ValueError(f"tile_size {tile_size} must be a multiple of {multiple}.")
    height, width = (grid.round_up(side, multiple) for side in tuple(image_shape)[:2])
    stride = (tile_size - overlap) // multiple * multiple
    (_, row_starts), (_, column_starts) = grid.tile_layout(
        (height, width), (tile_size, tile_size), overlap, multiple
    )
    rows, columns = len(row_starts), len(column_starts)
    if answer is None:
        return _unanswered("the number of tiles (one whole number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one whole number", verbose)
    truth = rows * columns
    if value == truth:
        return _finish(
            True,
            (
                f"{rows} rows x {columns} columns = {truth} tiles of {tile_size} x {tile_size}, "
                f"starting every {stride} pixels. Memory depends on the tile, not on the image."
            ),
            verbose,
        )
    plain = math.ceil(height / tile_size) * math.ceil(width / tile_size)
    if value == plain:
        message = (
            f"That is the count without overlap. Neighbouring tiles share {overlap} pixels, "
            f"so each starts {stride} pixels after the previous one, not {tile_size}."
        )
    elif value in (rows, columns, rows + columns):
        message = "Count the tiles in both directions and multiply: rows x columns."
    else:
        message = (
            f"Hint: along a side of L pixels, tiles start at 0, {stride}, {2 * stride}, ... "
            f"while they fit, plus one last tile ending at the edge: "
            f"ceil((L - {tile_size}) / {stride}) + 1."
        )
    return _finish(False, message, verbose)


#: The four flips of test-time augmentation, as steps along (rows, columns).
_FLIPS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def check_tta(answer, model, image, *, verbose: bool = True) -> Result:
    """Check a test-time-augmented prediction averaged over the four flips by hand.

    Explained in ``book/06_going_further.ipynb`` (exercise 3). The reference
    is :func:`retina_tutorial.inference.predict` with ``tta=True``, or the
    same average made by flipping the image before :func:`~retina_tutorial.inference.predict`
    (which pads it on the other sides, so the two differ slightly near the border).

    Parameters
    ----------
    answer : (H, W) float ndarray or None
        The learner's averaged probabilities.
    model : keras.Model
        The model the learner used.
    image : (H, W, 3) float ndarray
        The image the learner predicted.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    # Imported here: only this checker needs a model to predict with.
    from retina_tutorial import inference

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be one (H, W, 3) image, got shape {image.shape}.")
    if answer is None:
        return _unanswered("your averaged probability map, shape (H, W)", verbose)
    value = np.asarray(answer, dtype=np.float64)
    if value.shape != image.shape[:2]:
        hint = (
            " Drop the batch and channel axes."
            if value.size == image.shape[0] * image.shape[1]
            else ""
        )
        return _finish(
            False, f"Expected a map of shape {image.shape[:2]}, got {value.shape}.{hint}", verbose
        )
    truth = inference.predict(model, image, tta=True)
    # Flipping the image before predict() pads it on the other sides than the package,
    # which flips the padded image; both are right, and differ near the border only.
    by_hand = np.mean(
        [
            inference.predict(model, np.ascontiguousarray(image[::r, ::c]))[::r, ::c]
            for r, c in _FLIPS
        ],
        axis=0,
    )
    largest = float(min(np.max(np.abs(value - truth)), np.max(np.abs(value - by_hand))))
    if largest < 1e-3:
        return _finish(
            True,
            (
                f"Your average matches test-time augmentation (largest difference {largest:.1e}). "
                "Each flipped prediction must be flipped back before averaging, so that every "
                "pixel is averaged with itself."
            ),
            verbose,
        )
    plain = inference.predict(model, image)
    if np.max(np.abs(value - plain)) < 1e-3:
        message = "That is the prediction without flips; average the predictions for all four."
    else:
        unflipped = np.mean(
            [inference.predict(model, np.ascontiguousarray(image[::r, ::c])) for r, c in _FLIPS],
            axis=0,
        )
        if np.max(np.abs(value - unflipped)) < 1e-3:
            message = (
                "You averaged the flipped predictions as they came out. Flip each one back "
                "(the same flip again) first, or the vessels of different places are mixed."
            )
        else:
            message = (
                f"Your map differs from the reference by up to {largest:.3f}. Hint: for each "
                "of the four flips (none, left-right, up-down, both), predict the flipped "
                "image, flip the result back, then average the four maps."
            )
    return _finish(False, message, verbose)


def _fov_diameter(fov) -> int:
    """Diameter of a FOV mask in pixels, measured as the package measures it."""
    return round(scale.fov_diameter(fov))


def check_scale_factor(answer, fov_large, fov_reference, *, verbose: bool = True) -> Result:
    """Check the factor that brings a large fundus image to the scale of a reference.

    Explained in ``book/06_going_further.ipynb`` (exercise 4): the ratio of
    the FOV diameters, reference over large. Within 0.2 % passes.

    Parameters
    ----------
    answer : float or None
        The factor to resize the large image by (below 1 shrinks it).
    fov_large, fov_reference : (H, W) bool ndarray
        FOV masks of the large image and of a reference (DRIVE) image.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    large, reference = _fov_diameter(fov_large), _fov_diameter(fov_reference)
    if answer is None:
        return _unanswered("the resize factor (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    truth = reference / large
    # Within 0.2 %: the model's own FOV width (539 px, what predict_photograph
    # uses) is 0.75 % away from DRIVE image 01's, and is not what is asked.
    if _close(value, truth, 0.002):
        return _finish(
            True,
            (
                f"The FOV is {large} pixels across against {reference}: resizing by {truth:.3f} "
                "makes the vessels about as wide in pixels as those the model learned from."
            ),
            verbose,
        )
    if _close(value, scale.DRIVE.fov_diameter / large, 0.002):
        message = (
            "That is the factor for the model's FOV width, 539 pixels, which "
            "predict_photograph uses; the exercise asks for the reference image's own."
        )
    elif value > 0 and _close(1 / value, truth, 0.02):
        message = "That factor enlarges the image; you want the reference over the large diameter."
    elif _close(value, truth**2, 0.04):
        message = "That is the ratio of the areas; sizes scale with the diameter, not the area."
    else:
        message = (
            "Hint: measure the FOV diameter of each mask (the number of columns that hold "
            "FOV pixels) and divide the reference's by the large image's."
        )
    return _finish(False, message, verbose)


def check_centreline_recall(answer, called, split: data.Split, *, verbose=True) -> Result:
    """Check the share of the annotated vessel centreline that a binary map finds.

    Explained in ``book/06_going_further.ipynb`` (exercise 5).

    Parameters
    ----------
    answer : float or None
        Pooled over the images: centreline pixels of the 1st manual (inside
        the FOV) that ``called`` marks as vessel, over all of them.
    called : (N, H, W) bool ndarray
        The binary map scored.
    split : Split
        Truth and FOV of those images.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    _check_split(split, "split")
    value = _one_number(answer, "the share of the centreline found (one number)", verbose)
    if isinstance(value, Result):
        return value
    called = np.asarray(called, bool)
    centre = topology.skeleton(split.vessels & split.fov)
    found = called & centre
    per_image = [f.sum() / c.sum() for f, c in zip(found, centre) if c.any()]
    inside = split.vessels & split.fov
    nearest = _nearest(
        value,
        {
            "right": float(found.sum() / centre.sum()),
            "mean": float(np.mean(per_image)),
            "pixels": float((called & inside).sum() / inside.sum()),
            "precision": float((topology.skeleton(called & split.fov) & inside).sum())
            / max(int(topology.skeleton(called & split.fov).sum()), 1),
        },
        FOUR_DECIMALS,
    )
    truth = float(found.sum() / centre.sum())
    if nearest == "right":
        return _finish(
            True,
            (
                f"The map finds {truth:.1%} of the annotated centreline. Counted on the "
                "centreline, a thin vessel weighs as much per unit of length as a wide one, "
                "which pixel recall does not."
            ),
            verbose,
        )
    messages = {
        "mean": "That is the mean of per-image shares: pool the pixels of all images first.",
        "pixels": (
            "That is the pixel recall (sensitivity): the share of all vessel pixels found. "
            "Count only the centreline pixels, `topology.skeleton(...)` of the annotation."
        ),
        "precision": (
            "That is the other direction: how much of the map's own centreline lies on "
            "annotated vessel (centreline precision)."
        ),
    }
    message = messages.get(nearest) or (
        NEAR_MISS
        if abs(value - truth) < 2e-3
        else (
            "Hint: `centre = topology.skeleton(split.vessels & split.fov)`, then the share of "
            "its pixels where the map says vessel."
        )
    )
    return _finish(False, message, verbose)


# --- the values a grading variant gives (see exercises.given) --------------------


@variants("06-ex2")
def _tile_values(rng) -> dict:
    tile_size = int(rng.choice([256, 384, 640]))
    return {"tile_size": tile_size, "overlap": int(rng.choice([32, 64, 96]))}
