"""Checkers of chapters 04-06: right answers pass, mistakes get specific help, None is kind."""

import math

import keras
import numpy as np
import pytest

from retina_tutorial import data, exercises, grid, inference, losses, metrics, topology
from retina_tutorial import model as unet

# Four pixels in a row: vessel, background, vessel, and one outside the FOV.
Y_TRUE = np.array([[[[1, 1], [0, 1], [1, 1], [0, 0]]]], "float32")
Y_PRED = np.array([[[[0.8], [0.3], [0.4], [0.7]]]], "float32")
BCE = (-math.log(0.8) - math.log(0.7) - math.log(0.4)) / 3  # 0.4987
DICE_LOSS = 1 - (2 * 1.2 + 1) / (1.5 + 2 + 1)  # 0.2444

# A run that overfits: training loss falls to the end, val_auc peaks at epoch 5,
# val_loss at epoch 4, and val_auc is lowest at epoch 1.
HISTORY = {
    "loss": [0.31, 0.22, 0.18, 0.16, 0.15, 0.14, 0.13, 0.12],
    "val_loss": [0.25, 0.19, 0.17, 0.165, 0.17, 0.18, 0.19, 0.21],
    "val_auc": [0.955, 0.968, 0.972, 0.9735, 0.9741, 0.9738, 0.9730, 0.9722],
}


def _specific(result, *words):
    assert not result.passed and result.answered
    for word in words:
        assert word.lower() in result.message.lower(), result.message


def _split(vessels, fov):
    vessels, fov = np.asarray(vessels, bool), np.asarray(fov, bool)
    images = np.zeros((*vessels.shape, 3), np.float32)
    return data.Split(
        images, vessels, fov, tuple(f"{i + 1:02d}" for i in range(len(vessels))), None
    )


@pytest.fixture
def ranking():
    """One 2 x 4 image: inside the FOV, vessels at 0.9 and 0.4, background at 0.6 and 0.1.

    ROC AUC inside the FOV: 3 of 4 pairs ranked right = 0.75. The 4 pixels
    outside the FOV are background at 0.0: over all pixels 11 of 12 = 0.9167.
    Vessel share: 2 of 4 inside the FOV, 2 of 8 in all.
    """
    probabilities = np.array([[[0.9, 0.6, 0, 0], [0.4, 0.1, 0, 0]]], np.float32)
    vessels = [[[1, 0, 0, 0], [1, 0, 0, 0]]]
    fov = [[[1, 1, 0, 0], [1, 1, 0, 0]]]
    return probabilities, _split(vessels, fov)


@pytest.fixture(scope="module")
def tiny_model():
    # Seeded: an unlucky random init can give a map too flat for the TTA
    # test to tell its mistakes apart.
    keras.utils.set_random_seed(5)
    return unet.build_unet(preset="compact", base_filters=2, depth=1)


@pytest.mark.parametrize(
    "checker, args",
    [
        (exercises.check_masked_bce, (Y_TRUE, Y_PRED)),
        (exercises.check_soft_dice, (Y_TRUE, Y_PRED)),
        (exercises.check_checkpoint_epochs, (HISTORY,)),
        (exercises.check_skipped_batches, (6, 100, 16)),
        (exercises.check_tile_count, ((2336, 3504), 512, 128, 8)),
        (exercises.check_scale_factor, (np.ones((4, 8), bool), np.ones((4, 2), bool))),
        (exercises.check_fov_share, (np.zeros((1, 2, 2, 2)), np.zeros((1, 2, 2, 2)))),
        (
            exercises.check_smallest_margin,
            ([{"id": "01", "f1": 0.8}], [{"id": "01", "f1": 0.7}]),
        ),
    ],
)
def test_checkers_are_kind_to_none(checker, args, capsys):
    result = checker(None, *args)
    assert not result.passed and not result.answered
    assert "Not answered yet" in result.message and "None" in result.message
    printed = capsys.readouterr().out
    assert " ".join(printed.split()) == result.message  # printed for the learner, wrapped


