"""Pixel metrics of a vessel map: scores, curves, thresholds, the second observer.

Explained in ``book/05_evaluation.ipynb``. Everything here takes probability
maps (or binary maps) and annotations as NumPy arrays and imports nothing of
the package but :mod:`retina_tutorial.checks`, so plotting, widgets, the
exercise checkers and the benchmarks measure without loading a model;
:mod:`retina_tutorial.evaluate` runs the whole protocol with them.

A pixel is predicted to be vessel when its probability is ``>= threshold``.
The threshold is 0.5 or the one that maximises F1 on the three validation
images (:func:`choose_threshold`), never one tuned on the test set.

Metrics, and what happens when one is undefined (documented choices):

``roc_auc``
    Area under the ROC curve (ties count half; equals scikit-learn's
    ``roc_auc_score``). ``nan`` if the truth has no vessel or no background
    pixel. A constant probability map scores 0.5.
``pr_auc``
    Average precision, sum over thresholds of (recall step) x precision
    (equals ``average_precision_score``). ``nan`` if the truth has no vessel
    pixel; 1.0 if it has no background pixel. A constant map scores the
    vessel fraction.
``f1``
    2 TP / (2 TP + FP + FN), the Dice coefficient. 1.0 when truth and
    prediction are both empty (perfect agreement), else 0.0 if either is.
``iou``
    TP / (TP + FP + FN), Jaccard; 1.0 when both are empty, like ``f1``.
``accuracy``
    (TP + TN) / pixels. Always defined.
``sensitivity``, ``specificity``, ``precision``
    TP / (TP + FN), TN / (TN + FP), TP / (TP + FP); ``nan`` when the
    denominator is 0 (no vessel in the truth, no background, nothing
    predicted as vessel).
``mcc``
    Matthews correlation coefficient; 0.0 when a row or column of the
    confusion matrix is empty, as in scikit-learn.

Every metric is computed here from one sort of the probabilities and the
confusion counts, not by calling scikit-learn, whose functions each sort or
count the pixels again: on 4.5 million pixels (DRIVE's test FOV) the eight
scikit-learn calls took 23 s on 2 CPU cores, this module 0.8 s. The tests
check every metric against scikit-learn's (``roc_auc_score``, ``average_precision_score``,
``f1_score``, ``matthews_corrcoef``, ``recall_score``, ``precision_score``,
``jaccard_score``, ``accuracy_score``) to 1e-6, ties included.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from retina_tutorial import checks

#: Every metric of :func:`pixel_metrics`, in report order.
METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "f1",
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "mcc",
    "iou",
)

#: The metrics of a binary segmentation (no ranking, hence no AUC).
BINARY_METRIC_NAMES = METRIC_NAMES[2:]

#: Confusion counts that accompany the metrics.
COUNT_NAMES = ("pixels", "tp", "fp", "fn", "tn")

#: Short names of the metrics, for tables and legends.
LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "f1": "F1",
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "precision": "precision",
    "mcc": "MCC",
    "iou": "IoU",
}
#: Longer names, with the other name each metric goes by, for plot axes.
AXIS_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC (average precision)",
    "f1": "F1 score (Dice)",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "precision": "Precision",
    "mcc": "Matthews correlation",
    "iou": "IoU (Jaccard)",
}


def pixel_metrics(probabilities, truth, fov, threshold: float = 0.5) -> dict:
    """Segmentation metrics pooled over the FOV pixels of one image or a stack.

    Explained in ``book/05_evaluation.ipynb``. Undefined cases are listed in
    the module docstring.

    Parameters
    ----------
    probabilities : (H, W) or (N, H, W) float ndarray
        Vessel probabilities in [0, 1] (a bool map is read as 0/1).
    truth : (H, W) or (N, H, W) bool ndarray
        Manual annotation, same shape.
    fov : (H, W) or (N, H, W) bool ndarray
        Field of view, same shape; only these pixels count.
    threshold : float
        In [0, 1]; vessel where ``probabilities >= threshold``.

    Returns
    -------
    dict
        ``METRIC_NAMES`` as floats, plus ``threshold`` and the confusion counts
        ``pixels``, ``tp``, ``fp``, ``fn``, ``tn`` as ints.

    Raises
    ------
    ValueError
        If shapes differ (both are named), values are out of range, the FOV
        is empty, or ``threshold`` is outside [0, 1].

    Examples
    --------
    >>> p = np.array([[0.9, 0.2], [0.7, 0.4]])
    >>> t = np.array([[True, False], [False, True]])
    >>> m = pixel_metrics(p, t, np.ones((2, 2), bool))
    >>> m["accuracy"], m["roc_auc"]
    (0.5, 0.75)
    """
    threshold = check_threshold(threshold)
    return sort_pixels(probabilities, truth, fov).metrics(threshold)


def binary_metrics(prediction, truth, fov) -> dict:
    """Metrics of a binary segmentation (no AUC: there is nothing to rank).

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    prediction, truth, fov : (H, W) or (N, H, W) bool ndarray
        Same shape; only FOV pixels count.

    Returns
    -------
    dict
        ``BINARY_METRIC_NAMES`` as floats and the confusion counts.
    """
    prediction = check_binary(prediction, "prediction")
    truth, fov = _checked_masks(prediction, truth, fov, "prediction")
    inside = int(np.count_nonzero(fov))
    if inside == 0:
        raise ValueError(_EMPTY_FOV)
    tp = int(np.count_nonzero(prediction & truth & fov))
    fp = int(np.count_nonzero(prediction & fov)) - tp
    fn = int(np.count_nonzero(truth & fov)) - tp
    return _ordered(from_counts(tp, fp, fn, inside - tp - fp - fn))


def per_image_metrics(probabilities, truth, fov, threshold: float = 0.5, *, ids=None) -> list:
    """:func:`pixel_metrics` for each image of a stack separately.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    probabilities, truth, fov : (N, H, W) ndarray
    threshold : float
    ids : sequence of str, optional
        Image names for the ``id`` column; default ``"0"``, ``"1"``, ...

    Returns
    -------
    list of dict
        One row per image: ``id`` then the keys of :func:`pixel_metrics`.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 3:
        raise ValueError(
            f"probabilities must be a (N, H, W) stack for per-image metrics, got shape "
            f"{probabilities.shape}."
        )
    threshold = check_threshold(threshold)
    ids = _ids(ids, len(probabilities))
    rows = []
    for index, image in enumerate(image_pixels(probabilities, truth, fov)):
        rows.append({"id": ids[index], **image.metrics(threshold)})
    return rows


