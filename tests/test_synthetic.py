"""Synthetic fundus set: DRIVE's contract, determinism, and a DRIVE-like look.

The seed-0 set comes from the session fixture ``synthetic_dataset`` (made once
for all test files); single images are drawn with ``make_fundus`` directly.
"""

import dataclasses

import numpy as np
import pytest

from retina_tutorial import config, data, synthetic

TRAIN_IDS = tuple(i for i in data.TRAINING_IDS if i not in data.VALIDATION_IDS)


def _splits(dataset):
    return (dataset.train, dataset.validation, dataset.test)


def _run_lengths(mask):
    """Length of the horizontal run of True pixels through each pixel (0 off it)."""
    flat = mask.ravel()
    left = np.zeros_like(mask)
    left[:, 1:] = mask[:, :-1]
    # A run starts where a pixel is on and its left neighbour (or the row's
    # edge) is off, so runs never continue from one row into the next.
    run = np.cumsum((mask & ~left).ravel()) * flat
    lengths = np.bincount(run)[run]
    lengths[~flat] = 0
    return lengths.reshape(mask.shape)


def _local_width(mask):
    """Shortest of the horizontal and vertical runs through each pixel."""
    return np.minimum(_run_lengths(mask), _run_lengths(mask.T).T)


def _f1(first, second, fov):
    first, second = first & fov, second & fov
    return 2 * np.sum(first & second) / (np.sum(first) + np.sum(second))


def test_run_lengths_on_known_shapes():
    mask = np.zeros((6, 8), bool)
    mask[1, 1:7] = True  # a horizontal line, 1 pixel wide
    mask[3:6, 2:5] = True  # a 3 x 3 block
    mask[0, 7] = mask[1, 0] = True  # row ends: must not join across rows
    runs = _run_lengths(mask)
    assert runs[1, 1:7].tolist() == [7] * 6  # (1, 0) joins the line: 7 long
    assert runs[0, 7] == 1 and runs[4, 3] == 3 and runs[2, 3] == 0
    width = _local_width(mask)
    assert width[1, 3] == 1 and width[4, 3] == 3


def test_dataset_has_drives_splits_and_ids(synthetic_dataset):
    assert synthetic_dataset.source == "synthetic" and synthetic_dataset.is_synthetic
    # The fixture is data.load_dataset(synthetic=True): its description says
    # why the synthetic set is in use, which depends on whether DRIVE is set.
    reason = (
        "DRIVE not configured" if config.data_location() is None else "asked for instead of DRIVE"
    )
    assert synthetic_dataset.description == f"synthetic fundus set (seed 0; {reason})"
    assert tuple(len(s) for s in _splits(synthetic_dataset)) == (17, 3, 20)
    assert synthetic_dataset.train.ids == TRAIN_IDS
    assert synthetic_dataset.validation.ids == data.VALIDATION_IDS
    assert synthetic_dataset.test.ids == data.TEST_IDS
    assert synthetic_dataset.train.vessels_2nd is None
    assert synthetic_dataset.validation.vessels_2nd is None


def test_arrays_have_drives_shapes_dtypes_and_ranges(synthetic_dataset):
    for split in _splits(synthetic_dataset):
        n = len(split)
        assert split.images.shape == (n, *data.IMAGE_SHAPE, 3)
        assert split.images.dtype == np.float32
        assert split.vessels.shape == split.fov.shape == (n, *data.IMAGE_SHAPE)
        assert split.vessels.dtype == bool and split.fov.dtype == bool
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        # 8-bit levels, as read_rgb gives for DRIVE's .tif files.
        levels = split.images[:2] * 255
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    second = synthetic_dataset.test.vessels_2nd
    assert second.shape == (20, *data.IMAGE_SHAPE) and second.dtype == bool


def test_same_seed_same_image_and_the_set_is_seeded_per_id(synthetic_dataset):
    image, vessels, second, fov = synthetic.make_fundus((0, 21))
    again = synthetic.make_fundus((0, 21))
    for a, b in zip((image, vessels, second, fov), again):
        np.testing.assert_array_equal(a, b)
    # Image "21" of the seed-0 set is make_fundus((0, 21)).
    np.testing.assert_array_equal(synthetic_dataset.train.images[0], image)
    np.testing.assert_array_equal(synthetic_dataset.train.vessels[0], vessels)
    np.testing.assert_array_equal(synthetic_dataset.train.fov[0], fov)


def test_images_of_a_set_differ(synthetic_dataset):
    test = synthetic_dataset.test
    assert not np.array_equal(test.images[0], test.images[1])
    assert not np.array_equal(test.vessels[0], test.vessels[1])


def test_other_seed_gives_another_set(synthetic_dataset):
    # Its speed is measured in benchmarks/, not timed here on a shared machine.
    other = synthetic.make_dataset(seed=1)
    assert other.description == "synthetic fundus set (seed 1; DRIVE not configured)"
    assert other.test.ids == data.TEST_IDS
    for mine, theirs in zip(_splits(synthetic_dataset), _splits(other)):
        assert not np.array_equal(mine.images[0], theirs.images[0])
        assert not np.array_equal(mine.vessels[0], theirs.vessels[0])
    np.testing.assert_array_equal(other.test.vessels[4], synthetic.make_fundus((1, 5))[1])


def test_field_of_view_is_a_centred_disc_on_black(synthetic_dataset):
    test = synthetic_dataset.test
    for image, fov in zip(test.images[:5], test.fov[:5]):
        rows, columns = np.nonzero(fov)
        assert 520 <= columns.max() - columns.min() + 1 <= 560
        assert 520 <= rows.max() - rows.min() + 1 <= 560
        assert abs(rows.mean() - 292) < 15 and abs(columns.mean() - 282) < 15
        # A disc fills pi/4 of its bounding box.
        box = (rows.max() - rows.min() + 1) * (columns.max() - columns.min() + 1)
        assert fov.sum() / box == pytest.approx(np.pi / 4, abs=0.01)
        assert image[~fov].mean() < 0.06
        red, green, blue = (image[fov][:, c].mean() for c in range(3))
        assert red > green > blue > 0.1


