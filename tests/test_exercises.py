"""Exercise checkers: a right answer passes, a wrong one gets specific help, None is kind."""

import math

import numpy as np
import pytest

from retina_tutorial import data, exercises, metrics, model


@pytest.fixture
def split():
    """Two 4 x 5 images with hand-counted masks.

    FOV: 12 of 20 pixels per image (24 of 40). Vessels: 3 + 3 = 6, all in the
    FOV. 2nd manual: 2 of the 1st's vessels (TP = 4) plus 1 extra (FP = 2),
    missing 1 per image (FN = 2): F1 = 8 / 12.
    """
    fov = np.zeros((2, 4, 5), bool)
    fov[:, :, 1:4] = True
    vessels = np.zeros((2, 4, 5), bool)
    vessels[:, 0:3, 2] = True
    second = np.zeros((2, 4, 5), bool)
    second[:, 0:2, 2] = True
    second[:, 3, 1] = True
    images = np.zeros((2, 4, 5, 3), np.float32)
    return data.Split(images, vessels, fov, ("01", "02"), second)


def _specific(result, *words):
    assert not result.passed and result.answered
    for word in words:
        assert word.lower() in result.message.lower(), result.message


def test_result_reads_well():
    result = exercises.Result(True, "Correct! fine")
    assert str(result) == "Correct! fine" and repr(result) == "Result(passed)"
    assert repr(exercises.Result(False, "x", answered=False)) == "Result(not answered)"


@pytest.mark.parametrize(
    "checker, args",
    [
        (exercises.check_fov_fraction, ()),
        (exercises.check_vessel_fraction, ()),
        (exercises.check_background_accuracy, ()),
        (exercises.check_observer_agreement, ()),
    ],
)
def test_chapter_01_checkers_are_kind_to_none(checker, args, split, capsys):
    result = checker(None, split)
    assert not result.passed and not result.answered
    assert "Not answered yet" in result.message and "None" in result.message
    printed = capsys.readouterr().out
    assert " ".join(printed.split()) == result.message  # printed for the learner
    assert max(len(line) for line in printed.splitlines()) <= exercises.WIDTH


def test_fov_fraction(split, capsys):
    assert exercises.check_fov_fraction(0.6, split).passed
    assert "60.0%" in capsys.readouterr().out
    assert exercises.check_fov_fraction(np.float32(0.6), split, verbose=False).passed
    _specific(exercises.check_fov_fraction(0.4, split, verbose=False), "outside")
    _specific(exercises.check_fov_fraction(60, split, verbose=False), "percentage")
    _specific(exercises.check_fov_fraction(24, split, verbose=False), "number of FOV pixels")
    _specific(exercises.check_fov_fraction(0.55, split, verbose=False), "hint")
    _specific(exercises.check_fov_fraction(split.fov, split, verbose=False), "array of shape")
    _specific(exercises.check_fov_fraction("0.6", split, verbose=False), "str")


def test_vessel_fraction(split):
    assert exercises.check_vessel_fraction(0.25, split, verbose=False).passed  # 6 of 24
    _specific(exercises.check_vessel_fraction(0.15, split, verbose=False), "all* pixels")  # 6 / 40
    _specific(exercises.check_vessel_fraction(0.75, split, verbose=False), "background")
    _specific(exercises.check_vessel_fraction(25.0, split, verbose=False), "percentage")
    _specific(exercises.check_vessel_fraction(0.3, split, verbose=False), "split.fov")


def test_background_accuracy(split):
    right = (1 - 6 / 40, 1 - 6 / 24)
    assert exercises.check_background_accuracy(right, split, verbose=False).passed
    assert exercises.check_background_accuracy(np.array(right), split, verbose=False).passed
    _specific(exercises.check_background_accuracy(right[::-1], split, verbose=False), "swapped")
    _specific(
        exercises.check_background_accuracy((right[0], 0.9), split, verbose=False),
        "inside-FOV accuracy 0.9000 is off",
    )
    _specific(exercises.check_background_accuracy(0.85, split, verbose=False), "two numbers")


def test_observer_agreement(split):
    assert exercises.check_observer_agreement(8 / 12, split, verbose=False).passed
    accuracy = 1 - 4 / 24  # 2 FP + 2 FN among 24 FOV pixels
    _specific(exercises.check_observer_agreement(accuracy, split, verbose=False), "accuracy")
    _specific(exercises.check_observer_agreement(4 / 8, split, verbose=False), "IoU")
    _specific(exercises.check_observer_agreement(0.1, split, verbose=False), "binary_metrics")


@pytest.mark.drive
def test_observer_agreement_refuses_the_protocols_chapter_05_warns_about(drive_dataset):
    # On DRIVE: pooled F1 0.78906, mean of per-image F1 0.78812, F1 over all
    # pixels 0.78886. Rounded to 4 decimals the right one passes; the others,
    # however close, get told what they computed.
    test = drive_dataset.test
    check = exercises.check_observer_agreement
    assert check(0.7891, test, verbose=False).passed
    _specific(check(0.7881, test, verbose=False), "mean of the 20 per-image")
    _specific(check(0.7889, test, verbose=False), "every pixel")