def choose_threshold(probabilities, truth, fov) -> float:
    """The threshold that maximises pooled F1 on the given (validation) images.

    Explained in ``book/05_evaluation.ipynb``.

    Call it on the validation images only. Choosing the threshold on the test
    images would fit a parameter to the test set: the reported test F1 would
    be optimistic, and not comparable with methods that fix their threshold
    beforehand.

    Every distinct probability is tried; the result is the midpoint between
    the best one and the next lower one, so it gives the same F1 on these
    images and is not glued to one pixel's value.

    Parameters
    ----------
    probabilities, truth, fov : (H, W) or (N, H, W) ndarray
        As for :func:`pixel_metrics`.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If the truth has no vessel pixel in the FOV.
    """
    return sort_pixels(probabilities, truth, fov).best_threshold()


def roc_pr_curves(probabilities, truth, fov, *, points: int = 2000) -> dict:
    """ROC and precision-recall curves, exact at up to ``points`` thresholds.

    Explained in ``book/05_evaluation.ipynb``.

    Returns
    -------
    dict
        ``thresholds`` (descending), ``fpr``, ``tpr`` (= ``recall``) and
        ``precision`` as 1-D float64 arrays, ``roc_auc`` and ``pr_auc``
        (exact, from every pixel), ``pixels`` (FOV pixels counted) and
        ``prevalence`` (their vessel fraction: the PR curve of chance).
    """
    return sort_pixels(probabilities, truth, fov).curves(points=points)


def second_observer(test_split) -> dict:
    """The 2nd manual annotation scored against the 1st, by the same protocol.

    Explained in ``book/05_evaluation.ipynb``.

    This is the human baseline: on DRIVE's test set it gives accuracy
    0.9473, sensitivity 0.7746, specificity 0.9725 and F1 0.7891. It is
    binary, so it has no AUC; on a ROC plot it is one point.

    Parameters
    ----------
    test_split : Split
        With ``vessels_2nd`` (DRIVE's test split).

    Raises
    ------
    ValueError
        If the split has no 2nd manual annotation.
    """
    return binary_metrics(_second_manual(test_split), test_split.vessels, test_split.fov)


