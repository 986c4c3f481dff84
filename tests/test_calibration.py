"""Reliability and expected calibration error (retina_tutorial.calibration)."""

import numpy as np
import pytest

from retina_tutorial import calibration


def _draw(probabilities, seed=0):
    return np.random.default_rng(seed).random(probabilities.shape) < probabilities


def test_a_calibrated_map_has_a_small_error_and_an_overconfident_one_a_large():
    probabilities = np.random.default_rng(1).random((4, 100, 100))
    truth, fov = _draw(probabilities), np.ones((4, 100, 100), bool)
    calibrated = calibration.reliability(probabilities, truth, fov)
    assert calibrated["ece"] < 0.01
    sharpened = np.where(probabilities >= 0.5, 0.99, 0.01)
    assert calibration.reliability(sharpened, truth, fov)["ece"] > 0.2


def test_error_is_the_pixel_weighted_gap_by_hand():
    probabilities = np.array([[0.05, 0.05, 0.95, 0.95]])
    truth = np.array([[False, True, True, True]])
    result = calibration.reliability(probabilities, truth, np.ones_like(truth))
    # bin 0: mean 0.05, share 0.5; bin 9: mean 0.95, share 1.0
    assert result["ece"] == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)
    assert result["max_gap"] == pytest.approx(0.45)
    assert result["pixels"][0] == 2 and result["pixels"][9] == 2
    assert np.isnan(result["vessel_share"][5])  # an empty bin is not a point


def test_only_fov_pixels_count():
    probabilities = np.full((1, 4, 4), 0.9)
    truth = np.zeros((1, 4, 4), bool)
    fov = np.zeros((1, 4, 4), bool)
    fov[0, :2] = True
    truth[0, :2] = True
    assert calibration.reliability(probabilities, truth, fov)["ece"] == pytest.approx(0.1)
    assert np.isnan(calibration.reliability(probabilities, truth, ~fov & False)["ece"])


def test_tallies_add_up_over_images():
    probabilities = np.random.default_rng(2).random((3, 20, 20))
    truth, fov = _draw(probabilities), np.ones((3, 20, 20), bool)
    per_image = calibration.tallies(probabilities, truth, fov)
    assert per_image.shape == (3, calibration.BINS, 3)
    assert per_image[..., 0].sum() == 1200
    pooled = calibration.calibration_error(per_image.sum(axis=0))
    assert pooled == pytest.approx(calibration.reliability(probabilities, truth, fov)["ece"])


def test_mid_range_leaves_out_the_easy_end_bins_and_keeps_the_sign():
    # 8 easy background pixels at 0.01 (right), 2 pixels at 0.55 that are never vessel
    probabilities = np.array([[0.01] * 8 + [0.55] * 2])
    truth = np.zeros_like(probabilities, bool)
    result = calibration.reliability(probabilities, truth, np.ones_like(truth))
    assert result["ece"] == pytest.approx((8 * 0.01 + 2 * 0.55) / 10)
    middle = result["mid_range"]
    assert (middle["low"], middle["high"]) == calibration.MID_RANGE
    assert middle["pixel_share"] == pytest.approx(0.2)
    assert middle["ece"] == pytest.approx(0.55)
    assert middle["max_gap"] == pytest.approx(0.55)
    assert middle["mean_signed_gap"] == pytest.approx(0.55)  # over-predicts vessel
    under = calibration.reliability(probabilities, ~truth, np.ones_like(truth))["mid_range"]
    assert under["mean_signed_gap"] == pytest.approx(-0.45)


def test_mid_range_of_an_empty_middle_is_undefined():
    probabilities = np.array([[0.01, 0.99]])
    truth = np.array([[False, True]])
    middle = calibration.reliability(probabilities, truth, np.ones_like(truth))["mid_range"]
    assert middle["pixel_share"] == 0.0
    assert np.isnan(middle["ece"]) and np.isnan(middle["max_gap"])