def test_observer_agreement_needs_a_second_manual(split):
    first_only = data.Split(split.images, split.vessels, split.fov, split.ids)
    with pytest.raises(ValueError, match="2nd manual"):
        exercises.check_observer_agreement(0.7, first_only)
    with pytest.raises(ValueError, match="Split"):
        exercises.check_fov_fraction(0.5, split.fov)


@pytest.mark.parametrize("depth, expected", [(0, 5), (1, 18), (2, 44), (3, 100), (4, 204)])
def test_receptive_field_matches_the_measured_one(depth, expected):
    # The expected sizes were measured by perturbing one input pixel of built
    # U-Nets (depth 1-4) and finding the widest set of output pixels it changes.
    assert model.receptive_field(depth) == expected
    assert exercises.check_receptive_field(expected, depth, verbose=False).passed


def test_receptive_field_with_three_convolutions_per_level():
    # Walked back by hand: 1 -> 4 -> 6 -> 7 (expanding path), +6 = 13, then 32, 70, 146.
    assert exercises.check_receptive_field(146, 3, convolutions=3, verbose=False).passed
    _specific(
        exercises.check_receptive_field(100, 3, convolutions=3, verbose=False),
        "2 convolutions per level",
    )


def test_receptive_field_feedback():
    _specific(exercises.check_receptive_field(44, 3, verbose=False), "depth-2")
    _specific(exercises.check_receptive_field(204, 3, verbose=False), "depth-4")
    _specific(exercises.check_receptive_field(50, 3, verbose=False), "hint")
    # Contracting path and bottleneck only: 1 + (4 + 1) (1 + 2 + 4) + 4 * 8 = 68.
    _specific(exercises.check_receptive_field(68, 3, verbose=False), "expanding path")
    assert not exercises.check_receptive_field(None, 3, verbose=False).answered
    with pytest.raises(ValueError, match="depth"):
        exercises.check_receptive_field(100, -1)


def test_conv_parameters():
    check = exercises.check_conv_parameters
    args = dict(in_channels=512, filters=1024, verbose=False)
    assert check(3 * 3 * 512 * 1024 + 1024, **args).passed
    _specific(check(3 * 3 * 512 * 1024, **args), "bias")
    _specific(check(3 * 3 * 1024 + 1024, **args), "all 512 input channels")
    _specific(check(3 * 3 * 512 + 1, **args), "one filter")
    _specific(check(12, **args), "hint")
    assert check(3 * 3 * 3 * 32, in_channels=3, filters=32, bias=False, verbose=False).passed
    assert not check(None, **args).answered


def test_padded_shape():
    check = exercises.check_padded_shape
    assert check((592, 576), (584, 565), 4, verbose=False).passed
    assert check([584, 568], (584, 565), 3, verbose=False).passed
    _specific(check((576, 592), (584, 565), 4, verbose=False), "order")
    _specific(check((576, 560), (584, 565), 4, verbose=False), "never crop")
    _specific(check((608, 576), (584, 565), 4, verbose=False), "not the smallest")
    _specific(check((590, 576), (584, 565), 4, verbose=False), "not a multiple")
    _specific(check(592, (584, 565), 4, verbose=False), "pair")
    _specific(check((592.7, 576), (584, 565), 4, verbose=False), "whole numbers")
    assert not check(None, (584, 565), 4, verbose=False).answered


def test_bottleneck_shape():
    check = exercises.check_bottleneck_shape
    assert check((37, 36, 1024), (592, 576), 4, 64, verbose=False).passed
    _specific(check((74, 72, 1024), (592, 576), 4, 64, verbose=False), "grid")
    _specific(check((37, 36, 512), (592, 576), 4, 64, verbose=False), "factor 2")
    _specific(check((37, 36, 100), (592, 576), 4, 64, verbose=False), "channels")
    _specific(check((37, 36), (592, 576), 4, 64, verbose=False), "three")
    _specific(check((37.5, 36, 1024), (592, 576), 4, 64, verbose=False), "whole numbers")
    assert check((37.0, 36, np.int64(1024)), (592, 576), 4, 64, verbose=False).passed
    with pytest.raises(ValueError, match="padded"):
        check((37, 36, 1024), (584, 565), 4, 64)


def test_flip_both():
    mask = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0]])
    check = exercises.check_flip_both
    assert check(np.rot90(mask, 2), mask, verbose=False).passed
    _specific(check(mask[:, ::-1], mask, verbose=False), "one axis")
    _specific(check(mask, mask, verbose=False), "unchanged")
    _specific(check(mask.T, mask, verbose=False), "transpose")
    _specific(check(np.zeros((2, 2)), mask, verbose=False), "shape")
    assert not check(None, mask, verbose=False).answered