def test_split_checkers_are_kind_to_none(ranking, tiny_model):
    probabilities, split = ranking
    for result in (
        exercises.check_auc_two_ways(None, probabilities, split, verbose=False),
        exercises.check_youden_threshold(None, probabilities, split, verbose=False),
        exercises.check_chance_pr_auc(None, split, verbose=False),
        exercises.check_tta(None, tiny_model, np.zeros((8, 8, 3), np.float32), verbose=False),
    ):
        assert not result.passed and not result.answered


# --- chapter 04 ---------------------------------------------------------------------


def test_masked_bce_agrees_with_the_loss_and_names_mistakes():
    assert float(losses.masked_bce(Y_TRUE, Y_PRED)) == pytest.approx(BCE, rel=1e-5)
    assert exercises.check_masked_bce(BCE, Y_TRUE, Y_PRED, verbose=False).passed
    assert exercises.check_masked_bce(np.float32(BCE), Y_TRUE, Y_PRED[..., 0], verbose=False).passed
    outside = -math.log(0.3)
    _specific(
        exercises.check_masked_bce((3 * BCE + outside) / 4, Y_TRUE, Y_PRED, verbose=False),
        "every pixel",
    )
    _specific(exercises.check_masked_bce(3 * BCE, Y_TRUE, Y_PRED, verbose=False), "sum")
    _specific(
        exercises.check_masked_bce(3 * BCE / 4, Y_TRUE, Y_PRED, verbose=False), "divided by all 4"
    )
    _specific(exercises.check_masked_bce(-BCE, Y_TRUE, Y_PRED, verbose=False), "sign")
    _specific(
        exercises.check_masked_bce(BCE / math.log(10), Y_TRUE, Y_PRED, verbose=False), "log10"
    )
    _specific(exercises.check_masked_bce(BCE / math.log(2), Y_TRUE, Y_PRED, verbose=False), "log2")
    _specific(exercises.check_masked_bce(0.9, Y_TRUE, Y_PRED, verbose=False), "hint")
    _specific(exercises.check_masked_bce("0.5", Y_TRUE, Y_PRED, verbose=False), "str")


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        (Y_TRUE[..., :1], Y_PRED, "vessel and FOV channels"),
        (Y_TRUE, Y_PRED[:, :, :2], "y_pred must have shape"),
        (Y_TRUE * np.array([1, 0], "float32"), Y_PRED, "no FOV pixel"),
    ],
)
def test_masked_bce_rejects_bad_examples(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        exercises.check_masked_bce(0.5, y_true, y_pred, verbose=False)


def test_soft_dice_agrees_with_the_loss_and_names_mistakes():
    assert float(losses.masked_dice_loss(Y_TRUE, Y_PRED)) == pytest.approx(DICE_LOSS, rel=1e-5)
    assert exercises.check_soft_dice(DICE_LOSS, Y_TRUE, Y_PRED, verbose=False).passed
    _specific(
        exercises.check_soft_dice(1 - DICE_LOSS, Y_TRUE, Y_PRED, verbose=False), "Dice coefficient"
    )
    unmasked = 1 - 3.4 / 5.2  # the 0.7 outside the FOV counted in sum(p)
    _specific(exercises.check_soft_dice(unmasked, Y_TRUE, Y_PRED, verbose=False), "outside the FOV")
    _specific(exercises.check_soft_dice(1 - 2.4 / 3.5, Y_TRUE, Y_PRED, verbose=False), "smoothing")
    _specific(exercises.check_soft_dice(0.25, Y_TRUE, Y_PRED, verbose=False), "thresholded")
    _specific(exercises.check_soft_dice(0.9, Y_TRUE, Y_PRED, verbose=False), "hint")


@pytest.mark.parametrize(
    "answer, words",
    [
        ((7, 4), ["one too low"]),
        ((5, 8), ["wrong order"]),
        ((8, 4), ["validation *loss*"]),
        ((8, 1), ["*lowest* val_auc"]),
        ((8, 3), ["article's epoch is right"]),
        ((2, 5), ["our epoch is right"]),
        ((1, 2), ["hint"]),
        (5, ["pair"]),
        (("a", 5), ["numbers"]),
    ],
)
def test_checkpoint_epochs_mistakes(answer, words):
    _specific(exercises.check_checkpoint_epochs(answer, HISTORY, verbose=False), *words)


def test_checkpoint_epochs_right_answer_says_what_the_article_lost(capsys):
    assert exercises.check_checkpoint_epochs((8, 5), HISTORY).passed
    assert "0.0019 lower" in " ".join(capsys.readouterr().out.split())
    agreeing = {"loss": [0.3, 0.2], "val_auc": [0.9, 0.95]}
    result = exercises.check_checkpoint_epochs([2, 2], agreeing, verbose=False)
    assert result.passed and "agree" in result.message
    with pytest.raises(ValueError, match="'val_auc'"):
        exercises.check_checkpoint_epochs((1, 1), {"loss": [0.3]}, verbose=False)


@pytest.mark.parametrize(
    "answer, words",
    [(600 * 16, ["patches"]), (700, ["cut short"]), (6, ["number of epochs"]), (500, ["hint"])],
)
def test_skipped_batches(answer, words):
    assert exercises.check_skipped_batches(600, 6, 100, 16, verbose=False).passed
    _specific(exercises.check_skipped_batches(answer, 6, 100, 16, verbose=False), *words)


# --- chapter 05 ---------------------------------------------------------------------


def test_auc_two_ways(ranking):
    probabilities, split = ranking
    check = exercises.check_auc_two_ways
    assert check((0.75, 11 / 12), probabilities, split, verbose=False).passed
    _specific(check((11 / 12, 0.75), probabilities, split, verbose=False), "swapped")
    _specific(check((0.8, 11 / 12), probabilities, split, verbose=False), "inside the FOV 0.8000")
    _specific(check((0.75, 0.75), probabilities, split, verbose=False), "all-true mask")
    _specific(check(0.75, probabilities, split, verbose=False), "pair")
    assert "raises the AUC" in check((0.75, 11 / 12), probabilities, split, verbose=False).message


def test_auc_two_ways_recognises_the_map_with_zero_outside_the_fov(ranking):
    # The raw surround at 0.95 (all-pixel AUC 0.25); written as 0 it is another number.
    probabilities, split = ranking
    probabilities = np.where(split.fov, probabilities, 0.95).astype(np.float32)
    zeroed = np.where(split.fov, probabilities, 0.0)
    everywhere = metrics.pixel_metrics(zeroed, split.vessels, np.ones_like(split.fov))["roc_auc"]
    assert everywhere != pytest.approx(0.25)
    result = exercises.check_auc_two_ways((0.75, everywhere), probabilities, split, verbose=False)
    _specific(result, "0 outside the FOV", "raw map")


def test_auc_two_ways_explains_a_surround_that_lowers_the_auc(ranking):
    # The surround predicted at 0.95, above every vessel: of the 12
    # vessel-background pairs only the 3 right ones inside the FOV stay right.
    probabilities, split = ranking
    probabilities = np.where(split.fov, probabilities, 0.95).astype(np.float32)
    result = exercises.check_auc_two_ways((0.75, 0.25), probabilities, split, verbose=False)
    assert result.passed
    assert "lowers it here" in result.message and "raises the AUC without" not in result.message


@pytest.fixture
def imbalanced():
    """Validation and test maps with 15 % vessel pixels: J and F1 choose apart."""

    def made(seed):
        rng = np.random.default_rng(seed)
        vessels = np.zeros((1, 20, 20), bool)
        vessels[0, rng.choice(20, 3, replace=False)] = True
        vessel_p = rng.uniform(0.2, 0.9, vessels.shape)
        probabilities = np.where(vessels, vessel_p, rng.uniform(0, 0.6, vessels.shape))
        return probabilities.astype(np.float32), _split(vessels, np.ones_like(vessels))

    return made(1), made(2)


def test_youden_threshold_passes_the_curves_best_and_names_f1s(imbalanced):
    (validation, split), _ = imbalanced
    curves = metrics.roc_pr_curves(validation, split.vessels, split.fov)
    best = curves["thresholds"][np.argmax(curves["tpr"] - curves["fpr"])]
    check = exercises.check_youden_threshold
    assert check(best, validation, split, verbose=False).passed
    assert check(np.float32(best), validation, split, verbose=False).passed
    f1_choice = metrics.choose_threshold(validation, split.vessels, split.fov)
    assert abs(f1_choice - best) > 0.01
    _specific(check(f1_choice, validation, split, verbose=False), "maximises F1")
    _specific(check(1.5, validation, split, verbose=False), "not a probability")
    _specific(check([0.4, 0.5], validation, split, verbose=False), "list")


def test_youden_threshold_names_the_test_images_choice(imbalanced):
    (validation, split), (test, test_split) = imbalanced
    on_test = metrics.roc_pr_curves(test, test_split.vessels, test_split.fov)
    favourite = on_test["thresholds"][np.argmax(on_test["tpr"] - on_test["fpr"])]
    result = exercises.check_youden_threshold(
        favourite, validation, split, test_probabilities=test, test=test_split, verbose=False
    )
    _specific(result, "*test* images prefer")


def test_youden_threshold_names_the_default():
    # Vessels at 0.4 and 0.3, background at 0.2: 0.5 finds nothing.
    split = _split([[[1, 1, 0]]], [[[1, 1, 1]]])
    probabilities = np.array([[[0.4, 0.3, 0.2]]], np.float32)
    result = exercises.check_youden_threshold(0.5, probabilities, split, verbose=False)
    _specific(result, "default", "roc_pr_curves")


MODEL_ROWS = [{"id": "01", "f1": 0.8}, {"id": "02", "f1": 0.7}, {"id": "03", "f1": 0.9}]
OBSERVER_ROWS = [{"id": "01", "f1": 0.75}, {"id": "02", "f1": 0.68}, {"id": "03", "f1": 0.75}]


@pytest.mark.parametrize(
    "answer", [("02", 0.02), (2, 0.02), ("2", np.float64(0.02)), (np.str_("02"), 0.02001)]
)
def test_smallest_margin_right(answer):
    assert exercises.check_smallest_margin(answer, MODEL_ROWS, OBSERVER_ROWS, verbose=False).passed


@pytest.mark.parametrize(
    "answer, words",
    [
        (("02", -0.02), ["minus the observer"]),
        (("01", 0.05), ["another image has a smaller one"]),
        (("02", 0.03), ["margin is the difference"]),
        (("09", 0.02), ["not a test image id"]),
        (3, ["pair"]),
        (("02", "small"), ["one number"]),
        (("03", 0.5), ["hint"]),
    ],
)
def test_smallest_margin_mistakes(answer, words):
    result = exercises.check_smallest_margin(answer, MODEL_ROWS, OBSERVER_ROWS, verbose=False)
    _specific(result, *words)
    assert "0.02" not in result.message  # the feedback never gives the answer away


def test_smallest_margin_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="same image ids"):
        exercises.check_smallest_margin(("01", 0), MODEL_ROWS, OBSERVER_ROWS[:2], verbose=False)
    with pytest.raises(ValueError, match="one row per image"):
        exercises.check_smallest_margin(
            ("01", 0), MODEL_ROWS + MODEL_ROWS[:1], OBSERVER_ROWS, verbose=False
        )


