"""Tests of retina_tutorial.pipeline on tiny hand-made splits."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from retina_tutorial import data, inference, pipeline

HEIGHT, WIDTH = 40, 46


def coded_split(fov=None, shape=(HEIGHT, WIDTH), count=3, seed=0):
    """Images whose pixels say where they come from.

    Channel 0 = row / 100, channel 1 = column / 100, channel 2 = (image + 1) / 10,
    so a patch pixel can be traced back to its source; zero padding reads as
    image 0 and is told apart by channel 2.
    """
    height, width = shape
    rows, cols = np.mgrid[:height, :width]
    images = np.stack(
        [
            np.stack([rows / 100, cols / 100, np.full(shape, (n + 1) / 10)], axis=-1)
            for n in range(count)
        ]
    ).astype(np.float32)
    vessels = np.random.default_rng(seed).random((count, height, width)) > 0.7
    if fov is None:
        fov = np.zeros((count, height, width), bool)
        fov[0, 1:5, 40:44] = True  # a small square at the border
        fov[1, 15:21, 20:26] = True  # a small square inside
        # image 2 has no FOV at all: it must never be sampled
    ids = tuple(str(n) for n in range(count))
    return data.Split(images, vessels, fov, ids)


def decode(pixel):
    """(image, row, column) of a coded source pixel."""
    return round(pixel[2] * 10) - 1, round(pixel[0] * 100), round(pixel[1] * 100)


def take(dataset, count):
    return [(x.numpy(), y.numpy()) for x, y in itertools.islice(dataset, count)]


@pytest.mark.parametrize("augment", [False, True])
def test_patch_shapes_dtypes_and_binary_targets(augment):
    dataset = pipeline.training_patches(
        coded_split(), patch_size=12, batch_size=5, seed=0, augment=augment
    )
    assert dataset.cardinality() == tf.data.INFINITE_CARDINALITY
    assert dataset.element_spec[0].shape == (5, 12, 12, 3)
    assert dataset.element_spec[1].shape == (5, 12, 12, 2)
    for images, targets in take(dataset, 3):
        assert images.shape == (5, 12, 12, 3) and images.dtype == np.float32
        assert targets.shape == (5, 12, 12, 2) and targets.dtype == np.float32
        assert set(np.unique(targets)) <= {0.0, 1.0}
        assert images.min() >= 0.0 and images.max() <= 1.0


@pytest.mark.parametrize("patch_size", [8, 11])
def test_unaugmented_patches_are_crops_centred_in_the_fov(patch_size):
    split = coded_split()
    pad = patch_size
    padded_images = np.pad(split.images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    padded_targets = np.pad(pipeline.stack_targets(split), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dataset = pipeline.training_patches(
        split, patch_size=patch_size, batch_size=8, seed=3, augment=False
    )
    centres = set()
    centre = patch_size // 2
    for images, targets in take(dataset, 4):
        for image, target in zip(images, targets):
            n, row, col = decode(image[centre, centre])
            assert split.fov[n, row, col], "patch centre outside the FOV"
            assert target[centre, centre, 1] == 1.0
            centres.add((n, row, col))
            top, left = row - centre + pad, col - centre + pad
            window = (n, slice(top, top + patch_size), slice(left, left + patch_size))
            np.testing.assert_array_equal(image, padded_images[window])
            np.testing.assert_array_equal(target, padded_targets[window])
    assert {n for n, _, _ in centres} == {0, 1}  # both eyes sampled, image 2 never
    assert len(centres) > 10  # random positions, not one


def test_augmented_patch_centres_stay_in_the_fov():
    dataset = pipeline.training_patches(coded_split(), patch_size=12, batch_size=8, seed=1)
    for _, targets in take(dataset, 4):
        # Rotation about the crop's middle and flips move the centre pixel by
        # at most one pixel.
        assert targets[:, 5:8, 5:8, 1].max(axis=(1, 2)).min() == 1.0


def test_augmented_patches_have_no_empty_corners():
    # Vessel = 1 everywhere and the FOV far from the border: any pixel the
    # rotation or zoom brought in from outside the larger crop would be 0.
    shape = (120, 120)
    fov = np.zeros((1, *shape), bool)
    fov[0, 50:70, 50:70] = True
    split = data.Split(
        np.full((1, *shape, 3), 0.5, np.float32), np.ones((1, *shape), bool), fov, ("a",)
    )
    dataset = pipeline.training_patches(split, patch_size=16, batch_size=16, seed=0)
    for _, targets in take(dataset, 3):
        assert targets[..., 0].min() == 1.0


@pytest.mark.parametrize(
    "patch_size, margin",
    [(64, 24), (96, 35), (16, 7)],
)
def test_patch_margin(patch_size, margin):
    assert pipeline.patch_margin(patch_size) == margin
    assert pipeline.patch_margin(patch_size, rotation=0, zoom=0) == 1


def test_patches_repeat_for_a_seed_and_differ_between_seeds():
    split = coded_split()

    def batches(seed):
        dataset = pipeline.training_patches(split, patch_size=12, batch_size=4, seed=seed)
        return np.stack([x for x, _ in take(dataset, 3)])

    first = batches(0)
    np.testing.assert_array_equal(first, batches(0))
    assert not np.array_equal(first, batches(1))
    assert not np.array_equal(first[0], first[1])


def test_start_gives_the_batches_a_longer_run_would_have_had():
    split = coded_split()
    full = take(pipeline.training_patches(split, patch_size=12, batch_size=4, seed=5), 3)
    resumed = take(
        pipeline.training_patches(split, patch_size=12, batch_size=4, seed=5, start=2), 1
    )
    np.testing.assert_array_equal(resumed[0][0], full[2][0])
    np.testing.assert_array_equal(resumed[0][1], full[2][1])


def test_iterating_a_pipeline_again_repeats_it():
    dataset = pipeline.training_patches(coded_split(), patch_size=12, batch_size=4, seed=2)
    np.testing.assert_array_equal(take(dataset, 2)[1][0], take(dataset, 2)[1][0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(patch_size=0, batch_size=4), "patch_size"),
        (dict(patch_size=8, batch_size=-1), "batch_size"),
        (dict(patch_size=8.0, batch_size=4), "patch_size"),
        (dict(patch_size=8, batch_size=4, seed=-1), "seed"),
        (dict(patch_size=8, batch_size=4, start=-1), "start"),
    ],
)
def test_training_patches_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipeline.training_patches(coded_split(), **kwargs)


def test_training_patches_refuses_an_empty_fov():
    split = coded_split(fov=np.zeros((3, HEIGHT, WIDTH), bool))
    with pytest.raises(ValueError, match="FOV"):
        pipeline.training_patches(split, patch_size=8, batch_size=2)


@pytest.mark.parametrize(
    "shape, multiple, expected",
    [
        ((584, 565), 16, ((4, 4), (5, 6))),
        ((64, 48), 16, ((0, 0), (0, 0))),
        ((40, 46, 3), 8, ((0, 0), (1, 1))),
        ((5, 5), 1, ((0, 0), (0, 0))),
    ],
)
def test_pad_amounts(shape, multiple, expected):
    assert pipeline.pad_amounts(shape, multiple) == expected


def test_pad_amounts_refuses_zero_multiple():
    with pytest.raises(ValueError, match="multiple"):
        pipeline.pad_amounts((10, 10), 0)


def test_validation_data_pads_images_by_reflection_and_targets_with_zero():
    split = coded_split(fov=np.ones((3, HEIGHT, WIDTH), bool))
    elements = take(pipeline.validation_data(split, multiple=16), 10)
    assert len(elements) == 3
    (top, bottom), (left, right) = pipeline.pad_amounts((HEIGHT, WIDTH), 16)
    assert (top, bottom, left, right) == (4, 4, 1, 1)
    for n, (image, target) in enumerate(elements):
        assert image.shape == (1, 48, 48, 3) and target.shape == (1, 48, 48, 2)
        inside = (0, slice(top, top + HEIGHT), slice(left, left + WIDTH))
        np.testing.assert_array_equal(image[inside], split.images[n])
        np.testing.assert_array_equal(target[inside][..., 0], split.vessels[n])
        # Reflection: the row above the image mirrors its second row.
        np.testing.assert_array_equal(image[0, top - 1, left:-right], split.images[n, 1])
        fov = target[0, ..., 1]
        assert fov.sum() == HEIGHT * WIDTH  # FOV only where the image is
        assert target[0][fov == 0].max() == 0.0  # vessel 0 in the padding too
    # Same padding as inference uses, so validation sees what prediction sees.
    padded, _ = inference.pad_to_multiple(split.images, 16)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in elements]), padded)


@pytest.mark.parametrize(
    "batch_size, batches, fillers", [(1, 3, 0), (2, 2, 1), (3, 1, 0), (4, 1, 1)]
)
def test_validation_batches_are_full_and_filler_has_no_fov(batch_size, batches, fillers):
    # batch_size is the number of replicas when train.train runs on several.
    split = coded_split(fov=np.ones((3, HEIGHT, WIDTH), bool))
    dataset = pipeline.validation_data(split, multiple=8, batch_size=batch_size)
    assert int(dataset.cardinality()) == batches  # Keras needs the count of batches
    elements = take(dataset, 10)
    assert len(elements) == batches
    images = np.concatenate([x for x, _ in elements])
    targets = np.concatenate([y for _, y in elements])
    assert all(x.shape[0] == batch_size for x, _ in elements)
    assert len(images) == 3 + fillers
    np.testing.assert_array_equal(images[:3], inference.pad_to_multiple(split.images, 8)[0])
    np.testing.assert_array_equal(images[3:], 0.0)
    np.testing.assert_array_equal(targets[3:], 0.0)  # FOV = 0: never scored
    assert targets[:3, ..., 1].sum() == 3 * HEIGHT * WIDTH


def test_whole_images_are_padded_augmented_and_repeatable():
    split = coded_split()

    def batches(seed, augment=True):
        dataset = pipeline.whole_images(
            split, multiple=16, batch_size=2, seed=seed, augment=augment
        )
        return take(dataset, 4)  # more batches than images: it repeats

    first = batches(0)
    for images, targets in first:
        assert images.shape == (2, 48, 48, 3) and targets.shape == (2, 48, 48, 2)
        assert set(np.unique(targets)) <= {0.0, 1.0}
    for (x1, y1), (x2, y2) in zip(first, batches(0)):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(first[0][0], batches(1)[0][0])
    # Without augmentation every image is one of the padded originals.
    padded, _ = inference.pad_to_multiple(split.images, 16)
    for images, _ in batches(0, augment=False):
        for image in images:
            assert any(np.array_equal(image, original) for original in padded)


def test_flips_only_move_target_pixels_exactly():
    # rotation=0, zoom=0 (the full profile): the augmented patch is the plain
    # patch at the same centre, mirrored, with no pixel resampled.
    split = coded_split(fov=np.ones((3, HEIGHT, WIDTH), bool))
    options = dict(patch_size=12, batch_size=8, seed=4)
    plain = take(pipeline.training_patches(split, augment=False, **options), 2)
    flipped = take(pipeline.training_patches(split, rotation=0.0, zoom=0.0, **options), 2)
    mirrors = (lambda t: t, lambda t: t[:, ::-1], lambda t: t[::-1], lambda t: t[::-1, ::-1])
    seen = set()
    for (_, plain_targets), (_, flipped_targets) in zip(plain, flipped):
        for original, augmented in zip(plain_targets, flipped_targets):
            matches = [
                i for i, mirror in enumerate(mirrors) if np.array_equal(mirror(original), augmented)
            ]
            assert matches, "an augmented patch is not an exact mirror image of its source"
            seen.update(matches)
    assert len(seen) > 1, "16 patches and never a flip: the augmentation did nothing"


def test_transposes_add_the_other_four_symmetries_and_change_nothing_else():
    split = coded_split(fov=np.ones((3, HEIGHT, WIDTH), bool))
    options = dict(patch_size=12, batch_size=8, seed=4, rotation=0.0, zoom=0.0)
    flipped = take(pipeline.training_patches(split, **options), 3)
    turned = take(pipeline.training_patches(split, transpose=True, **options), 3)
    kept = swapped = 0
    for (flip_images, flip_targets), (images, targets) in zip(flipped, turned):
        for pair in zip(flip_images, flip_targets, images, targets):
            flip_image, flip_target, image, target = pair
            if np.array_equal(image, flip_image) and np.array_equal(target, flip_target):
                kept += 1
            else:
                # The same draw as without transposes, rows and columns swapped.
                np.testing.assert_array_equal(image, flip_image.transpose(1, 0, 2))
                np.testing.assert_array_equal(target, flip_target.transpose(1, 0, 2))
                swapped += 1
    assert kept and swapped, f"{kept} kept and {swapped} transposed of 24: not a coin toss"
