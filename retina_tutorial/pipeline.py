"""``tf.data`` input pipelines: training patches, whole images, validation.

Explained in ``book/03_augmentation.ipynb``.

Every pipeline yields ``(images, targets)``: images (B, H, W, 3) float32 in
[0, 1], targets (B, H, W, 2) float32 with channel 0 = vessel and channel 1 =
field of view (FOV). Padding and the area that augmentation uncovers get
FOV = 0, so losses and metrics never count them.

:func:`training_patches`
    What the package trains on: random square patches at native resolution
    whose centre lies in the FOV, augmented a whole batch at a time.
:func:`whole_images`
    The article's way: whole images, padded to a multiple of ``2 ** depth``.
:func:`validation_data`
    Whole padded images, not augmented, one per batch.

All randomness is stateless and keyed on ``(seed, batch number)``, so a
pipeline gives the same batches for the same seed even though batches are
made in parallel.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from retina_tutorial import augment as augmentation
from retina_tutorial import data, deprecated
from retina_tutorial.grid import pad_amounts, pad_to_multiple

#: Largest zoom-out of the patch augmenter (``build_augmenter``'s default).
PATCH_ZOOM = 0.2
#: Offset of the seed that chooses which patches are transposed.
_TRANSPOSE_STREAM = 7919


def _positive_int(function: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{function}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_seed(function: str, seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{function}: seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _check_split(function: str, split: data.Split) -> None:
    if len(split) == 0:
        raise ValueError(f"{function}: the split holds no images; pass a non-empty Split.")
    images = np.asarray(split.images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{function}: split.images must be (N, H, W, 3), got shape {images.shape}."
        )
    for name in ("vessels", "fov"):
        if np.shape(getattr(split, name)) != images.shape[:3]:
            raise ValueError(
                f"{function}: split.{name} has shape {np.shape(getattr(split, name))}, "
                f"expected {images.shape[:3]} to match split.images."
            )


def stack_targets(split: data.Split) -> np.ndarray:
    """Stack a split's vessel and FOV masks as training targets.

    Explained in ``book/03_augmentation.ipynb``.

    Returns
    -------
    (N, H, W, 2) float32 ndarray
        Channel 0 = vessel, channel 1 = FOV, values 0 or 1.
    """
    return np.stack([split.vessels, split.fov], axis=-1).astype(np.float32)


def _pad_stack(split: data.Split, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    # Images are reflected as for prediction (the network sees plausible texture
    # at the border); targets are padded with 0, so the padding has FOV = 0 and
    # is never scored.
    images, _ = pad_to_multiple(np.asarray(split.images, np.float32), multiple)
    (top, bottom), (left, right) = pad_amounts(split.images.shape[1:3], multiple)
    targets = np.pad(stack_targets(split), ((0, 0), (top, bottom), (left, right), (0, 0)))
    return images, targets


def patch_margin(patch_size: int, *, rotation: float = 90, zoom: float = PATCH_ZOOM) -> int:
    """Extra border cut around a patch so augmentation never shows empty corners.

    Explained in ``book/03_augmentation.ipynb``.

    A patch corner lies ``patch_size / sqrt(2)`` from the centre. Rotated by
    up to 45 degrees and zoomed out by ``1 + zoom``, it is fetched from up to
    ``(1 + zoom) * patch_size / sqrt(2)`` away along an axis, so the crop that
    is augmented must reach that far; the extra pixel covers interpolation.

    Returns
    -------
    int
        Pixels added on each side before augmenting; the patch is then cut
        from the centre.

    Examples
    --------
    >>> patch_margin(64)
    24
    """
    patch_size = _positive_int("patch_margin", "patch_size", patch_size)
    angle = math.radians(min(abs(rotation), 45.0))
    reach = (1.0 + zoom) * (math.cos(angle) + math.sin(angle)) * patch_size / 2
    return max(0, math.ceil(reach - patch_size / 2)) + 1


def training_patches(
    split: data.Split,
    *,
    patch_size: int,
    batch_size: int,
    seed: int = 0,
    augment: bool = True,
    rotation: float = 90.0,
    zoom: float = PATCH_ZOOM,
    transpose: bool = False,
    start: int = 0,
) -> tf.data.Dataset:
    """Endless batches of random patches centred in the field of view.

    Explained in ``book/03_augmentation.ipynb``.

    Each batch draws ``batch_size`` FOV pixels uniformly from all FOV pixels
    of the split (so larger eyes give more patches) and cuts the patch
    centred on each, at native resolution. Images are zero-padded first, so
    patches near the border are complete; the padding has FOV = 0.

    With ``augment``, a larger crop (:func:`patch_margin` more on each side)
    is flipped, rotated and zoomed by
    :func:`retina_tutorial.augment.build_augmenter`, which computes only the
    patch at its centre, so the rotation never brings empty corners into the
    patch; intensity changes follow. The augmenter's shift is turned off
    here: the random crop position already is a random shift, and an extra
    one could move the patch centre out of the FOV.

    Parameters
    ----------
    split : retina_tutorial.data.Split
        Images and masks to sample from (normally ``dataset.train``).
    patch_size : int
        Side of the square patches, in pixels.
    batch_size : int
        Patches per batch.
    seed : int
        Same seed, same batches.
    augment : bool
        Apply the random geometric and photometric augmentation.
    rotation : float
        Largest rotation in degrees (the article's 90 by default; 0: none).
    zoom : float
        Largest zoom change (the article's 0.2 by default; 0: none).
    transpose : bool
        With ``augment``, also swap the rows and columns of half the patches
        (and their targets). With the flips this gives all eight symmetries of
        the square, quarter turns included, each of which moves pixels
        exactly.
    start : int
        Number of the first batch. Batch ``k`` depends only on ``seed`` and
        ``k``, so a resumed run passes the number of batches already trained
        on and gets the batches it would have had, without making the
        skipped ones (``Dataset.skip`` would make and discard them).

    Returns
    -------
    tf.data.Dataset
        Infinite; elements ``(images (B, P, P, 3) float32,
        targets (B, P, P, 2) float32)``.

    Raises
    ------
    ValueError
        If a size or the seed is invalid, or the split has no FOV pixel.
    """
    name = "training_patches"
    patch_size = _positive_int(name, "patch_size", patch_size)
    batch_size = _positive_int(name, "batch_size", batch_size)
    seed = _check_seed(name, seed)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"{name}: start must be a non-negative integer, got {start!r}.")
    _check_split(name, split)
    centres = np.argwhere(np.asarray(split.fov, bool)).astype(np.int32)
    if len(centres) == 0:
        raise ValueError(
            f"{name}: the split's FOV masks are empty, so no patch centre can be "
            "drawn. Check split.fov (True inside the eye)."
        )
    margin = patch_margin(patch_size, rotation=rotation, zoom=zoom) if augment else 0
    crop = patch_size + 2 * margin
    pad = margin + (patch_size + 1) // 2
    # One 5-channel array (RGB, vessel, FOV): one slice cuts all three.
    stack = np.concatenate([np.asarray(split.images, np.float32), stack_targets(split)], axis=-1)
    stack = tf.constant(np.pad(stack, ((0, 0), (pad, pad), (pad, pad), (0, 0))))
    centres = tf.constant(centres)
    count = tf.constant(len(centres), tf.int64)
    # Offset from a centre pixel to its crop's first row/column, in padded
    # coordinates: the centre lands on row/column patch_size // 2 of the patch.
    offset = pad - margin - patch_size // 2
    # Rotation and zoom read the larger crop; the augmenter computes only the
    # central patch of its output (cut), flips included, in one resampling.
    augmenter = (
        augmentation.build_augmenter(seed, rotation=rotation, shift=0.0, zoom=zoom, cut=margin)
        if augment
        else None
    )

    def make_batch(index):
        key = tf.stack([tf.constant(seed, tf.int64), index])
        pick_seed, augment_seed = tf.unstack(tf.random.experimental.stateless_split(key, 2))
        pick = tf.random.stateless_uniform(
            [batch_size], pick_seed, minval=0, maxval=count, dtype=tf.int64
        )
        corners = tf.gather(centres, pick) + tf.constant([0, offset, offset])
        # One slice per patch: cheaper than a gather over every pixel index.
        patches = tf.concat(
            [
                tf.slice(stack, [*tf.unstack(corners[i]), 0], [1, crop, crop, 5])
                for i in range(batch_size)
            ],
            axis=0,
        )
        images, targets = patches[..., :3], patches[..., 3:]
        if augmenter is not None:
            images, targets = augmenter(images, targets, seed=augment_seed)
            if transpose:
                images, targets = _transpose_half(images, targets, seed, index)
        return (
            tf.ensure_shape(images, [batch_size, patch_size, patch_size, 3]),
            tf.ensure_shape(targets, [batch_size, patch_size, patch_size, 2]),
        )

    dataset = tf.data.Dataset.counter(start=int(start), dtype=tf.int64)
    dataset = dataset.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _transpose_half(images, targets, seed, index):
    # Drawn from a stream of its own, so the patches and the other
    # augmentations are those of a run without transposes.
    key = tf.stack([tf.constant(seed + _TRANSPOSE_STREAM, tf.int64), index])
    chosen = tf.random.stateless_uniform([tf.shape(images)[0]], key) < 0.5
    chosen = chosen[:, None, None, None]
    return (
        tf.where(chosen, tf.transpose(images, [0, 2, 1, 3]), images),
        tf.where(chosen, tf.transpose(targets, [0, 2, 1, 3]), targets),
    )


def whole_images(
    split: data.Split,
    *,
    multiple: int,
    batch_size: int = 1,
    seed: int = 0,
    augment: bool = True,
) -> tf.data.Dataset:
    """Endless batches of whole images, the article's way of training.

    Explained in ``book/03_augmentation.ipynb``.

    Images are padded to a multiple of ``multiple`` (reflected image, zero
    targets), shuffled every pass, and augmented with the full
    :func:`retina_tutorial.augment.build_augmenter` (shifts included). The
    article resized to 512 x 512 instead; we keep the native grid.

    Parameters
    ----------
    split : retina_tutorial.data.Split
        Images and masks.
    multiple : int
        Both sides are padded up to a multiple of this (``2 ** depth``).
    batch_size : int
        Images per batch; passes run into each other, so every batch is full.
    seed : int
        Same seed, same batches.
    augment : bool
        Apply the random augmentation.

    Returns
    -------
    tf.data.Dataset
        Infinite; elements ``(images (B, H', W', 3) float32,
        targets (B, H', W', 2) float32)``.
    """
    name = "whole_images"
    multiple = _positive_int(name, "multiple", multiple)
    batch_size = _positive_int(name, "batch_size", batch_size)
    seed = _check_seed(name, seed)
    _check_split(name, split)
    images, targets = _pad_stack(split, multiple)
    dataset = tf.data.Dataset.from_tensor_slices((images, targets))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat().batch(batch_size, drop_remainder=True)
    if augment:
        augmenter = augmentation.build_augmenter(seed)

        def augment_batch(index, batch):
            key = tf.stack([tf.constant(seed, tf.int64), index])
            return augmenter(batch[0], batch[1], seed=key)

        dataset = dataset.enumerate().map(
            augment_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def validation_data(split: data.Split, *, multiple: int, batch_size: int = 1) -> tf.data.Dataset:
    """Whole images for validation: padded, not augmented, one per batch.

    Explained in ``book/03_augmentation.ipynb``.

    Parameters
    ----------
    split : retina_tutorial.data.Split
        Normally ``dataset.validation``.
    multiple : int
        Both sides are padded up to a multiple of this (``2 ** depth``):
        the image by reflection, the targets with 0, so the padding has
        FOV = 0 and does not count in validation metrics.
    batch_size : int
        Images per batch; 1 unless training runs on several replicas
        (``tf.distribute``): then pass the number of replicas, so that no
        replica gets an empty share of a batch (a BatchNormalization layer
        fails on one). If the images do not fill the last batch, it is
        completed with black filler images whose targets are all 0: FOV = 0,
        so the FOV-restricted losses and metrics ignore them.

    Returns
    -------
    tf.data.Dataset
        Finite, cached; ``ceil(len(split) / batch_size)`` elements
        ``(images (batch_size, H', W', 3) float32,
        targets (batch_size, H', W', 2) float32)``.
    """
    name = "validation_data"
    multiple = _positive_int(name, "multiple", multiple)
    batch_size = _positive_int(name, "batch_size", batch_size)
    _check_split(name, split)
    images, targets = _pad_stack(split, multiple)
    filler = -len(images) % batch_size
    if filler:
        images = np.concatenate([images, np.zeros((filler, *images.shape[1:]), np.float32)])
        targets = np.concatenate([targets, np.zeros((filler, *targets.shape[1:]), np.float32)])
    dataset = tf.data.Dataset.from_tensor_slices((images, targets)).batch(batch_size)
    return dataset.cache().prefetch(tf.data.AUTOTUNE)


#: Renamed in 0.7: the name said "split" for a function that stacks.
__getattr__ = deprecated.forwarder(__name__, {"split_targets": "pipeline.stack_targets"})
