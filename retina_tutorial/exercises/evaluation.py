"""Exercise checkers for Chapter 05, evaluation."""

from __future__ import annotations

import numpy as np

from retina_tutorial import data, evaluate
from retina_tutorial.exercises._core import (
    FOUR_DECIMALS,
    NEAR_MISS,
    Result,
    _as_number,
    _check_split,
    _close,
    _finish,
    _nearest,
    _not_a_number,
    _pair_of_numbers,
    _unanswered,
    _vessel_shares,
)


def check_auc_two_ways(answer, probabilities, split: data.Split, *, verbose: bool = True) -> Result:
    """Check the ROC AUC of a prediction inside the FOV and over all pixels.

    Explained in ``book/05_evaluation.ipynb`` (exercise 1).

    Parameters
    ----------
    answer : tuple of (float, float) or None
        ``(inside_fov, all_pixels)``.
    probabilities : (N, H, W) float ndarray
        The model's probabilities for the images of ``split``.
    split : Split
        Truth and FOV of those images.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    _check_split(split, "split")
    if answer is None:
        return _unanswered("a pair `(inside_fov, all_pixels)` of ROC AUCs", verbose)
    values = _pair_of_numbers(answer, "`(inside_fov, all_pixels)`", verbose)
    if isinstance(values, Result):
        return values
    inside = evaluate.pixel_metrics(probabilities, split.vessels, split.fov)["roc_auc"]
    everywhere = evaluate.pixel_metrics(probabilities, split.vessels, np.ones_like(split.fov))[
        "roc_auc"
    ]
    # The same map with 0 outside the FOV, as the package writes maps to disk:
    # "all pixels" of that one is another number, which the statement rules out.
    zeroed = evaluate.pixel_metrics(
        np.where(split.fov, probabilities, 0.0), split.vessels, np.ones_like(split.fov)
    )["roc_auc"]
    inside_ok, everywhere_ok = _close(values[0], inside, 1e-4), _close(values[1], everywhere, 1e-4)
    if inside_ok and not everywhere_ok and _close(values[1], zeroed, 1e-4):
        return _finish(
            False,
            (
                f"Inside the FOV is right. Over all pixels, {values[1]:.4f} is the map with 0 "
                "outside the FOV; the exercise asks for the raw map, the network's output as "
                "predicted, surround included: pass the probabilities unchanged with an "
                "all-True mask, `np.ones_like(split.fov)`."
            ),
            verbose,
        )
    if inside_ok and everywhere_ok:
        if everywhere >= inside:
            why = (
                "The black surround is a pile of easy negatives that the model ranks below "
                "the vessels, so counting it raises the AUC without any better vessel detection."
            )
        else:
            why = (
                "Counting the surround lowers it here: the loss never looked at those pixels, "
                "so the network's raw output there is arbitrary and some of it outranks real "
                "vessels. Written as 0 outside the FOV, the surround would raise the AUC "
                "instead; either way the number no longer measures vessel detection."
            )
        return _finish(
            True,
            f"ROC AUC {inside:.4f} inside the FOV, {everywhere:.4f} over all pixels. {why}",
            verbose,
        )
    if _close(values[0], everywhere, 1e-4) and _close(values[1], inside, 1e-4):
        return _finish(False, "Both numbers are right but swapped: inside the FOV first.", verbose)
    per_image = [
        float(np.mean([
            evaluate.pixel_metrics(probabilities[i], split.vessels[i], mask[i])["roc_auc"]
            for i in range(len(split))
        ]))
        for mask in (split.fov, np.ones_like(split.fov))
    ]  # fmt: skip
    pooled = (inside, everywhere)
    if any(
        _close(values[k], per_image[k], 1e-4) and not _close(per_image[k], pooled[k], 1e-4)
        for k in (0, 1)
    ):
        return _finish(
            False,
            "That is the mean of per-image AUCs: pool the pixels of all images into one AUC.",
            verbose,
        )
    if abs(values[0] - inside) < 2e-3 and abs(values[1] - everywhere) < 2e-3:
        return _finish(False, NEAR_MISS, verbose)
    parts = []
    if not inside_ok:
        parts.append(f"inside the FOV {values[0]:.4f} is off (pass `split.fov` as the fov)")
    if not everywhere_ok:
        parts.append(
            f"over all pixels {values[1]:.4f} is off (pass an all-True mask, "
            "`np.ones_like(split.fov)`, as the fov)"
        )
    message = "; ".join(parts)
    message = message[0].upper() + message[1:] + ". `evaluate.pixel_metrics` returns `roc_auc`."
    return _finish(False, message, verbose)


def check_youden_threshold(
    answer,
    validation_probabilities,
    validation: data.Split,
    *,
    test_probabilities=None,
    test: data.Split | None = None,
    verbose: bool = True,
) -> Result:
    """Check a threshold chosen on the validation images by Youden's J.

    Explained in ``book/05_evaluation.ipynb`` (exercise 2). Youden's J is
    sensitivity + specificity - 1 (``tpr - fpr``); the chapter's own
    threshold maximises F1 instead, so it is not this answer.

    Parameters
    ----------
    answer : float or None
        The learner's threshold in [0, 1].
    validation_probabilities : (N, H, W) float ndarray
    validation : Split
        Truth and FOV of the validation images.
    test_probabilities : (M, H, W) float ndarray, optional
    test : Split, optional
        With them, a threshold chosen on the test images is named as such.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    _check_split(validation, "validation")
    if answer is None:
        return _unanswered("the threshold you chose (a number between 0 and 1)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number between 0 and 1", verbose)
    if not 0.0 <= value <= 1.0:
        return _finish(
            False, f"{value:g} is not a probability: a threshold lies in [0, 1].", verbose
        )

    def youden(probabilities, split, threshold):
        scores = evaluate.pixel_metrics(probabilities, split.vessels, split.fov, threshold)
        return scores["sensitivity"] + scores["specificity"] - 1

    best_j = _best_youden(validation_probabilities, validation)[1]
    given_j = youden(validation_probabilities, validation, value)
    f1_choice = evaluate.choose_threshold(
        validation_probabilities, validation.vessels, validation.fov
    )
    if test_probabilities is not None and test is not None:
        on_test = _best_youden(test_probabilities, test)[0]
        if abs(value - on_test) < 1e-3 and given_j < best_j - 1e-4:
            return _finish(
                False,
                (
                    "That is the threshold the *test* images prefer. Choosing it there fits a "
                    "parameter to the test set, and what you report on it becomes optimistic. "
                    "Use the validation probabilities and masks."
                ),
                verbose,
            )
    if given_j >= best_j - 1e-4:
        return _finish(
            True,
            (
                f"Threshold {value:.3f} gives the validation images their best J, {best_j:.4f}. "
                f"F1's choice, {f1_choice:.3f}, is higher: J weighs a missed vessel pixel "
                "against a false one by the class sizes, so with few vessel pixels it accepts "
                "many false ones to find more vessels. Which criterion fits depends on the use."
            ),
            verbose,
        )
    if abs(value - f1_choice) < 1e-3:
        message = (
            "That is the threshold that maximises F1 (`report.threshold`). Youden's J is "
            "another criterion: `tpr - fpr` at each threshold of the ROC curve."
        )
    elif value == 0.5:
        message = (
            "0.5 is the default, not J's best: compute `tpr - fpr` at every threshold "
            "`evaluate.roc_pr_curves` gives for the validation images and keep the highest."
        )
    else:
        message = (
            f"J is {given_j:.4f} at {value:.3f}, below the best the validation images allow. "
            "Hint: `curves = evaluate.roc_pr_curves(...)`, then the threshold where "
            "`curves['tpr'] - curves['fpr']` is largest."
        )
    return _finish(False, message, verbose)