def test_patch_reach():
    check = exercises.check_patch_reach
    right = 1.2 * 32 * math.sqrt(2)
    assert check(right, 64, 0.2, verbose=False).passed
    assert check(round(right, 2), 64, 0.2, verbose=False).passed
    _specific(check(32 * math.sqrt(2), 64, 0.2, verbose=False), "zoom")
    _specific(check(1.2 * 32, 64, 0.2, verbose=False), "rotation")
    _specific(check(2 * right, 64, 0.2, verbose=False), "twice")
    _specific(check(10, 64, 0.2, verbose=False), "hint")


def test_paired_transforms():
    check = exercises.check_paired_transforms
    assert check({"flip", "rotation", "zoom", "shift"}, verbose=False).passed
    assert check(["Flip", "rotation ", "zoom", "shift"], verbose=False).passed
    _specific(check({"flip", "rotation", "zoom", "shift", "gamma"}, verbose=False), "gamma")
    _specific(check({"flip", "rotation"}, verbose=False), "shift, zoom")
    _specific(check({"blur"}, verbose=False), "unknown")
    _specific(check("flip", verbose=False), "set of names")
    assert not check(None, verbose=False).answered


def test_binary_targets():
    check = exercises.check_binary_targets
    targets = np.zeros((1, 4, 4, 2), np.float32)
    targets[..., 1] = 1
    targets[0, 1, 1, 0] = 1
    assert check(targets, verbose=False).passed
    grey = targets.copy()
    grey[0, 0, 0, 0] = 0.5
    _specific(check(grey, verbose=False), "1 target values", "bilinear")
    _specific(check(targets[..., :1], verbose=False), "(B, H, W, 2)")
    _specific(check(targets * 255, verbose=False), "[0, 1]")
    _specific(check(np.zeros((1, 4, 4, 2)), verbose=False), "FOV channel is all 0")
    _specific(check(targets, targets.copy(), verbose=False), "exactly as they were")
    assert check(targets, targets[:, ::-1], verbose=False).passed
    assert not check(None, verbose=False).answered


# --- grading strictness: the nearest mistake never passes, rounding does ----------


def _drive_like(fraction_outside=0.3, seed=0):
    """Two 40 x 50 images; vessels inside and (a few) outside the FOV."""
    rng = np.random.default_rng(seed)
    fov = np.zeros((2, 40, 50), bool)
    fov[:, 4:36, 6:44] = True
    vessels = rng.random(fov.shape) < 0.12
    vessels &= fov | (rng.random(fov.shape) < fraction_outside)
    second = vessels ^ (rng.random(fov.shape) < 0.03)
    images = np.zeros((*fov.shape, 3), np.float32)
    return data.Split(images, vessels, fov, ("01", "02"), second)


def test_fov_fraction_takes_four_decimals_and_nothing_looser():
    split = _drive_like()
    truth = float(split.fov.mean())
    check = exercises.check_fov_fraction
    assert check(round(truth, 4), split, verbose=False).passed
    _specific(check(truth + 5e-4, split, verbose=False), "4 decimals")  # another split's value


def test_vessel_fraction_names_vessels_counted_outside_the_fov():
    split = _drive_like()
    check = exercises.check_vessel_fraction
    assert check(round(float(split.vessels[split.fov].mean()), 4), split, verbose=False).passed
    unmasked = split.vessels.sum() / split.fov.sum()
    _specific(check(unmasked, split, verbose=False), "outside the FOV too")


def test_observer_agreement_is_not_refused_for_a_mistake_it_cannot_tell_apart():
    # FOV everywhere: "over all pixels" gives the right value exactly.
    split = _drive_like(fraction_outside=0.0)
    split = data.Split(
        split.images, split.vessels, np.ones_like(split.fov), split.ids, split.vessels_2nd
    )
    scores = exercises.check_observer_agreement(None, split, verbose=False)
    assert not scores.answered

    truth = metrics.second_observer(split)["f1"]
    assert exercises.check_observer_agreement(round(truth, 4), split, verbose=False).passed


def test_patch_reach_says_how_precise_to_be():
    # The right answer is 1.2 * 32 * sqrt(2) = 54.31; 54 is rounded too far.
    _specific(exercises.check_patch_reach(54, 64, 0.2, verbose=False), "tenth of a pixel")


def test_binary_targets_refuses_swapped_channels_and_other_shapes():
    check = exercises.check_binary_targets
    targets = np.zeros((1, 6, 6, 2), np.float32)
    targets[..., 1] = 1
    targets[0, 2, 1:4, 0] = 1
    assert check(targets, targets[:, ::-1], verbose=False).passed
    _specific(check(targets[..., ::-1], verbose=False), "swapped")
    _specific(check(np.ones_like(targets), verbose=False), "swapped")
    _specific(check(targets[:, :4], targets, verbose=False), "differs from the targets")
