"""Tests of retina_tutorial.augment: paired transforms, binary masks, seeds."""

import numpy as np
import pytest
import tensorflow as tf

from retina_tutorial import augment

SIZE = 32

# Each geometric transform alone, then all together.
TRANSFORMS = {
    "flip": dict(rotation=0, shift=0, zoom=0, flip=True),
    "rotation": dict(rotation=90, shift=0, zoom=0, flip=False),
    "zoom": dict(rotation=0, shift=0, zoom=0.2, flip=False),
    "shift": dict(rotation=0, shift=0.1, zoom=0, flip=False),
    "all": dict(),
    "all chained": dict(chained=True),
}


def seed_of(a, b=0):
    return tf.constant([a, b], tf.int64)


def asymmetric_targets(batch=4):
    """Vessel = an L-shaped blob off centre, FOV = a disc: no symmetry to hide errors."""
    vessel = np.zeros((SIZE, SIZE), np.float32)
    vessel[6:20, 8:12] = 1
    vessel[16:20, 12:24] = 1
    rows, cols = np.mgrid[:SIZE, :SIZE]
    fov = ((rows - 15.5) ** 2 + (cols - 15.5) ** 2 < 14**2).astype(np.float32)
    targets = np.stack([vessel, fov], axis=-1)
    return np.repeat(targets[None], batch, axis=0)


def image_copying(targets):
    """An image whose channels are the targets (and the vessel again)."""
    return np.concatenate([targets, targets[..., :1]], axis=-1)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_targets_move_exactly_with_image(name):
    # With nearest interpolation the image channels that started equal to the
    # targets must still equal them pixel for pixel.
    targets = asymmetric_targets(8)
    augmenter = augment.build_augmenter(
        0, photometric=False, interpolation="nearest", **TRANSFORMS[name]
    )
    images, moved = augmenter(image_copying(targets), targets, seed=seed_of(5))
    images, moved = images.numpy(), moved.numpy()
    np.testing.assert_array_equal(images[..., :2], moved)
    np.testing.assert_array_equal(images[..., 2], moved[..., 0])
    # The transform did something, so equality above is not trivial.
    assert not np.array_equal(moved, targets)


@pytest.mark.parametrize("name", ["rotation", "zoom", "shift", "all"])
def test_bilinear_image_keeps_mask_centroid(name):
    # One resampling: the nearest-neighbour mask stays within a pixel of the
    # bilinear image (chaining three layers exceeds this; see the module).
    targets = asymmetric_targets(8)
    augmenter = augment.build_augmenter(0, photometric=False, **TRANSFORMS[name])
    images, moved = augmenter(image_copying(targets), targets, seed=seed_of(9))
    rows, cols = np.mgrid[:SIZE, :SIZE]
    for image, mask in zip(images.numpy()[..., 0], moved.numpy()[..., 0]):
        assert mask.sum() > 20  # the blob is still in view
        for grid in (rows, cols):
            from_image = (grid * image).sum() / image.sum()
            from_mask = (grid * mask).sum() / mask.sum()
            assert abs(from_image - from_mask) < 1.0


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("photometric", [False, True])
def test_masks_stay_binary(name, photometric):
    targets = asymmetric_targets(8)
    augmenter = augment.build_augmenter(3, photometric=photometric, **TRANSFORMS[name])
    images, moved = augmenter(image_copying(targets) * 0.5 + 0.25, targets, seed=seed_of(2))
    assert augment.count_non_binary(moved) == 0
    assert set(np.unique(moved.numpy())) <= {0.0, 1.0}
    assert moved.dtype == tf.float32 and images.dtype == tf.float32
    assert images.shape == (8, SIZE, SIZE, 3) and moved.shape == (8, SIZE, SIZE, 2)


def test_uncovered_area_is_zero_in_image_and_fov():
    ones = np.ones((8, SIZE, SIZE, 3), np.float32)
    augmenter = augment.build_augmenter(0, shift=0, zoom=0, flip=False, photometric=False)
    images, targets = augmenter(ones, ones[..., :2], seed=seed_of(1))
    outside = targets.numpy()[..., 1] == 0
    assert outside.any()  # a rotation leaves empty corners
    # Bilinear mixes 1 and 0 along the edge; away from it the fill is 0.
    assert np.median(images.numpy()[..., 0][outside]) == 0.0