def second_observer_per_image(test_split) -> list:
    """:func:`second_observer` for each test image; rows with an ``id`` column.

    Explained in ``book/05_evaluation.ipynb``.
    """
    second = _second_manual(test_split)
    return [
        {"id": name, **binary_metrics(second[i], test_split.vessels[i], test_split.fov[i])}
        for i, name in enumerate(test_split.ids)
    ]


def from_counts(tp: int, fp: int, fn: int, tn: int) -> dict:
    """The metrics of a binary map from its confusion counts (no AUC).

    Explained in ``book/05_evaluation.ipynb``. The bootstrap and the
    per-image tables score any set of images from their counts this way.

    Returns
    -------
    dict
        ``BINARY_METRIC_NAMES`` as floats, then the counts ``pixels``,
        ``tp``, ``fp``, ``fn``, ``tn`` as ints.

    Examples
    --------
    >>> scores = from_counts(tp=3, fp=1, fn=1, tn=5)
    >>> scores["f1"], scores["accuracy"]
    (0.75, 0.8)
    """
    pixels = tp + fp + fn + tn
    errors = fp + fn
    products = [float(tp + fp), float(tp + fn), float(tn + fp), float(tn + fn)]
    denominator = math.sqrt(math.prod(products))
    mcc = (float(tp) * tn - float(fp) * fn) / denominator if denominator else 0.0
    return {
        "f1": 1.0 if tp + errors == 0 else 2.0 * tp / (2 * tp + errors),
        "accuracy": (tp + tn) / pixels,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "mcc": mcc,
        "iou": 1.0 if tp + errors == 0 else tp / (tp + errors),
        "pixels": int(pixels),
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "tn": int(tn),
    }


# --- the FOV pixels, sorted once ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class SortedPixels:
    """The probabilities of the FOV pixels, vessel and background apart, each sorted.

    Explained in ``book/05_evaluation.ipynb``. Every pooled metric, the
    threshold choice and the curves are read from these two arrays by binary
    search, so a stack sorted once by :func:`sort_pixels` serves them all: on
    27 photographs of 3504 x 2336 pixels a sort is the slowest step there is.

    Attributes
    ----------
    positives, negatives : 1-D float32 ndarray
        Probabilities of the annotated vessel pixels and of the background
        pixels inside the FOV, ascending.
    """

    positives: np.ndarray
    negatives: np.ndarray

    def metrics(self, threshold: float = 0.5) -> dict:
        """:func:`pixel_metrics` of these pixels at ``threshold``."""
        threshold = check_threshold(threshold)
        if self.positives.size + self.negatives.size == 0:
            raise ValueError(_EMPTY_FOV)
        result = dict(self._ranking)
        result.update(from_counts(*_counts_at(self.positives, self.negatives, threshold)))
        result["threshold"] = threshold
        return _ordered(result)

    def best_threshold(self) -> float:
        """:func:`choose_threshold` of these pixels."""
        positives, negatives = self.positives, self.negatives
        if positives.size == 0:
            raise ValueError(
                "truth has no vessel pixel inside the FOV: F1 cannot choose a threshold. "
                "Use images with annotated vessels (the validation split)."
            )
        everything = self._merged()
        candidates = everything[np.concatenate([[True], everything[1:] != everything[:-1]])]
        del everything
        tp = positives.size - np.searchsorted(positives, candidates, side="left")
        fp = negatives.size - np.searchsorted(negatives, candidates, side="left")
        f1 = 2.0 * tp / (tp + fp + positives.size)
        best = int(np.argmax(f1))
        if best == 0:
            return float(candidates[0])
        return float((float(candidates[best]) + float(candidates[best - 1])) / 2.0)

    def curves(self, points: int = 2000) -> dict:
        """:func:`roc_pr_curves` of these pixels."""
        positives, negatives = self.positives, self.negatives
        if positives.size == 0 or negatives.size == 0:
            raise ValueError(
                "truth must hold both vessel and background pixels inside the FOV to draw "
                "ROC and precision-recall curves."
            )
        top = max(positives[-1], negatives[-1])
        pixels = positives.size + negatives.size
        # np.quantile of both arrays together, read from the two sorted runs: no copy of
        # the pixels (on 27 photographs of 3504 x 2336 pixels, 0.6 GB and 20 s saved).
        quantiles = _merged_quantiles(positives, negatives, np.linspace(0.0, 1.0, points))
        # Just above the top pixel, in the pixels' own precision (NumPy 1.x would
        # step in float64 for a Python inf, and that rounds back to the top).
        above_top = np.nextafter(top, top.dtype.type(np.inf))
        thresholds = np.unique(np.concatenate([quantiles, [above_top]]))
        thresholds = thresholds[::-1]
        tp = positives.size - _below(positives, thresholds)
        fp = negatives.size - _below(negatives, thresholds)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        result = {
            "thresholds": thresholds.astype(np.float64),
            "fpr": fp / negatives.size,
            "tpr": tp / positives.size,
            "recall": tp / positives.size,
            "precision": precision.astype(np.float64),
            "pixels": int(pixels),
            "prevalence": positives.size / pixels,
        }
        result.update(self._ranking)
        return result

    @functools.cached_property
    def _ranking(self) -> dict:
        """ROC AUC and average precision: the same at every threshold, so computed once."""
        return _ranking_metrics(self.positives, self.negatives)

    def _merged(self) -> np.ndarray:
        """Every pixel's probability, ascending (two sorted runs merged)."""
        everything = np.concatenate([self.positives, self.negatives])
        everything.sort(kind="stable")  # a merge sort: two sorted runs are merged, not re-sorted
        return everything