def _best_youden(probabilities, split) -> tuple[float, float]:
    """The threshold with the highest Youden's J on ``split``, and that J."""
    curves = evaluate.roc_pr_curves(probabilities, split.vessels, split.fov)
    best = int(np.argmax(curves["tpr"] - curves["fpr"]))
    threshold = float(curves["thresholds"][best])
    scores = evaluate.pixel_metrics(probabilities, split.vessels, split.fov, threshold)
    return threshold, scores["sensitivity"] + scores["specificity"] - 1


def check_smallest_margin(
    answer, model_rows, observer_rows, *, metric: str = "f1", verbose: bool = True
) -> Result:
    """Check the test image where the model's lead over the 2nd observer is smallest.

    Explained in ``book/05_evaluation.ipynb`` (exercise 3).

    Parameters
    ----------
    answer : tuple of (str, float) or None
        ``(image_id, margin)``: the image, and the model's ``metric`` minus
        the 2nd observer's on it (negative where the observer is better).
    model_rows, observer_rows : list of dict
        Per-image rows with ``id`` and ``metric`` keys, e.g. from
        :func:`retina_tutorial.evaluate.per_image_metrics` at one threshold and
        :func:`retina_tutorial.evaluate.second_observer_per_image`.
    metric : str
        The score compared.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    model_rows, observer_rows = list(model_rows), list(observer_rows)
    model = {str(row["id"]): row[metric] for row in model_rows}
    observer = {str(row["id"]): row[metric] for row in observer_rows}
    if len(model) != len(model_rows) or set(model) != set(observer):
        raise ValueError(
            "model_rows must hold one row per image (one threshold), for the same image ids "
            "as observer_rows."
        )
    if answer is None:
        return _unanswered("a pair `(image_id, margin)`", verbose)
    if isinstance(answer, (str, dict)) or np.ndim(answer) != 1 or len(answer) != 2:
        return _finish(False, "Give a pair `(image_id, margin)`.", verbose)
    image_id, margin = _as_image_id(answer[0], model), _as_number(answer[1])
    if margin is None:
        return _finish(False, "The margin, second in the pair, must be one number.", verbose)
    margins = {name: model[name] - observer[name] for name in model}
    closest = min(margins, key=margins.get)
    if image_id == closest and abs(margin - margins[closest]) <= FOUR_DECIMALS:
        lead = (
            "The model scores higher than the 2nd observer on every test image"
            if margins[closest] > 0
            else "The 2nd observer scores higher on some test images"
        )
        return _finish(
            True,
            (
                f"Image {closest}: {margin:+.4f}. {lead}; mind what that means: the model "
                "learned the 1st observer's style, so it is judged by its teacher, while the "
                "2nd observer is not."
            ),
            verbose,
        )
    if image_id not in model:
        return _finish(
            False, f"{answer[0]!r} is not a test image id: the rows' ids are the ones.", verbose
        )
    if image_id == closest:
        if abs(margin + margins[closest]) <= FOUR_DECIMALS:
            message = "Right image, but the margin is the model's score minus the observer's."
        else:
            message = (
                f"Right image; the margin is off. {NEAR_MISS}"
                if abs(margin - margins[closest]) < 2e-3
                else "Right image; the margin is the difference of the two F1 values on it."
            )
    elif abs(margin - margins[image_id]) <= FOUR_DECIMALS:
        message = (
            f"That is image {image_id}'s margin, but another image has a smaller one: "
            "compare all of them."
        )
    else:
        message = (
            "Hint: for each image id, subtract the 2nd observer's F1 from the model's, at the "
            "validation threshold (the `rows` above), and keep the smallest difference."
        )
    return _finish(False, message, verbose)


def _as_image_id(name, known) -> str:
    """An image id as the rows write it: 1, "1", "01" and np.str_ all mean "01" when that is it."""
    text = str(name).strip()
    if text in known:
        return text
    if text.isdigit():
        matches = [i for i in known if i.isdigit() and int(i) == int(text)]
        if len(matches) == 1:
            return matches[0]
    return text


def check_chance_pr_auc(answer, split: data.Split, *, verbose: bool = True) -> Result:
    """Check the PR AUC of a model that gives every pixel the same probability.

    Explained in ``book/05_evaluation.ipynb`` (exercise 4).

    Parameters
    ----------
    answer : float or None
    split : Split
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    _check_split(split, "split")
    if answer is None:
        return _unanswered("the PR AUC of a constant prediction (one number)", verbose)
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "one number between 0 and 1", verbose)
    shares = _vessel_shares(split)
    truth = shares["right"]
    nearest = _nearest(
        value,
        {
            **shares,
            "trapezoid": (1 + truth) / 2,  # sklearn.metrics.auc(recall, precision)
            "percent": 100 * truth,
        },
        FOUR_DECIMALS,
    )
    if nearest == "right":
        return _finish(
            True,
            (
                f"{truth:.4f}: with every pixel tied, precision is the vessel share at every "
                "recall. A PR AUC must be read against this, not against 0.5 as a ROC AUC is."
            ),
            verbose,
        )
    if _close(value, 0.5, 1e-3):
        message = (
            "0.5 is the ROC AUC of a constant map. The PR curve of a constant map is flat "
            "at the precision you get by calling everything vessel."
        )
    elif nearest == "unmasked":
        message = (
            "That counts the vessel pixels outside the FOV too: keep only the pixels "
            "inside it, as the metric does, then take the vessel share."
        )
    elif nearest == "trapezoid":
        message = (
            "That is the area under the PR curve's straight line from (0, 1): average "
            "precision, which the metric reports, does not draw that line."
        )
    elif nearest == "percent":
        message = "That looks like a percentage: give a fraction between 0 and 1."
    elif _close(value, float(np.mean(split.vessels)), 1e-3):
        message = "You divided by all pixels; count only those inside the FOV, as the metric does."
    elif _close(value, 1 - truth, 1e-3):
        message = "That is the share of background pixels; precision is about vessel pixels."
    elif abs(value - truth) < 2e-3:
        message = NEAR_MISS
    else:
        message = (
            "Hint: compute it, with `evaluate.pixel_metrics(np.full(shape, 0.5), truth, fov)`, "
            "or think: if every pixel is called vessel, what fraction of them is right?"
        )
    return _finish(False, message, verbose)
