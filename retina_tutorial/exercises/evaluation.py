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


def check_validation_threshold(
    answer,
    validation_probabilities,
    validation: data.Split,
    *,
    test_probabilities=None,
    test: data.Split | None = None,
    verbose: bool = True,
) -> Result:
    """Check a decision threshold chosen to maximise F1 on the validation images.

    Explained in ``book/05_evaluation.ipynb`` (exercise 2). Any threshold
    whose pooled validation F1 is within 2e-4 of the best one passes (a
    threshold tuned over all pixels instead of the FOV is 7e-4 below on
    DRIVE). Given
    the test probabilities too, the checker recognises a threshold chosen on
    the test images and says why that is not allowed.

    Parameters
    ----------
    answer : float or None
        The learner's threshold in [0, 1].
    validation_probabilities : (N, H, W) float ndarray
    validation : Split
        Truth and FOV of the validation images.
    test_probabilities : (M, H, W) float ndarray, optional
    test : Split, optional
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

    def f1(probabilities, split, threshold):
        return evaluate.pixel_metrics(probabilities, split.vessels, split.fov, threshold)["f1"]

    best = evaluate.choose_threshold(validation_probabilities, validation.vessels, validation.fov)
    best_f1 = f1(validation_probabilities, validation, best)
    given_f1 = f1(validation_probabilities, validation, value)
    if test_probabilities is not None and test is not None:
        # Checked first: near its top the validation F1 curve is flat, so the
        # test set's favourite may score almost as well there.
        on_test = evaluate.choose_threshold(test_probabilities, test.vessels, test.fov)
        if abs(value - on_test) < 0.005 and abs(value - best) >= 0.005:
            return _finish(
                False,
                (
                    "That is the threshold the *test* images prefer. Choosing it there fits a "
                    "parameter to the test set, and the test F1 you report becomes optimistic. "
                    "Use the validation probabilities and masks."
                ),
                verbose,
            )
    if given_f1 >= best_f1 - 2e-4:
        return _finish(
            True,
            (
                f"Threshold {value:.3f} gives the validation images their best F1, {best_f1:.4f}. "
                "Chosen without looking at the test images, it can be applied to them as is."
            ),
            verbose,
        )
    if value == 0.5:
        message = (
            "0.5 is the default, not the best threshold for these images: compute F1 at "
            "every threshold `evaluate.roc_pr_curves` gives for the validation images and "
            "keep the one where it is highest."
        )
    else:
        message = (
            f"Threshold {value:.3f} gives validation F1 {given_f1:.4f}, the best is "
            f"{best_f1:.4f}. Hint: F1 = 2 P R / (P + R) from the `precision` and `recall` "
            "of `evaluate.roc_pr_curves` on the validation images; take the threshold of "
            "the largest."
        )
    return _finish(False, message, verbose)


def check_images_beating_observer(
    answer, model_rows, observer_rows, *, metric: str = "f1", verbose: bool = True
) -> Result:
    """Check on how many test images the model scores higher than the 2nd observer.

    Explained in ``book/05_evaluation.ipynb`` (exercise 3).

    Parameters
    ----------
    answer : int, collection of str, or None
        The number of images, or their ids.
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
    winners = {name for name in model if model[name] > observer[name]}
    if answer is None:
        return _unanswered("the number of test images on which the model wins", verbose)
    if (
        not isinstance(answer, (str, bytes))
        and hasattr(answer, "__iter__")
        and not isinstance(answer, np.ndarray)
    ):
        chosen = {_as_image_id(name, model) for name in answer}
        if chosen == winners:
            return _finish(
                True,
                (
                    f"The model beats the 2nd observer on {len(winners)} of {len(model)} images: "
                    f"{', '.join(sorted(winners)) or 'none'}."
                ),
                verbose,
            )
        wrong, missing = sorted(chosen - winners), sorted(winners - chosen)
        return _finish(
            False,
            (
                f"Those are not the right images: {wrong or 'none'} should not be there, "
                f"{missing or 'none'} are missing. Compare the two {metric} values of each image."
            ),
            verbose,
        )
    value = _as_number(answer)
    if value is None:
        return _not_a_number(answer, "a whole number (or a set of image ids)", verbose)
    truth = len(winners)
    if value == truth:
        return _finish(
            True,
            (
                f"The model beats the 2nd observer on {truth} of {len(model)} images. Mind what "
                "that means: the model learned the 1st observer's style, so it is judged by its "
                "teacher, while the 2nd observer is not."
            ),
            verbose,
        )
    if value == len(model) - truth:
        message = (
            "That is the number of images on which the 2nd observer wins; we asked for the model."
        )
    elif value == truth / len(model) or value == 100 * truth / len(model):
        message = f"Give the count of images, not a fraction (there are {len(model)} images)."
    else:
        message = (
            f"Hint: for each of the {len(model)} image ids, compare the model's {metric} with "
            "the 2nd observer's, and count the images where the model's is higher."
        )
    return _finish(False, message, verbose)


def _as_image_id(name, known) -> str:
    """An image id as the rows write it: 1, "1" and "01" all mean "01" when that is the id."""
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

    Explained in ``book/05_evaluation.ipynb`` (exercise 4): it is the share
    of vessel pixels among the FOV pixels, the chance line of the PR plot.

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
