"""Exercise checkers for Chapter 03, augmentation."""

from __future__ import annotations

import math

import numpy as np

from retina_tutorial.exercises._core import (
    Result,
    _as_number,
    _finish,
    _not_a_number,
    _unanswered,
    variants,
)

#: Transforms that move pixels, so the targets must move with the image.
GEOMETRIC_TRANSFORMS = frozenset({"flip", "rotation", "zoom", "shift"})
#: Transforms that change intensities only: the image alone.
PHOTOMETRIC_TRANSFORMS = frozenset({"brightness", "contrast", "gamma"})


def check_flip_both(answer, mask, *, verbose: bool = True) -> Result:
    """Check what ``RandomFlip("horizontal_and_vertical")`` does when it fires.

    Explained in ``book/03_augmentation.ipynb`` (exercise 1): the layer draws
    once per image and flips both axes together, a 180 degree rotation.

    Parameters
    ----------
    answer : (H, W) array-like or None
        The learner's flipped mask.
    mask : (H, W) array-like
        The mask before flipping.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be one (H, W) array, got shape {mask.shape}.")
    if answer is None:
        return _unanswered("the mask as the layer leaves it when its flip fires", verbose)
    value = np.asarray(answer)
    if value.shape != mask.shape:
        return _finish(
            False, f"Expected an array of shape {mask.shape}, got {value.shape}.", verbose
        )
    if np.array_equal(value, mask[::-1, ::-1]):
        return _finish(
            True,
            (
                "Flipping both axes at once is a 180 degree rotation, never a mirror image. "
                "Left and right eyes are mirror images, so the package draws the left-right "
                "and the up-down flip independently."
            ),
            verbose,
        )
    if np.array_equal(value, mask[:, ::-1]) or np.array_equal(value, mask[::-1, :]):
        message = (
            "That flips one axis. The layer draws one random number per image and, when "
            "it fires, flips *both* axes."
        )
    elif np.array_equal(value, mask):
        message = "That is the unchanged mask; we asked what happens when the flip fires."
    elif np.array_equal(value, mask.T):
        message = "That is a transpose (a mirror across the diagonal), not a flip."
    else:
        message = "Not a flip of the mask. Hint: `mask[::-1, ::-1]` reverses both axes."
    return _finish(False, message, verbose)


def check_patch_reach(answer, patch_size: int, zoom: float, *, verbose: bool = True) -> Result:
    """Check how far from a patch's centre a rotated, zoomed-out corner reads.

    Explained in ``book/03_augmentation.ipynb`` (exercise 2): rotated by 45
    degrees and zoomed out by ``1 + zoom``, a corner of a square patch fetches
    its pixel from ``(1 + zoom) * patch_size / sqrt(2)`` pixels away along an
    axis.

    Parameters
    ----------
    answer : float or None
        Distance along one axis, in pixels.
    patch_size : int
        Side of the square patch.
    zoom : float
        Largest zoom-out, e.g. 0.2.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if answer is None:
        return _unanswered("the distance in pixels (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number of pixels", verbose)
    half = patch_size / 2
    truth = (1 + zoom) * math.sqrt(2) * half
    if abs(value - truth) <= 0.05:
        return _finish(
            True,
            (
                f"{truth:.2f} pixels: a {patch_size}-pixel patch must be cut from a crop at "
                f"least {2 * math.ceil(truth)} pixels wide, or rotations pull empty corners in."
            ),
            verbose,
        )
    if abs(value - math.sqrt(2) * half) <= 0.05:
        message = "You left out the zoom: zooming out by 1 + zoom reads that much farther."
    elif abs(value - (1 + zoom) * half) <= 0.05:
        message = (
            "You left out the rotation: at 45 degrees a corner lies sqrt(2) times farther out."
        )
    elif abs(value - 2 * truth) <= 0.1:
        message = "That is twice the answer: measure from the centre, half the patch side."
    elif abs(value - truth) < 0.5:
        message = f"Close: give it to a tenth of a pixel ({value:g} is rounded too far)."
    else:
        message = (
            f"{value:g} is off. Hint: a corner lies (half side) x sqrt(2) from the centre "
            "after a 45 degree turn, and zooming out multiplies distances by 1 + zoom."
        )
    return _finish(False, message, verbose)