def test_chance_pr_auc(ranking):
    _, split = ranking  # vessel share 0.5 inside the FOV, 0.25 over all pixels
    assert exercises.check_chance_pr_auc(0.5, split, verbose=False).passed
    _specific(exercises.check_chance_pr_auc(0.25, split, verbose=False), "all pixels")
    _specific(exercises.check_chance_pr_auc(0.3, split, verbose=False), "hint")
    other = _split([[[1, 0, 0, 0], [0, 0, 0, 0]]], [[[1, 1, 1, 1], [0, 0, 0, 0]]])  # share 0.25
    _specific(exercises.check_chance_pr_auc(0.5, other, verbose=False), "ROC AUC")
    _specific(exercises.check_chance_pr_auc(0.75, other, verbose=False), "background")


# --- chapter 06 ---------------------------------------------------------------------


@pytest.fixture
def batches():
    """Whole-image targets with FOV share 0.5, patch targets 0.75; vessel shares 0.25, 0.5."""
    whole = np.zeros((1, 2, 2, 2), np.float32)
    whole[0, 0, :, 1] = 1
    whole[0, 0, 0, 0] = 1
    patches = np.ones((1, 2, 2, 2), np.float32)
    patches[0, 1, 1, 1] = 0
    patches[0, 1, :, 0] = 0
    return whole, patches


