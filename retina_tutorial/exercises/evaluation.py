"""Exercise checkers for Chapter 05, evaluation."""

from __future__ import annotations

import numpy as np

from retina_tutorial import calibration, data, metrics
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
    _one_number,
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
    inside = metrics.pixel_metrics(probabilities, split.vessels, split.fov)["roc_auc"]
    everywhere = metrics.pixel_metrics(probabilities, split.vessels, np.ones_like(split.fov))[
        "roc_auc"
    ]
    # The same map with 0 outside the FOV, as the package writes maps to disk:
    # "all pixels" of that one is another number, which the statement rules out.
    zeroed = metrics.pixel_metrics(
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
            metrics.pixel_metrics(probabilities[i], split.vessels[i], mask[i])["roc_auc"]
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
    message = message[0].upper() + message[1:] + ". `metrics.pixel_metrics` returns `roc_auc`."
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
        scores = metrics.pixel_metrics(probabilities, split.vessels, split.fov, threshold)
        return scores["sensitivity"] + scores["specificity"] - 1

    best_j = _best_youden(validation_probabilities, validation)[1]
    given_j = youden(validation_probabilities, validation, value)
    f1_choice = metrics.choose_threshold(
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
            "`metrics.roc_pr_curves` gives for the validation images and keep the highest."
        )
    else:
        message = (
            f"J is {given_j:.4f} at {value:.3f}, below the best the validation images allow. "
            "Hint: `curves = metrics.roc_pr_curves(...)`, then the threshold where "
            "`curves['tpr'] - curves['fpr']` is largest."
        )
    return _finish(False, message, verbose)


def _best_youden(probabilities, split) -> tuple[float, float]:
    """The threshold with the highest Youden's J on ``split``, and that J."""
    curves = metrics.roc_pr_curves(probabilities, split.vessels, split.fov)
    best = int(np.argmax(curves["tpr"] - curves["fpr"]))
    threshold = float(curves["thresholds"][best])
    scores = metrics.pixel_metrics(probabilities, split.vessels, split.fov, threshold)
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
        :func:`retina_tutorial.metrics.per_image_metrics` at one threshold and
        :func:`retina_tutorial.metrics.second_observer_per_image`.
    metric : str
        The score compared.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    margins = _margins(model_rows, observer_rows, metric)
    if answer is None:
        return _unanswered("a pair `(image_id, margin)`", verbose)
    if isinstance(answer, (str, dict)) or np.ndim(answer) != 1 or len(answer) != 2:
        return _finish(False, "Give a pair `(image_id, margin)`.", verbose)
    image_id, margin = _as_image_id(answer[0], margins), _as_number(answer[1])
    if margin is None:
        return _finish(False, "The margin, second in the pair, must be one number.", verbose)
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
    if image_id not in margins:
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
    value = _one_number(answer, "the PR AUC of a constant prediction (one number)", verbose)
    if isinstance(value, Result):
        return value
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
            "Hint: compute it, with `metrics.pixel_metrics(np.full(shape, 0.5), truth, fov)`, "
            "or think: if every pixel is called vessel, what fraction of them is right?"
        )
    return _finish(False, message, verbose)