def test_photometric_changes_image_only():
    targets = asymmetric_targets(8)
    images = np.full((8, SIZE, SIZE, 3), 0.5, np.float32)
    augmenter = augment.build_augmenter(0, rotation=0, shift=0, zoom=0, flip=False)
    changed, same = augmenter(images, targets, seed=seed_of(4))
    np.testing.assert_array_equal(same.numpy(), targets)
    assert not np.allclose(changed.numpy(), images)
    assert changed.numpy().min() >= 0.0 and changed.numpy().max() <= 1.0


def test_flips_include_mirror_images():
    # One RandomFlip("horizontal_and_vertical") only ever rotates by 180
    # degrees; the augmenter must also produce left-right mirror images.
    targets = asymmetric_targets(32)
    augmenter = augment.build_augmenter(0, rotation=0, shift=0, zoom=0, photometric=False)
    _, moved = augmenter(image_copying(targets), targets, seed=seed_of(0))
    original = targets[0]
    seen = set()
    for mask in moved.numpy():
        for label, candidate in (
            ("none", original),
            ("left-right", original[:, ::-1]),
            ("up-down", original[::-1]),
            ("both", original[::-1, ::-1]),
        ):
            if np.array_equal(mask, candidate):
                seen.add(label)
    assert seen == {"none", "left-right", "up-down", "both"}


def test_same_seed_same_output_different_seed_different():
    targets = asymmetric_targets(4)
    images = image_copying(targets)
    augmenter = augment.build_augmenter(0)
    first = augmenter(images, targets, seed=seed_of(7))
    again = augmenter(images, targets, seed=seed_of(7))
    other = augmenter(images, targets, seed=seed_of(8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first[1].numpy(), other[1].numpy())


def test_augmenter_seed_repeats_its_sequence_of_calls():
    targets = asymmetric_targets(4)
    images = image_copying(targets)
    runs = []
    for seed in (11, 11, 12):
        augmenter = augment.build_augmenter(seed)
        runs.append([augmenter(images, targets)[1].numpy() for _ in range(2)])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[0][1])  # successive calls differ
    assert not np.array_equal(runs[0][0], runs[2][0])  # another seed differs


def test_deterministic_inside_parallel_tf_data_map():
    targets = asymmetric_targets(2)
    images = image_copying(targets)
    augmenter = augment.build_augmenter(0)

    def run():
        dataset = tf.data.Dataset.from_tensors((images, targets)).repeat(6).enumerate()

        def apply(index, pair):
            return augmenter(pair[0], pair[1], seed=tf.stack([tf.constant(0, tf.int64), index]))

        dataset = dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
        return np.stack([t.numpy() for _, t in dataset])

    first, second = run(), run()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(rotation=-1), "rotation"),
        (dict(rotation=181), "rotation"),
        (dict(shift=1.0), "shift"),
        (dict(shift=-0.1), "shift"),
        (dict(zoom=1.0), "zoom"),
        (dict(interpolation="cubic"), "interpolation"),
        (dict(seed=1.5), "seed"),
    ],
)
def test_invalid_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        augment.build_augmenter(**kwargs)


def test_unbatched_input_is_refused():
    augmenter = augment.build_augmenter(0)
    with pytest.raises(ValueError, match="batch axis"):
        augmenter(np.zeros((SIZE, SIZE, 3)), np.zeros((SIZE, SIZE, 2)))


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0.0, 1.0, 1.0, 0.0], 0),
        ([0.0, 0.5, 1e-7, 0.9999, 1.0], 3),
        ([], 0),
    ],
)
def test_count_non_binary(values, expected):
    assert augment.count_non_binary(np.array(values)) == expected


def test_count_non_binary_refuses_8_bit_masks():
    with pytest.raises(ValueError, match="255"):
        augment.count_non_binary(np.array([0.0, 255.0]))