def test_fov_share(batches):
    whole, patches = batches
    assert exercises.check_fov_share((0.5, 0.75), whole, patches, verbose=False).passed
    _specific(exercises.check_fov_share((0.75, 0.5), whole, patches, verbose=False), "swapped")
    _specific(exercises.check_fov_share((0.25, 0.5), whole, patches, verbose=False), "channel 0")
    _specific(exercises.check_fov_share((0.1, 0.2), whole, patches, verbose=False), "hint")
    with pytest.raises(ValueError, match="patch_targets"):
        exercises.check_fov_share((0.5, 0.75), whole, patches[..., :1], verbose=False)


@pytest.mark.parametrize(
    "shape, tile, overlap, multiple",
    [
        ((2336, 3504), 512, 128, 8),
        ((2336, 3504), 1024, 64, 16),
        ((584, 565), 256, 32, 8),
        ((300, 200), 512, 64, 8),
    ],
)
def test_tile_count_matches_the_predictor(shape, tile, overlap, multiple):
    padded = [grid.round_up(side, multiple) for side in shape]
    layout = grid.tile_layout(padded, (tile, tile), overlap, multiple)
    expected = math.prod(len(starts) for _, starts in layout)
    assert exercises.check_tile_count(
        expected, shape, tile, overlap, multiple, verbose=False
    ).passed


