"""Image scale: the FOV diameter, pixels per degree, the resize factor and its limits."""

import numpy as np
import pytest

from retina_tutorial import scale


def disc(shape, diameter, centre=None):
    """A FOV mask: a disc of the given diameter (pixels), cut by the frame where it leaves it."""
    rows, cols = np.indices(shape)
    cy, cx = centre if centre is not None else ((shape[0] - 1) / 2, (shape[1] - 1) / 2)
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= (diameter / 2) ** 2


@pytest.mark.parametrize("diameter", [61, 200, 539, 1201])
def test_a_full_circle_measures_its_diameter(diameter):
    mask = disc((diameter + 40, diameter + 60), diameter)
    assert scale.fov_diameter(mask) == pytest.approx(diameter, abs=2)


@pytest.mark.parametrize("kept_share", [0.9, 0.75, 0.6])
def test_a_circle_cut_at_top_and_bottom_measures_its_width(kept_share):
    # Many cameras cut the circle at the top and bottom: the area would
    # underestimate the diameter, the width does not.
    diameter = 800
    height = int(diameter * kept_share)
    mask = disc((height, diameter + 50), diameter)
    area_diameter = 2 * np.sqrt(mask.sum() / np.pi)
    assert area_diameter < 0.99 * diameter
    assert scale.fov_diameter(mask) == pytest.approx(diameter, abs=2)


def test_a_portrait_photograph_measures_its_height():
    mask = disc((900, 600), 850)  # cut at left and right
    assert scale.fov_diameter(mask) == pytest.approx(850, abs=2)


def test_a_speck_beside_the_circle_does_not_widen_it():
    mask = disc((600, 700), 500)
    mask[300:303, 690:693] = True
    assert scale.fov_diameter(mask) == pytest.approx(500, abs=2)


def test_drives_scale_is_twelve_pixels_per_degree():
    assert scale.DRIVE.pixels_per_degree == pytest.approx(539 / 45)
    assert scale.Scale.from_dict(scale.DRIVE.to_dict()) == scale.DRIVE


def test_the_factor_matches_pixels_per_degree_not_only_the_diameter():
    # CHASE_DB1's camera has a 30° field: the same FOV width in pixels means
    # 1.5x as many pixels per degree as DRIVE's 45°.
    chase_like = scale.Scale(539.0, 30.0)
    assert scale.resize_factor(chase_like, scale.DRIVE) == pytest.approx(30 / 45)
    four_times = scale.Scale(4 * 539.0, 45.0)
    assert scale.resize_factor(four_times, scale.DRIVE) == pytest.approx(0.25)


@pytest.mark.parametrize("diameter", [515.0, 535.0, 539.0, 541.0, 565.0])
def test_a_factor_within_five_percent_of_one_is_one(diameter):
    assert scale.resize_factor(scale.Scale(diameter), scale.DRIVE) == 1.0


def test_a_factor_just_outside_the_tolerance_is_kept():
    assert scale.resize_factor(scale.Scale(500.0), scale.DRIVE) == pytest.approx(539 / 500)


def test_a_tiny_fov_is_refused_with_what_was_measured_and_what_to_do():
    with pytest.raises(ValueError, match="would need enlarging") as error:
        scale.resize_factor(scale.Scale(100.0), scale.DRIVE)
    message = str(error.value)
    assert "FOV 100 px wide at 45°" in message and "5.4x" in message
    assert "--fov-diameter" in message and "--native-size" in message


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "540", None, True])
def test_a_diameter_that_is_not_a_positive_number_is_refused(bad):
    with pytest.raises(ValueError, match="FOV diameter must be a positive number of pixels"):
        scale.Scale(bad)


@pytest.mark.parametrize("bad", [0, -45, 360, float("nan"), "45"])
def test_a_field_angle_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="field angle"):
        scale.Scale(539.0, bad)


def test_an_empty_or_flat_mask_is_refused():
    with pytest.raises(ValueError, match="empty"):
        scale.fov_diameter(np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        scale.fov_diameter(np.ones((2, 10, 10), bool))


@pytest.mark.parametrize(
    "shape, factor", [((584, 565), 4.0), ((2336, 2260), 0.25), ((584, 565), 0.5)]
)
def test_sizes_round_trip(shape, factor):
    image = np.random.default_rng(0).random((*shape, 3), dtype=np.float32)
    there = scale.resize_image(image, scale.resized_shape(shape, factor))
    back = scale.resize_image(there, shape)
    assert there.shape[:2] == scale.resized_shape(shape, factor)
    assert back.shape == image.shape and back.dtype == np.float32
    assert back.min() >= image.min() and back.max() <= image.max()


def test_shrinking_averages_and_a_mask_stays_binary():
    image = np.zeros((8, 8), np.float32)
    image[:, ::2] = 1.0  # one-pixel stripes: averaging gives 0.5, not aliasing
    np.testing.assert_allclose(scale.resize_image(image, (4, 4)), 0.5, atol=1e-6)
    mask = scale.resize_mask(disc((100, 100), 80), (400, 400))
    assert mask.dtype == bool and scale.fov_diameter(mask) == pytest.approx(320, abs=4)


def test_of_masks_is_the_median_diameter():
    masks = [disc((300, 300), d) for d in (200, 210, 260)]
    found = scale.of_masks(masks, 35.0)
    assert found.fov_diameter == pytest.approx(210, abs=2) and found.field_degrees == 35.0


def test_a_model_without_a_recorded_scale_is_taken_as_drives_with_a_warning():
    class Bare:
        name = "bare"

    model = Bare()
    assert scale.recorded(model) is None
    with pytest.warns(UserWarning, match=r"bare records no training scale.*DRIVE's"):
        assert scale.of_model(model) == scale.DRIVE
    scale.attach(model, scale.Scale(100.0))
    assert scale.of_model(model) == scale.Scale(100.0)  # no warning: it is recorded
    with pytest.raises(ValueError, match=r"scale\.Scale"):
        scale.attach(model, {"fov_diameter": 100.0})


def test_a_rescale_is_decided_once_and_leaves_factor_one_untouched():
    fov = np.zeros((120, 110), bool)
    fov[10:110, 5:105] = True  # 100 px across
    image = np.random.default_rng(0).random((120, 110, 3)).astype(np.float32)
    same = scale.rescale_for(fov, 45.0, scale.Scale(100.0))
    assert same.factor == 1.0 and same.to_model(image) is image and same.back(image) is image
    half = scale.rescale_for(fov, 45.0, scale.Scale(50.0))
    assert half.factor == pytest.approx(0.5) and half.resized == (60, 55)
    assert half.to_model(image).shape == (60, 55, 3)
    assert half.back(half.to_model(image)).shape == (120, 110, 3)
    assert half.mask_to_model(fov).dtype == bool
    # A stated scale replaces the measurement; a given diameter replaces the mask's.
    assert scale.rescale_for(fov, 45.0, scale.DRIVE, stated=scale.DRIVE).factor == 1.0
    assert scale.rescale_for(fov, 45.0, scale.Scale(50.0), diameter=50.0).factor == 1.0