def test_article_generators_keep_step_but_blur_masks():
    targets = asymmetric_targets(4)
    images = image_copying(targets)  # channel 0 = the vessel mask
    generator = augment.article_generator_pair(images, targets[..., 0], batch_size=2, seed=1)
    first_images, first_masks = next(generator)
    assert first_images.shape == (2, SIZE, SIZE, 3) and first_masks.shape == (2, SIZE, SIZE, 1)
    assert first_images.dtype == np.float32 and first_masks.dtype == np.float32
    # Same seed for both flows: the mask follows its image ...
    np.testing.assert_allclose(first_images[..., 0], first_masks[..., 0], atol=1e-5)
    # ... but bilinear interpolation leaves it non-binary, in [0, 1].
    assert augment.count_non_binary(first_masks) > 0
    # Same seed, same batches.
    repeat_images, repeat_masks = next(
        augment.article_generator_pair(images, targets[..., 0], batch_size=2, seed=1)
    )
    np.testing.assert_array_equal(first_masks, repeat_masks)
    np.testing.assert_array_equal(first_images, repeat_images)


def test_keras_augmenter_keeps_what_article_blurs():
    targets = asymmetric_targets(4)
    augmenter = augment.build_augmenter(1)
    _, moved = augmenter(image_copying(targets), targets, seed=seed_of(1))
    assert augment.count_non_binary(moved) == 0


def test_article_generator_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        augment.article_generator_pair(
            np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 9)), batch_size=1, seed=0
        )


def test_random_affine_works_as_a_plain_keras_layer():
    targets = asymmetric_targets(4)
    layer = augment.RandomAffine(
        90, 0.2, 0.1, seed=3, fill_mode="constant", interpolation="nearest"
    )
    out = layer({"images": image_copying(targets), "segmentation_masks": targets})
    moved = out["segmentation_masks"].numpy()
    np.testing.assert_array_equal(out["images"].numpy()[..., :2], moved)
    assert augment.count_non_binary(moved) == 0
    assert not np.array_equal(moved, targets)
    clone = augment.RandomAffine.from_config(layer.get_config())
    assert (clone.rotation, clone.zoom, clone.shift) == (90.0, 0.2, 0.1)


@pytest.mark.parametrize("name", ["flip", "rotation", "all"])
def test_cut_computes_the_centre_of_the_full_output(name):
    targets = asymmetric_targets(8)
    images = image_copying(targets)
    settings = dict(photometric=False, **TRANSFORMS[name])
    full = augment.build_augmenter(0, **settings)(images, targets, seed=seed_of(6))
    cut = augment.build_augmenter(0, cut=5, **settings)(images, targets, seed=seed_of(6))
    assert cut[0].shape == (8, SIZE - 10, SIZE - 10, 3)
    assert cut[1].shape == (8, SIZE - 10, SIZE - 10, 2)
    centre = (slice(None), slice(5, SIZE - 5), slice(5, SIZE - 5))
    np.testing.assert_allclose(cut[0].numpy(), full[0].numpy()[centre], atol=1e-4)
    # Nearest neighbour may round a pixel lying exactly half-way differently.
    assert np.mean(cut[1].numpy() != full[1].numpy()[centre]) < 0.002


@pytest.mark.parametrize("kwargs", [dict(cut=-1), dict(cut=2, chained=True)])
def test_bad_cut_is_refused(kwargs):
    with pytest.raises(ValueError, match="cut"):
        augment.build_augmenter(**kwargs)


def test_photometric_draws_repeat_and_stay_in_range():
    images = tf.random.stateless_uniform((6, 8, 8, 3), seed=(1, 2))
    first = augment.random_photometric(images, seed_of(3)).numpy()
    np.testing.assert_array_equal(first, augment.random_photometric(images, seed_of(3)).numpy())
    assert not np.array_equal(first, augment.random_photometric(images, seed_of(4)).numpy())
    assert first.min() >= 0.0 and first.max() <= 1.0
    # One draw per image: images differ in how they change.
    change = (first - images.numpy()).mean(axis=(1, 2, 3))
    assert np.ptp(change) > 1e-3