def test_tile_count_mistakes():
    check = exercises.check_tile_count
    assert check(54, (2336, 3504), 512, 128, 8, verbose=False).passed  # 6 rows x 9 columns
    _specific(check(35, (2336, 3504), 512, 128, 8, verbose=False), "without overlap")  # 5 x 7
    _specific(check(9, (2336, 3504), 512, 128, 8, verbose=False), "rows x columns")
    _specific(check(40, (2336, 3504), 512, 128, 8, verbose=False), "hint")
    with pytest.raises(ValueError, match="multiple of 8"):
        check(1, (100, 100), 500, 64, 8, verbose=False)


def test_tta_by_hand_passes_and_mistakes_are_named(tiny_model):
    image = np.random.default_rng(0).random((12, 10, 3), dtype=np.float32)
    flips = ((1, 1), (1, -1), (-1, 1), (-1, -1))
    reference = inference.predict(tiny_model, image, tta=True)
    by_hand = np.mean(
        [
            inference.predict(tiny_model, np.ascontiguousarray(image[::r, ::c]))[::r, ::c]
            for r, c in flips
        ],
        axis=0,
    )
    not_back = np.mean(
        [inference.predict(tiny_model, np.ascontiguousarray(image[::r, ::c])) for r, c in flips],
        axis=0,
    )
    check = exercises.check_tta
    assert check(reference, tiny_model, image, verbose=False).passed
    assert check(by_hand, tiny_model, image, verbose=False).passed
    _specific(
        check(inference.predict(tiny_model, image), tiny_model, image, verbose=False),
        "without flips",
    )
    _specific(check(not_back, tiny_model, image, verbose=False), "flip each one back")
    _specific(check(reference + 0.2, tiny_model, image, verbose=False), "hint")
    _specific(
        check(reference[None, ..., None], tiny_model, image, verbose=False), "batch and channel"
    )


def test_scale_factor():
    large = np.zeros((40, 60), bool)
    large[:, 10:50] = True  # 40 pixels across
    reference = np.zeros((12, 12), bool)
    reference[1:11, 1:11] = True  # 10 across
    check = exercises.check_scale_factor
    assert check(0.25, large, reference, verbose=False).passed
    assert check(0.2504, large, reference, verbose=False).passed  # within 0.2 %
    assert not check(0.252, large, reference, verbose=False).passed  # 0.8 % off: another width
    _specific(check(4, large, reference, verbose=False), "enlarges")
    _specific(check(0.0625, large, reference, verbose=False), "areas")
    _specific(check(0.5, large, reference, verbose=False), "hint")
    with pytest.raises(ValueError, match="the FOV mask is empty"):
        check(0.25, np.zeros((4, 4), bool), reference, verbose=False)