def check_calibration_error(answer, probabilities, split: data.Split, *, verbose=True) -> Result:
    """Check the expected calibration error (ECE) of a prediction, computed by hand.

    Explained in ``book/05_evaluation.ipynb`` (exercise 5).

    Parameters
    ----------
    answer : float or None
        The ECE over the FOV pixels of ``split``, with 10 equal-width bins.
    probabilities : (N, H, W) float ndarray
    split : Split
        Truth and FOV of those images.
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    _check_split(split, "split")
    value = _one_number(answer, "the expected calibration error (one number)", verbose)
    if isinstance(value, Result):
        return value
    inside = calibration.reliability(probabilities, split.vessels, split.fov)
    everywhere = np.ones_like(split.fov)
    gaps = np.abs(np.array(inside["mean_probability"]) - np.array(inside["vessel_share"]))
    nearest = _nearest(
        value,
        {
            "right": inside["ece"],
            "unweighted": float(np.nanmean(gaps)),
            "all pixels": calibration.reliability(probabilities, split.vessels, everywhere)["ece"],
            "largest": inside["max_gap"],
            "percent": 100 * inside["ece"],
        },
        FOUR_DECIMALS,
    )
    if nearest == "right":
        return _finish(
            True,
            (
                f"ECE {inside['ece']:.4f}: averaged over pixels, the gap between what the "
                "model says and what it finds is small, because most FOV pixels are easy "
                "background in the lowest bin, where both are near 0. The reliability "
                "diagram's middle bins tell more."
            ),
            verbose,
        )
    messages = {
        "unweighted": (
            "That is the plain mean of the bins' gaps. The ECE weighs each bin's gap by "
            "its share of the pixels."
        ),
        "all pixels": (
            "That counts the surround too: take the pixels inside the FOV only, as every "
            "metric here does."
        ),
        "largest": "That is the largest gap of one bin (the maximum calibration error).",
        "percent": "That looks like a percentage: give a fraction between 0 and 1.",
    }
    message = messages.get(nearest) or (
        NEAR_MISS
        if abs(value - inside["ece"]) < 2e-3
        else (
            "Hint: put the FOV pixels in 10 bins of equal width by probability; in each, "
            "take |mean probability - share of vessel pixels| times the bin's pixel count; "
            "sum, then divide by all FOV pixels."
        )
    )
    return _finish(False, message, verbose)


def check_paired_interval(
    answer, model_rows, observer_rows, *, metric: str = "f1", verbose: bool = True
) -> Result:
    """Check a paired percentile-bootstrap interval of the model's margin over the observer.

    Explained in ``book/05_evaluation.ipynb`` (exercise 6). The procedure is
    the statement's: :data:`RESAMPLES` resamples of the images, drawn with
    ``np.random.default_rng(0).integers(0, n, (RESAMPLES, n))``, each
    resample's mean margin, and the 2.5th and 97.5th percentiles
    (``np.percentile``).

    Parameters
    ----------
    answer : tuple of (float, float) or None
        ``(low, high)``.
    model_rows, observer_rows : list of dict
        Per-image rows with ``id`` and ``metric``, as in
        :func:`check_smallest_margin`.
    metric : str
    verbose : bool
        Print the feedback.

    Returns
    -------
    Result
    """
    model_rows = list(model_rows)
    margins = _margins(model_rows, observer_rows, metric)
    if answer is None:
        return _unanswered("a pair `(low, high)`", verbose)
    values = _pair_of_numbers(answer, "`(low, high)`", verbose)
    if isinstance(values, Result):
        return values
    ids = list(margins)  # in the order of model_rows
    differences = np.array([margins[name] for name in ids])
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(ids), (RESAMPLES, len(ids)))
    right = np.percentile(differences[picks].mean(axis=1), [2.5, 97.5])
    observed = {str(row["id"]): row[metric] for row in observer_rows}
    model = np.array([row[metric] for row in model_rows])
    observer = np.array([observed[name] for name in ids])
    unpaired_rng = np.random.default_rng(0)
    first = unpaired_rng.integers(0, len(ids), (RESAMPLES, len(ids)))
    second = unpaired_rng.integers(0, len(ids), (RESAMPLES, len(ids)))
    unpaired = np.percentile(model[first].mean(1) - observer[second].mean(1), [2.5, 97.5])
    spread = np.percentile(differences, [2.5, 97.5])

    def near(pair):
        return all(abs(v - t) <= FOUR_DECIMALS for v, t in zip(values, pair))

    if near(right):
        return _finish(
            True,
            (
                f"The mean margin lies in [{right[0]:+.4f}, {right[1]:+.4f}] (95 %). Paired: "
                "each resample keeps an image's two scores together, so what the images "
                "share (a hard image is hard for both) cancels, and the interval is narrower "
                "than the two scores' own intervals suggest."
            ),
            verbose,
        )
    if near(right[::-1]):
        message = "Both bounds are right but swapped: the low one first."
    elif near(unpaired):
        message = (
            "That resamples the model's and the observer's images apart. Pair them: "
            "resample the images once and take each image's margin."
        )
    elif near(spread):
        message = (
            "Those are percentiles of the margins themselves, the spread of single "
            "images. The interval is for their *mean*: take each resample's mean first."
        )
    else:
        message = (
            "Hint: `margins` in the order of `rows`, `rng = "
            "np.random.default_rng(0)`, `picks = rng.integers(0, n, (2000, n))`, "
            "`means = margins[picks].mean(axis=1)`, then `np.percentile(means, [2.5, 97.5])`."
        )
    return _finish(False, message, verbose)


#: Resamples of the paired bootstrap exercise.
RESAMPLES = 2000


def _margins(model_rows, observer_rows, metric: str) -> dict:
    model_rows, observer_rows = list(model_rows), list(observer_rows)
    model = {str(row["id"]): row[metric] for row in model_rows}
    observer = {str(row["id"]): row[metric] for row in observer_rows}
    if len(model) != len(model_rows) or set(model) != set(observer):
        raise ValueError(
            "model_rows must hold one row per image (one threshold), for the same image ids "
            "as observer_rows."
        )
    return {name: model[name] - observer[name] for name in model}