def check_paired_transforms(answer, *, verbose: bool = True) -> Result:
    """Check which augmentations must be applied to the targets too.

    Explained in ``book/03_augmentation.ipynb`` (exercise 3).

    Parameters
    ----------
    answer : set of str or None
        Names from ``{"flip", "rotation", "zoom", "shift", "brightness",
        "contrast", "gamma"}``.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if answer is None:
        return _unanswered('a set of names, e.g. `{"flip", "gamma"}`', verbose)
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return _finish(False, 'Give a set of names, e.g. `{"flip", "gamma"}`.', verbose)
    chosen = {str(name).strip().lower() for name in answer}
    known = GEOMETRIC_TRANSFORMS | PHOTOMETRIC_TRANSFORMS
    unknown = chosen - known
    if unknown:
        return _finish(
            False, (f"Unknown name(s) {sorted(unknown)}; choose from {sorted(known)}."), verbose
        )
    if chosen == GEOMETRIC_TRANSFORMS:
        return _finish(
            True,
            (
                "Everything that moves pixels must move the vessel and FOV masks with them; "
                "brightness, contrast and gamma change what a pixel looks like, not what it is."
            ),
            verbose,
        )
    parts = []
    wrong = chosen & PHOTOMETRIC_TRANSFORMS
    missing = GEOMETRIC_TRANSFORMS - chosen
    if wrong:
        parts.append(
            f"{', '.join(sorted(wrong))} change(s) intensities only: a vessel stays a vessel "
            "when the picture gets darker, so the mask stays as it is"
        )
    if missing:
        parts.append(
            f"{', '.join(sorted(missing))} move(s) pixels: without moving the mask too, "
            "the labels no longer lie on the vessels"
        )
    return _finish(False, "; ".join(parts).capitalize() + ".", verbose)


def check_binary_targets(targets, original=None, *, verbose: bool = True) -> Result:
    """Check augmented targets: (B, H, W, 2), every value exactly 0 or 1.

    Explained in ``book/03_augmentation.ipynb`` (exercise 4).

    Parameters
    ----------
    targets : (B, H, W, 2) array-like or tensor, or None
        Targets returned by an augmenter.
    original : (B, H, W, 2) array-like, optional
        The targets before augmentation; given, the checker also makes sure
        the augmenter changed them.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    if targets is None:
        return _unanswered("the targets your augmenter returned", verbose)
    values = np.asarray(targets, dtype=np.float64)
    if values.ndim != 4 or values.shape[-1] != 2:
        return _finish(
            False,
            (
                f"Expected targets of shape (B, H, W, 2), vessel and FOV channels, got "
                f"{values.shape}. Pass the second value the augmenter returns."
            ),
            verbose,
        )
    if values.size and (values.min() < 0 or values.max() > 1):
        return _finish(
            False,
            (f"Values span [{values.min():g}, {values.max():g}]; targets must lie in [0, 1]."),
            verbose,
        )
    grey = int(np.count_nonzero((values > 0) & (values < 1)))
    if grey:
        return _finish(
            False,
            (
                f"{grey:,} target values lie strictly between 0 and 1: the masks were "
                "interpolated bilinearly, as the article's ImageDataGenerator does. Use "
                "`augment.build_augmenter`, which resamples targets with nearest neighbour."
            ),
            verbose,
        )
    if original is not None:
        before = np.asarray(original, dtype=np.float64)
        if before.shape == values.shape and np.array_equal(before, values):
            return _finish(
                False,
                (
                    "These are the targets exactly as they were before augmenting: pass the "
                    "second value that the augmenter returns, not the targets you gave it."
                ),
                verbose,
            )
    if original is not None and np.shape(original) != values.shape:
        return _finish(
            False,
            (
                f"Shape {values.shape} differs from the targets you gave the augmenter, "
                f"{np.shape(original)}: it transforms images, it does not transpose or crop "
                "the batch."
            ),
            verbose,
        )
    vessels, fov = values[..., 0] > 0.5, values[..., 1] > 0.5
    if vessels.any() and (np.mean(fov[vessels]) < 0.99 or fov.mean() <= vessels.mean()):
        return _finish(
            False,
            (
                "The channels look swapped or the FOV replaced: channel 0 holds the vessels "
                "and channel 1 the FOV, and the vessels lie inside the FOV."
            ),
            verbose,
        )
    fov = values[..., 1]
    if fov.size and not fov.any():
        return _finish(
            False,
            (
                "The FOV channel is all 0, so no pixel would count in the loss. Did the "
                "transform move the eye out of the picture? Try a smaller shift or zoom."
            ),
            verbose,
        )
    return _finish(
        True,
        (
            f"All {values.size:,} target values are exactly 0 or 1; "
            f"{fov.mean():.1%} of the pixels are inside the field of view and will count."
        ),
        verbose,
    )


# === Chapters 04-06 ============================================================


# --- the values a grading variant gives (see exercises.given) --------------------


@variants("03-ex1")
def _mask_values(rng) -> dict:
    while True:
        mask = rng.integers(0, 2, (3, 4))
        if not np.array_equal(mask, mask[::-1, ::-1]) and 3 <= mask.sum() <= 8:
            return {"mask": mask}


@variants("03-ex2")
def _reach_values(rng) -> dict:
    return {
        "patch_size": int(rng.choice([48, 64, 128, 160])),
        "zoom": float(rng.choice([0.1, 0.15, 0.25, 0.3])),
    }