def test_camera_factor():
    from retina_tutorial import scale

    rows, cols = np.indices((300, 330))
    fov = np.hypot(rows - 149.5, cols - 164.5) <= 150  # 301 pixels across
    check = exercises.check_camera_factor
    truth = scale.DRIVE.pixels_per_degree / (scale.fov_diameter(fov) / 30)
    assert check(truth, fov, 30, verbose=False).passed
    assert check(truth * 1.002, fov, 30, verbose=False).passed  # within 0.3 %
    assert not check(truth * 1.01, fov, 30, verbose=False).passed  # another image's width
    assert not check(None, fov, 30, verbose=False).answered
    by_width = scale.DRIVE.fov_diameter / scale.fov_diameter(fov)
    _specific(check(by_width, fov, 30, verbose=False), "field angles")
    _specific(check(1 / truth, fov, 30, verbose=False), "other way")
    _specific(check(0.3, fov, 30, verbose=False), "hint")
    _specific(check("1.2", fov, 30, verbose=False), "one number")


def test_chance_pr_auc_names_the_near_mistakes():
    vessels = np.zeros((1, 4, 6), bool)
    vessels[0, :, 1] = True
    vessels[0, 0, 5] = True  # one vessel pixel outside the FOV
    fov = np.zeros((1, 4, 6), bool)
    fov[0, :, :5] = True
    split = data.Split(np.zeros((1, 4, 6, 3), np.float32), vessels, fov, ("01",))
    share = 4 / 20
    check = exercises.check_chance_pr_auc
    assert check(round(share, 4), split, verbose=False).passed
    _specific(check(5 / 20, split, verbose=False), "outside the FOV too")
    _specific(check((1 + share) / 2, split, verbose=False), "straight line")


def test_soft_dice_accepts_three_decimals():
    assert exercises.check_soft_dice(round(DICE_LOSS, 3), Y_TRUE, Y_PRED, verbose=False).passed


# --- the exercises on calibration, paired intervals and the vessel tree -------------


def test_calibration_error_by_hand_and_its_named_mistakes(ranking):
    from retina_tutorial import calibration

    probabilities, split = ranking
    reliability = calibration.reliability(probabilities, split.vessels, split.fov)
    check = exercises.check_calibration_error
    assert check(reliability["ece"], probabilities, split, verbose=False).passed
    gaps = np.abs(np.array(reliability["mean_probability"]) - np.array(reliability["vessel_share"]))
    if abs(np.nanmean(gaps) - reliability["ece"]) > 1e-3:
        _specific(check(np.nanmean(gaps), probabilities, split, verbose=False), "plain mean")
    assert not check(None, probabilities, split, verbose=False).answered


def test_paired_interval_follows_the_statements_procedure():
    margins = np.array([0.05, 0.02, 0.15])  # MODEL_ROWS minus OBSERVER_ROWS, in order
    picks = np.random.default_rng(0).integers(0, 3, (2000, 3))
    right = tuple(np.percentile(margins[picks].mean(axis=1), [2.5, 97.5]))
    check = exercises.check_paired_interval
    assert check(right, MODEL_ROWS, OBSERVER_ROWS, verbose=False).passed
    _specific(check(right[::-1], MODEL_ROWS, OBSERVER_ROWS, verbose=False), "swapped")
    spread = tuple(np.percentile(margins, [2.5, 97.5]))
    _specific(check(spread, MODEL_ROWS, OBSERVER_ROWS, verbose=False), "margins themselves")
    result = check((0.0, 1.0), MODEL_ROWS, OBSERVER_ROWS, verbose=False)
    assert not result.passed and f"{right[0]:.4f}" not in result.message


def test_centreline_recall_counts_length_not_pixels():
    vessels = np.zeros((1, 9, 12), bool)
    vessels[0, 1:6, 1:4] = True  # a wide vessel, its centreline a column
    vessels[0, 7, 1:11] = True  # a thin one, ten pixels long
    split = _split(vessels, np.ones_like(vessels))
    called = vessels.copy()
    called[0, 7, 6:11] = False  # half of the thin vessel missed
    centre = topology.skeleton(vessels)
    right = called[centre].mean()
    check = exercises.check_centreline_recall
    assert check(right, called, split, verbose=False).passed
    pixel_recall = called[vessels].mean()
    assert abs(pixel_recall - right) > 0.05
    _specific(check(pixel_recall, called, split, verbose=False), "pixel recall")