def test_vessels_lie_inside_the_fov(synthetic_dataset):
    for split in _splits(synthetic_dataset):
        assert not (split.vessels & ~split.fov).any()
        assert split.vessels.any(axis=(1, 2)).all()
    test = synthetic_dataset.test
    assert not (test.vessels_2nd & ~test.fov).any()


def test_vessel_fraction_is_drive_like(synthetic_dataset):
    splits = _splits(synthetic_dataset)
    vessels = np.concatenate([s.vessels for s in splits])
    fov = np.concatenate([s.fov for s in splits])
    pooled = vessels[fov].mean()
    assert 0.10 <= pooled <= 0.14  # DRIVE: about 0.127
    per_image = [v[f].mean() for v, f in zip(vessels, fov)]
    assert 0.07 <= min(per_image) and max(per_image) <= 0.18


def test_vessels_are_darkest_in_green(synthetic_dataset):
    test = synthetic_dataset.test
    contrast = []
    for channel in range(3):
        plane = test.images[..., channel]
        on_vessels = plane[test.vessels].mean()
        background = plane[test.fov & ~test.vessels].mean()
        contrast.append((background - on_vessels) / background)
    assert all(c > 0 for c in contrast)
    assert contrast[1] > contrast[0] and contrast[1] > contrast[2]
    # And in every single image.
    for image, vessels, fov in zip(test.images, test.vessels, test.fov):
        assert image[..., 1][vessels].mean() < image[..., 1][fov & ~vessels].mean()


def test_thin_and_thick_vessels_are_both_present(synthetic_dataset):
    for vessels in synthetic_dataset.test.vessels[:4]:
        width = _local_width(vessels)[vessels]
        # DRIVE's 1st manual: about 18% of vessel pixels are 1-2 pixels wide.
        assert 0.1 <= np.mean(width <= 2) <= 0.4
        assert np.mean(width == 1) > 0.02
        assert np.mean(width >= 6) > 0.02  # trunks near the disc


def test_optic_disc_is_off_centre_on_either_side(synthetic_dataset):
    sides = []
    for image, fov in zip(synthetic_dataset.test.images, synthetic_dataset.test.fov):
        blue = np.where(fov, image[..., 2], 0)
        _rows, columns = np.nonzero(blue >= np.quantile(blue[fov], 0.995))
        offset = columns.mean() - np.nonzero(fov)[1].mean()
        assert abs(offset) > 150
        sides.append(np.sign(offset))
    assert {-1, 1} <= set(sides)  # left and right eyes


def test_second_observer_agrees_mostly_but_not_fully(synthetic_dataset):
    test = synthetic_dataset.test
    pooled = _f1(test.vessels, test.vessels_2nd, test.fov)
    assert 0.7 <= pooled <= 0.9
    for first, second, fov in zip(test.vessels, test.vessels_2nd, test.fov):
        assert 0.6 <= _f1(first, second, fov) <= 0.95


def test_load_dataset_synthetic_prints_the_data_line(synthetic_dataset, monkeypatch, capsys):
    seeds = []

    def make_dataset(seed=0, reason="DRIVE not configured"):
        seeds.append(seed)
        return dataclasses.replace(
            synthetic_dataset, description=f"synthetic fundus set (seed {seed}; {reason})"
        )

    monkeypatch.setattr(synthetic, "make_dataset", make_dataset)
    # synthetic=True wins even when a DRIVE location is configured.
    monkeypatch.setenv(config.DATA_VARIABLE, "/nowhere/DRIVE")
    assert data.load_dataset(synthetic=True).train is synthetic_dataset.train
    assert seeds == [0]
    assert capsys.readouterr().out == (
        "Data: synthetic fundus set (seed 0; asked for instead of DRIVE)\n"
    )
    data.load_dataset(synthetic=True, seed=3, verbose=False)
    assert seeds == [0, 3] and capsys.readouterr().out == ""


@pytest.mark.parametrize("shape", [(64, 64), (128, 96), (200, 300)])
def test_other_shapes_scale_the_drawing(shape):
    image, vessels, second, fov = synthetic.make_fundus(7, shape=shape)
    assert image.shape == (*shape, 3) and image.dtype == np.float32
    assert vessels.shape == second.shape == fov.shape == shape
    assert not (vessels & ~fov).any() and vessels.any()
    disc_area = np.pi / 4 * (0.95 * min(shape)) ** 2
    assert fov.sum() == pytest.approx(disc_area, rel=0.06)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, (0, -2), (), None])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        synthetic.make_fundus(seed, shape=(64, 64))


@pytest.mark.parametrize("seed", [-1, 2.0, "0", None])
def test_bad_dataset_seed_is_refused_before_any_drawing(seed):
    with pytest.raises(ValueError, match="seed"):
        synthetic.make_dataset(seed)


@pytest.mark.parametrize("shape", [(32, 64), (64,), "big", (64, 64, 3), None])
def test_bad_shape_is_refused(shape):
    with pytest.raises(ValueError, match="shape"):
        synthetic.make_fundus(0, shape=shape)


def test_forced_synthetic_data_does_not_claim_drive_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_VARIABLE, str(tmp_path))
    dataset = data.load_dataset(synthetic=True, verbose=False)
    assert dataset.is_synthetic
    assert dataset.description == "synthetic fundus set (seed 0; asked for instead of DRIVE)"