def _merged_quantiles(first, second, quantiles) -> np.ndarray:
    """``np.quantile`` (method ``"linear"``) of two ascending arrays joined, without joining them.

    The order statistics it interpolates between are found by binary search
    in both runs at once; the interpolation is numpy's own, step for step.

    >>> first, second = np.array([0.1, 0.4, 0.4], np.float32), np.array([0.2, 0.9], np.float32)
    >>> q = np.linspace(0.0, 1.0, 7)
    >>> bool(np.array_equal(_merged_quantiles(first, second, q),
    ...                     np.quantile(np.concatenate([first, second]), q)))
    True
    """
    quantiles = np.asarray(quantiles, np.float64)
    count = first.size + second.size
    virtual = (count - 1) * quantiles
    below = np.floor(virtual)
    above = below + 1
    last = virtual >= count - 1
    below[last] = above[last] = count - 1
    ranks = np.concatenate([below, above]).astype(np.int64)
    low = np.maximum(0, ranks + 1 - second.size)  # how many of the ranks+1 smallest are in first
    high = np.minimum(ranks + 1, first.size)
    while (open_ := low < high).any():
        middle = (low + high) // 2
        # One more from ``first`` while its next value is below the last one taken from ``second``.
        more = open_ & (
            first[np.minimum(middle, first.size - 1)]
            < second[np.clip(ranks - middle, 0, second.size - 1)]
        )
        low = np.where(more, middle + 1, low)
        high = np.where(open_ & ~more, middle, high)
    lowest = np.float32(-np.inf)
    from_first = np.where(low > 0, first[np.maximum(low - 1, 0)], lowest)
    taken = ranks + 1 - low
    from_second = np.where(taken > 0, second[np.maximum(taken - 1, 0)], lowest)
    values = np.maximum(from_first, from_second).astype(first.dtype)
    a, b = values[: quantiles.size], values[quantiles.size :]
    gamma = virtual - np.where(last, -1.0, below)  # numpy's, where the last index is -1
    difference = b - a
    result = a + difference * gamma
    np.subtract(b, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


def sort_pixels(probabilities, truth, fov, *, each=None, name="probabilities") -> SortedPixels:
    """The FOV pixels of one image or a stack, pooled and sorted: a :class:`SortedPixels`.

    Explained in ``book/05_evaluation.ipynb``. The pixels are gathered image
    by image into two arrays as large as the FOV, never as a copy of the
    whole stack, and sorted in place.

    Parameters
    ----------
    probabilities, truth, fov : (H, W) or (N, H, W) ndarray
        As for :func:`pixel_metrics`.
    each : callable, optional
        Called as ``each(index, pixels)`` with every image's own
        :class:`SortedPixels` as it is gathered: per-image metrics from the
        same sort (an image with an empty FOV is then an error).
    name : str
        What error messages call ``probabilities``.

    Raises
    ------
    ValueError
        As :func:`pixel_metrics`.
    """
    probabilities = np.asarray(probabilities)
    truth, fov = _checked_masks(probabilities, truth, fov, name)
    if probabilities.dtype == bool:
        probabilities = probabilities.view(np.uint8)  # 0 and 1; stored as float32 below
    elif not (
        np.issubdtype(probabilities.dtype, np.floating)
        or np.issubdtype(probabilities.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be numbers in [0, 1], got dtype {probabilities.dtype}.")
    if probabilities.ndim == 2:
        probabilities, truth, fov = probabilities[None], truth[None], fov[None]
    vessel = [int(np.count_nonzero(t & f)) for t, f in zip(truth, fov)]
    inside = [int(np.count_nonzero(f)) for f in fov]
    if sum(inside) == 0:
        raise ValueError(_EMPTY_FOV)
    positives = np.empty(sum(vessel), np.float32)
    negatives = np.empty(sum(inside) - sum(vessel), np.float32)
    at_positive = at_negative = 0
    for index, (values, labels, region) in enumerate(zip(probabilities, truth, fov)):
        values, labels = values[region], labels[region]
        if values.size:
            _check_range(values, name)
        image = SortedPixels(
            values[labels].astype(np.float32, copy=False),
            values[~labels].astype(np.float32, copy=False),
        )
        del values, labels
        if each is not None:
            image.positives.sort()
            image.negatives.sort()
            each(index, image)
        positives[at_positive : at_positive + image.positives.size] = image.positives
        negatives[at_negative : at_negative + image.negatives.size] = image.negatives
        at_positive += image.positives.size
        at_negative += image.negatives.size
    # In place, by numpy's default sort (vectorised where the CPU allows): faster than
    # timsort's merge of the sorted runs each image leaves, and with no buffer of half
    # the pixels. Equal numbers are indistinguishable, so any sort gives these arrays.
    positives.sort()
    negatives.sort()
    return SortedPixels(positives, negatives)


def image_pixels(probabilities, truth, fov):
    """Each image's :class:`SortedPixels`, one at a time (for per-image metrics).

    Raises
    ------
    ValueError
        As :func:`pixel_metrics`, for any image.
    """
    probabilities = np.asarray(probabilities)
    truth, fov = _checked_masks(probabilities, truth, fov, "probabilities")
    for index in range(len(probabilities)):
        yield sort_pixels(probabilities[index], truth[index], fov[index])


# --- input checks, public: plotting and widgets take the same arrays ----------


def check_threshold(threshold) -> float:
    """``threshold`` as a ``float`` in [0, 1]; any real number type is accepted.

    Raises
    ------
    ValueError
        If it is not a number (a ``bool`` is not), is ``nan``, or lies outside [0, 1].

    Examples
    --------
    >>> check_threshold(np.float32(0.25))
    0.25
    """
    return checks.real(threshold, "threshold", minimum=0.0, maximum=1.0)


def check_same_shape(probabilities, truth, fov, name: str = "probabilities") -> None:
    """Refuse maps whose shapes differ or that are not (H, W) or (N, H, W), naming them."""
    if not (probabilities.shape == truth.shape == fov.shape):
        raise ValueError(
            f"shapes differ: {name} {probabilities.shape}, truth {truth.shape}, "
            f"fov {fov.shape}. All three must be (H, W) or (N, H, W) of the same size."
        )
    if probabilities.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (N, H, W), got shape {probabilities.shape}.")


def check_binary(array, name: str) -> np.ndarray:
    """``array`` as a bool array; it must hold only 0 and 1 (or be bool).

    Raises
    ------
    ValueError
        Naming ``name`` and values it holds, such as 255 from an 8-bit mask.
    """
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError(
            f"{name} must be binary (bool, or 0/1), found values such as "
            f"{np.unique(array)[:5].tolist()}. Threshold it first, or use the 1st manual."
        )
    return array.astype(bool)


# --- helpers -----------------------------------------------------------------


_EMPTY_FOV = "fov has no True pixel: there is nothing to evaluate."


def _checked_masks(probabilities, truth, fov, name):
    """``truth`` and ``fov`` as bool arrays of ``probabilities``' shape, or a clear error."""
    truth, fov = np.asarray(truth), np.asarray(fov)
    check_same_shape(probabilities, truth, fov, name)
    return check_binary(truth, "truth"), check_binary(fov, "fov")


def _check_range(values, name) -> None:
    low, high = float(values.min()), float(values.max())
    if not (0.0 <= low and high <= 1.0):  # also catches nan
        raise ValueError(
            f"{name} must lie in [0, 1] inside the FOV, found [{low:g}, {high:g}]. "
            "Pass sigmoid probabilities, not logits or 0-255 values."
        )


def _counts_at(positives, negatives, threshold):
    tp = int(positives.size - _below(positives, threshold))
    fp = int(negatives.size - _below(negatives, threshold))
    return tp, fp, positives.size - tp, negatives.size - fp


def _below(ascending, thresholds):
    """How many of the ``ascending`` values lie below each threshold.

    ``np.searchsorted(ascending, thresholds)``, except that float32 values are
    searched for float32 thresholds: searched for a Python or float64 number,
    NumPy first copies the whole array as float64 (1.2 GB for the pixels of 27
    HRF-size photographs, at every threshold). Each threshold becomes the
    smallest float32 at or above it, below which lie exactly the same values.

    >>> values = np.array([0.1, 0.2, 0.3], np.float32)
    >>> int(_below(values, 0.2)), int(_below(values, float(np.float32(0.2))))
    (1, 1)
    """
    thresholds = np.asarray(thresholds)
    if ascending.dtype == np.float32 and thresholds.dtype != np.float32:
        wide = thresholds.astype(np.float64)
        narrow = wide.astype(np.float32)
        rounded_down = narrow.astype(np.float64) < wide
        thresholds = np.where(rounded_down, np.nextafter(narrow, np.float32(np.inf)), narrow)
    return np.searchsorted(ascending, thresholds, side="left")


#: Distinct probabilities whose terms :func:`_ranking_metrics` makes at once.
_BLOCK = 1 << 20


def _ranking_metrics(positives, negatives) -> dict:
    """ROC AUC (Mann-Whitney, ties half) and average precision from sorted arrays."""
    n_pos, n_neg = positives.size, negatives.size
    if n_pos == 0:
        return {"roc_auc": math.nan, "pr_auc": math.nan}
    # Distinct vessel probabilities: the only thresholds where recall changes. Each
    # one's terms of the two sums are made a block of them at a time: on 27 HRF-size
    # photographs there are millions, and whole-length temporaries took half a gigabyte.
    new = np.empty(n_pos, bool)
    new[0] = True
    np.not_equal(positives[1:], positives[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    del new
    precision_terms = np.empty(starts.size)
    rank_terms = np.empty(starts.size)
    for first in range(0, starts.size, _BLOCK):
        block = starts[first : first + _BLOCK]
        ends = starts[first + 1 : first + _BLOCK + 1]
        counts = np.diff(block, append=ends[-1] if ends.size == block.size else n_pos)
        values = positives[block]
        below = np.searchsorted(negatives, values, side="left")
        tp = n_pos - block
        fp = n_neg - below
        precision_terms[first : first + block.size] = counts / n_pos * (tp / (tp + fp))
        if n_neg:
            equal = np.searchsorted(negatives, values, side="right") - below.astype(np.float64)
            rank_terms[first : first + block.size] = counts * (below + 0.5 * equal)
    # Summed whole (NumPy's pairwise sum), as from whole-length arrays.
    pr_auc = float(np.sum(precision_terms))
    if n_neg == 0:
        return {"roc_auc": math.nan, "pr_auc": pr_auc}
    roc_auc = float(np.sum(rank_terms) / (float(n_pos) * n_neg))
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


def _ratio(numerator, denominator) -> float:
    return float(numerator) / denominator if denominator else math.nan


def _ordered(result: dict) -> dict:
    keys = [k for k in METRIC_NAMES if k in result] + ["threshold"] + list(COUNT_NAMES)
    return {k: result[k] for k in keys if k in result}


def _ids(ids, count: int) -> tuple:
    if ids is None:
        return tuple(str(i) for i in range(count))
    ids = tuple(str(i) for i in ids)
    if len(ids) != count:
        raise ValueError(f"ids has {len(ids)} names for {count} images.")
    return ids


def _second_manual(test_split) -> np.ndarray:
    if test_split.vessels_2nd is None:
        raise ValueError(
            "test_split has no 2nd manual annotation (vessels_2nd is None): the 2nd "
            "observer exists only for DRIVE's test split."
        )
    return test_split.vessels_2nd
