"""Exercise checkers for Chapter 07, your own data."""

from __future__ import annotations

import numpy as np

from retina_tutorial import metrics, scale
from retina_tutorial.exercises._core import (
    Result,
    _as_number,
    _close,
    _finish,
    _not_a_number,
    _unanswered,
)


def check_camera_factor(
    answer, fov, field_degrees: float, model_scale=scale.DRIVE, *, verbose: bool = True
) -> Result:
    """Check the factor that brings a photograph from another camera to the model's scale.

    Explained in ``book/07_your_own_data.ipynb`` (exercise 1): the model's
    pixels per degree over the photograph's, where the photograph's are its
    FOV diameter (:func:`retina_tutorial.scale.fov_diameter`) over the
    camera's field angle. Within 0.3 % passes.

    Parameters
    ----------
    answer : float or None
        The factor (below 1 shrinks the photograph).
    fov : (H, W) bool ndarray
        The photograph's FOV mask.
    field_degrees : float
        Its camera's field angle.
    model_scale : retina_tutorial.scale.Scale
        The scale the model was trained at (DRIVE's for the shipped model).
    verbose : bool
        Print the feedback.
    """
    photo = scale.Scale(scale.fov_diameter(fov), field_degrees)
    truth = model_scale.pixels_per_degree / photo.pixels_per_degree
    if answer is None:
        return _unanswered("the resize factor (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    area_diameter = 2 * (float(fov.sum()) / 3.141592653589793) ** 0.5
    if _close(value, truth, 0.003):
        return _finish(True, (
            f"{photo.fov_diameter:.0f} pixels over {field_degrees:g}° is "
            f"{photo.pixels_per_degree:.1f} pixels per degree against the model's "
            f"{model_scale.pixels_per_degree:.1f}: resizing by {truth:.3f} makes the vessels "
            "as wide in pixels as those it learned from."
        ), verbose)  # fmt: skip
    by_width = model_scale.fov_diameter / photo.fov_diameter
    by_area = model_scale.pixels_per_degree / (area_diameter / field_degrees)
    if _close(value, by_area, 0.003) and not _close(by_area, truth, 0.003):
        message = (
            "That diameter comes from the FOV's area; the frame cuts the circle, so the "
            "area underestimates it. Use its width, scale.fov_diameter."
        )
    elif _close(value, by_width, 0.02):
        message = (
            "That matches the FOV widths, not the field angles: this camera sees "
            f"{field_degrees:g}° across its FOV, the model's {model_scale.field_degrees:g}°, "
            "so a degree spans a different number of pixels. Compare pixels per degree."
        )
    elif value > 0 and _close(1 / value, truth, 0.02):
        message = (
            "That factor goes the other way: the model's pixels per degree over the photograph's."
        )
    else:
        message = (
            "Hint: pixels per degree = FOV diameter (scale.fov_diameter) / field angle; "
            "divide the model's (model_scale.pixels_per_degree) by the photograph's."
        )
    return _finish(False, message, verbose)


def check_images_improved(answer, before, after, *, verbose: bool = True) -> Result:
    """Check how many test images a fine-tuned model segments better than the model as it is.

    Explained in ``book/07_your_own_data.ipynb`` (exercise 4): per image,
    the F1 of each model's map at that model's own threshold (chosen on the
    validation images), compared image by image, paired. An exact count
    passes.

    Parameters
    ----------
    answer : int or None
    before, after : retina_tutorial.evaluate.EvaluationReport
        The two models' evaluations on the same test images.
    verbose : bool
        Print the feedback.
    """
    if answer is None:
        return _unanswered("a count of test images (one whole number)", verbose)
    value = _as_number(answer)
    if value is None or value != int(value):
        return _not_a_number(answer, "one whole number", verbose)
    truth = _improved(before, after, before.threshold, after.threshold)
    if int(value) == truth:
        return _finish(True, (
            f"{truth} of {len(before.test)}: each image compared with itself, the pairing "
            "that makes a difference between two models on few images trustworthy."
        ), verbose)  # fmt: skip
    if int(value) == _improved(before, after, 0.5, 0.5) != truth:
        message = (
            "That count compares the maps at 0.5; each model is used at its own threshold "
            "(report.threshold), chosen on the validation images."
        )
    else:
        message = (
            "Hint: for each test image, the F1 of before.test_probabilities >= "
            "before.threshold and of after.test_probabilities >= after.threshold against "
            "the 1st annotation inside the FOV (metrics.per_image_metrics does it); count "
            "the images where the second is higher."
        )
    return _finish(False, message, verbose)


def check_threshold_spread(answer, reports, *, verbose: bool = True) -> Result:
    """Check the spread over seeds of the threshold each fine-tuned model chose.

    Explained in ``book/07_your_own_data.ipynb`` (exercise 5): the sample
    standard deviation (``ddof=1``) of the thresholds of the seeds'
    evaluations. Within 0.1 % passes.

    Parameters
    ----------
    answer : float or None
    reports : sequence of retina_tutorial.evaluate.EvaluationReport
        One evaluation per seed (at least two).
    verbose : bool
    """
    thresholds = np.array([float(report.threshold) for report in reports])
    if len(thresholds) < 2:
        raise ValueError("check_threshold_spread: a spread needs at least two seeds' reports.")
    if answer is None:
        return _unanswered("a standard deviation (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number", verbose)
    truth = float(thresholds.std(ddof=1))
    if _close(value, truth, 0.001) or abs(value - truth) < 1e-9:
        return _finish(True, (
            f"The threshold moves by about {truth:.3f} from seed to seed: the threshold is "
            "part of the model, and it is as uncertain as the weights."
        ), verbose)  # fmt: skip
    population = float(thresholds.std(ddof=0))
    if _close(value, population, 0.001) and not _close(population, truth, 0.001):
        message = (
            "That is the spread of these seeds as a whole population (ddof=0); they are a "
            "sample of the seeds one could train: use the sample standard deviation (ddof=1)."
        )
    else:
        message = (
            "Hint: collect report.threshold of each seed's evaluation and take their "
            "standard deviation with np.std(..., ddof=1)."
        )
    return _finish(False, message, verbose)


def _improved(before, after, threshold_before, threshold_after) -> int:
    test = before.test
    rows_before = metrics.per_image_metrics(
        before.test_probabilities, test.vessels, test.fov, threshold_before
    )
    rows_after = metrics.per_image_metrics(
        after.test_probabilities, test.vessels, test.fov, threshold_after
    )
    return sum(b["f1"] > a["f1"] for a, b in zip(rows_before, rows_after))
