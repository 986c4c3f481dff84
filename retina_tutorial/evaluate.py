"""Measure a vessel segmentation the way the DRIVE literature does.

Explained in ``book/05_evaluation.ipynb``.

The protocol: DRIVE's native 584 x 565 grid, only pixels inside the field of
view (FOV), pooled over all 20 test images, against the 1st manual
annotation. The 2019 article evaluated on images resized to 512 x 512 and
counted every pixel, background included; the dark background is trivially
"correct", which inflates accuracy and ROC AUC, so its numbers cannot be
compared with published ones.

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
import math
import numbers
import time

import numpy as np
from PIL import Image, ImageFilter

from retina_tutorial import bootstrap, calibration, data, inference, provenance, splits, topology

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

#: The scores reported with confidence intervals, in report order.
HEADLINE_NAMES = (
    "roc_auc",
    "pr_auc",
    "f1",
    "f1_per_image",
    "accuracy",
    "sensitivity",
    "specificity",
    "mcc",
    "ece",
    *topology.TOPOLOGY_NAMES,
)
HEADLINE_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "f1": "F1 (pooled)",
    "f1_per_image": "F1 (mean per image)",
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "mcc": "MCC",
    "ece": "calibration error",
    "components": "pieces per image",
    "components_10px": "pieces >= 10 px",
    "centreline_recall": "centreline recall",
    "centreline_precision": "centreline precision",
    "cldice": "clDice",
}

PROTOCOL = (
    "DRIVE protocol: native 584x565 resolution, pixels inside the field of view "
    "only, pooled over all test images, truth = 1st manual annotation; "
    "vessel where probability >= threshold."
)


@dataclasses.dataclass
class EvaluationReport:
    """Everything :func:`evaluate_model` measured, for :func:`~retina_tutorial.report.write_report`.

    Attributes
    ----------
    threshold : float
        Chosen on the validation images by :func:`choose_threshold`.
    test_at_half, test_at_threshold : dict
        Pooled test metrics at 0.5 and at ``threshold``.
    validation_at_threshold : dict
        Pooled validation metrics at ``threshold`` (what it was tuned on).
    per_image : list of dict
        One row per test image and threshold (0.5, then ``threshold``).
    second_observer : dict or None
        2nd manual against the 1st (``None`` without a 2nd manual).
    second_observer_per_image : list of dict or None
    test_probabilities : (N, H, W) float32 ndarray
    validation_probabilities : (M, H, W) float32 ndarray
    test, validation : Split
        The images and annotations evaluated on.
    tta : bool
        Whether predictions averaged the four flips.
    data_source, data_description : str
        ``"drive"`` or ``"synthetic"``, and where the data was read.
    model_name : str
    model_parameters : int
    seconds_per_image : float
        Prediction time per image on this machine.
    field_degrees : float
        The data set's camera field angle, which set its scale.
    fov_estimated : bool
        Whether the FOV masks were estimated (the data set ships none).
    resize_factors : list of float
        The distinct factors the images were resized by before the model saw
        them (``[1.0]``: at their own size, as DRIVE always is).
    protocol : str
        How the metrics were computed, in one sentence.
    topology : dict or None
        :func:`topology_summary`: pieces and centreline measures of the
        model's map at ``threshold`` (``model``) and at 0.5, of the 2nd
        observer and of the 1st annotation.
    calibration : dict or None
        :func:`retina_tutorial.calibration.reliability` of the test maps.
    validation_calibration : dict or None
        The same for the validation maps, which chose the threshold.
    intervals : dict or None
        :func:`confidence_intervals` at ``threshold``.
    """

    threshold: float
    test_at_half: dict
    test_at_threshold: dict
    validation_at_threshold: dict
    per_image: list
    second_observer: dict | None
    second_observer_per_image: list | None
    test_probabilities: np.ndarray
    validation_probabilities: np.ndarray
    test: data.Split
    validation: data.Split
    tta: bool
    data_source: str
    data_description: str
    model_name: str
    model_parameters: int
    seconds_per_image: float
    field_degrees: float = 45.0
    fov_estimated: bool = False
    resize_factors: list = dataclasses.field(default_factory=lambda: [1.0])
    protocol: str = PROTOCOL
    topology: dict | None = None
    calibration: dict | None = None
    intervals: dict | None = None
    validation_calibration: dict | None = None

    def __repr__(self) -> str:
        return (
            f"EvaluationReport({self.model_name}, {len(self.test)} test images of "
            f"{self.data_source}, threshold {self.threshold:.3f}, "
            f"F1 {self.test_at_threshold['f1']:.4f}, AUC {self.test_at_threshold['roc_auc']:.4f})"
        )

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        """The pooled test metrics side by side with the 2nd observer, as text."""
        columns = [
            ("at 0.5", self.test_at_half),
            (f"at {self.threshold:.3f}", self.test_at_threshold),
        ]
        if self.second_observer is not None:
            columns.append(("2nd observer", self.second_observer))
        data_name = splits.display_name(self.data_source)
        lines = [
            f"{self.model_name} on {len(self.test)} {data_name} test images "
            f"(FOV pixels, native resolution{', TTA' if self.tta else ''}):",
        ]

        def cell(values, metric):
            value = values.get(metric)
            return "—" if value is None else f"{value:.4f}"

        rows = {metric: metric for metric in METRIC_NAMES}
        return "\n".join(lines + _side_by_side("metric", rows, columns, cell, (12, 14)))

    def intervals_table(self) -> str:
        """Headline scores with their 95 % bootstrap intervals, as text."""
        if self.intervals is None:
            return "No confidence intervals (fewer than 2 test images)."
        columns = [("model", self._headline("model"))]
        if self.second_observer is not None:
            columns.append(("2nd observer", self._headline("second_observer")))
        lines = [
            f"Test scores at {self.threshold:.3f}, with 95 % intervals",
            f"({self.intervals['replicates']} bootstrap draws of the "
            f"{len(self.test)} test images):",
        ]

        def cell(values, metric):
            if metric not in values:
                return "—"
            value, (low, high) = values[metric]
            digits = 1 if metric.startswith("components") else 4
            return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

        rows = {metric: HEADLINE_LABELS[metric] for metric in HEADLINE_NAMES}
        return "\n".join(lines + _side_by_side("", rows, columns, cell, (21, 26)))

    def _headline(self, who: str) -> dict:
        """metric -> (value, (low, high)) for ``model`` or ``second_observer``."""
        entries = self.intervals[who]
        return {
            name: (entries[name]["value"], entries[name]["interval"])
            for name in HEADLINE_NAMES
            if name in entries and entries[name]["value"] is not None
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
    threshold = _check_threshold(threshold)
    values, labels = _fov_pixels(probabilities, truth, fov)
    positives, negatives = _split_sorted(values, labels)
    result = _ranking_metrics(positives, negatives)
    result.update(_counts_metrics(*_counts_at(positives, negatives, threshold)))
    result["threshold"] = threshold
    return _ordered(result)


def optic_disc_centre(image, fov, *, margin: int = 30) -> tuple[int, int]:
    """Where the optic disc is: the brightest spot well inside the field of view.

    Explained in ``book/06_going_further.ipynb``. The optic disc is the
    largest bright spot of a fundus photograph, so the centre of the
    brightest 51 x 51 box (a box blur of the mean intensity) at least
    ``margin`` pixels inside the FOV finds it closely enough to place a
    close-up; the margin keeps the bright rim of the camera's field out.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].
    fov : (H, W) bool ndarray
        Field of view.
    margin : int
        Distance in pixels from the FOV border that the centre must keep.

    Returns
    -------
    (row, column) : tuple of int

    Raises
    ------
    ValueError
        If the shapes differ or no pixel lies ``margin`` pixels inside the FOV.
    """
    from scipy import ndimage  # distance transform: fast even for a wide margin

    image, fov = np.asarray(image, np.float32), np.asarray(fov, bool)
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[:2] != fov.shape:
        raise ValueError(
            f"optic_disc_centre: image (H, W, 3) and fov (H, W) must match; "
            f"got {image.shape} and {fov.shape}."
        )
    inner = ndimage.distance_transform_edt(fov) > margin
    if not inner.any():
        raise ValueError(
            f"optic_disc_centre: no pixel lies more than {margin} pixels inside the FOV; "
            "pass a smaller margin."
        )
    grey = np.round(np.clip(image.mean(axis=-1), 0, 1) * 255).astype(np.uint8)
    bright = np.asarray(Image.fromarray(grey).filter(ImageFilter.BoxBlur(25)))
    row, column = np.unravel_index(np.argmax(np.where(inner, bright, 0)), fov.shape)
    return int(row), int(column)


def densest_square(mask, side: int, *, away_from=None, distance: float = 0.0) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` square holding the most of ``mask``.

    Explained in ``book/06_going_further.ipynb``, where it finds the spot
    of an image with the most errors (or missed thin vessels) for a
    close-up. Squares lie on a grid of ``side // 4`` pixels; of equal ones
    the first in reading order wins.

    Parameters
    ----------
    mask : (H, W) bool ndarray
        What to count.
    side : int
        Side of the square, at most the image's smaller side.
    away_from : (row, column), optional
        Skip squares whose centre is closer than ``distance`` to this point
        (e.g. the optic disc, to look elsewhere).
    distance : float
        See ``away_from``.

    Returns
    -------
    (top, left) : tuple of int

    Examples
    --------
    >>> mask = np.zeros((16, 16), bool); mask[8:12, 4:8] = True
    >>> densest_square(mask, 4)
    (8, 4)
    """
    mask = np.asarray(mask, bool)
    if (
        isinstance(side, bool)
        or not isinstance(side, (int, np.integer))
        or not (1 <= side <= min(mask.shape[:2], default=0))
        or mask.ndim != 2
    ):
        raise ValueError(
            f"densest_square: side must be an integer from 1 to the smaller side of a "
            f"(H, W) mask; got side={side!r} for shape {mask.shape}."
        )
    step = max(1, side // 4)
    tops = np.arange(0, mask.shape[0] - side + 1, step)
    lefts = np.arange(0, mask.shape[1] - side + 1, step)
    summed = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = (
        summed[tops[:, None] + side, lefts[None] + side]
        - summed[tops[:, None], lefts[None] + side]
        - summed[tops[:, None] + side, lefts[None]]
        + summed[tops[:, None], lefts[None]]
    )
    if away_from is not None:
        centres = np.hypot(
            tops[:, None] + side / 2 - away_from[0], lefts[None] + side / 2 - away_from[1]
        )
        counts = np.where(centres < distance, -1, counts)
    row, column = np.unravel_index(np.argmax(counts), counts.shape)
    return int(tops[row]), int(lefts[column])


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
    prediction = _binary(prediction, "prediction")
    values, labels = _fov_pixels(prediction, truth, fov, name="prediction")
    predicted = values >= 0.5
    tp = int(np.count_nonzero(predicted & labels))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = int(np.count_nonzero(labels)) - tp
    tn = labels.size - tp - fp - fn
    return _ordered(_counts_metrics(tp, fp, fn, tn))


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
    ids = _ids(ids, len(probabilities))
    truth, fov = np.asarray(truth), np.asarray(fov)
    _check_shapes(probabilities, truth, fov)
    return [
        {"id": name, **pixel_metrics(probabilities[i], truth[i], fov[i], threshold)}
        for i, name in enumerate(ids)
    ]


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
    values, labels = _fov_pixels(probabilities, truth, fov)
    positives, negatives = _split_sorted(values, labels)
    if positives.size == 0:
        raise ValueError(
            "truth has no vessel pixel inside the FOV: F1 cannot choose a threshold. "
            "Use images with annotated vessels (the validation split)."
        )
    candidates = np.unique(values)
    tp = positives.size - np.searchsorted(positives, candidates, side="left")
    fp = negatives.size - np.searchsorted(negatives, candidates, side="left")
    f1 = 2.0 * tp / (tp + fp + positives.size)
    best = int(np.argmax(f1))
    if best == 0:
        return float(candidates[0])
    return float((float(candidates[best]) + float(candidates[best - 1])) / 2.0)


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
    values, labels = _fov_pixels(probabilities, truth, fov)
    positives, negatives = _split_sorted(values, labels)
    if positives.size == 0 or negatives.size == 0:
        raise ValueError(
            "truth must hold both vessel and background pixels inside the FOV to draw "
            "ROC and precision-recall curves."
        )
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, points))
    thresholds = np.unique(np.concatenate([quantiles, [np.nextafter(values.max(), np.inf)]]))
    thresholds = thresholds[::-1]
    tp = positives.size - np.searchsorted(positives, thresholds, side="left")
    fp = negatives.size - np.searchsorted(negatives, thresholds, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    result = {
        "thresholds": thresholds.astype(np.float64),
        "fpr": fp / negatives.size,
        "tpr": tp / positives.size,
        "recall": tp / positives.size,
        "precision": precision.astype(np.float64),
        "pixels": int(values.size),
        "prevalence": positives.size / values.size,
    }
    result.update(_ranking_metrics(positives, negatives))
    return result


def second_observer(test_split: data.Split) -> dict:
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


def second_observer_per_image(test_split: data.Split) -> list:
    """:func:`second_observer` for each test image; rows with an ``id`` column.

    Explained in ``book/05_evaluation.ipynb``.
    """
    second = _second_manual(test_split)
    return [
        {"id": name, **binary_metrics(second[i], test_split.vessels[i], test_split.fov[i])}
        for i, name in enumerate(test_split.ids)
    ]


def evaluate_model(model, dataset: data.Dataset, *, tta: bool = False, batch_size: int = 1):
    """Predict the validation and test images and measure everything.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    model : keras.Model
        A U-Net from ``build_unet`` or :func:`retina_tutorial.inference.load_model`.
    dataset : Dataset
        Its ``validation`` split picks the threshold; its ``test`` split is
        measured at 0.5 and at that threshold.
    tta : bool
        Average predictions over the four flips.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    EvaluationReport

    Raises
    ------
    retina_tutorial.provenance.SeenImagesError
        If the model's file says it was trained or validated on any of the
        test images (or on images made from them).
    """
    provenance.check_unseen(model, dataset)
    start = time.perf_counter()
    field = dataset.field_degrees
    if dataset.at_drive_scale:
        validation = inference.predict(
            model, dataset.validation.images, tta=tta, batch_size=batch_size
        )
        test = inference.predict(model, dataset.test.images, tta=tta, batch_size=batch_size)
        factors = [1.0]
    else:  # another camera: each image at the model's scale, scored at its own
        validation, _ = inference.predict_split(
            model, dataset.validation, field, tta=tta, batch_size=batch_size
        )
        test, factors = inference.predict_split(
            model, dataset.test, field, tta=tta, batch_size=batch_size
        )
    seconds = (time.perf_counter() - start) / (len(validation) + len(test))
    split = dataset.test
    threshold = choose_threshold(validation, dataset.validation.vessels, dataset.validation.fov)
    per_image = []
    for value in dict.fromkeys((0.5, threshold)):  # once if the threshold is 0.5
        per_image += per_image_metrics(test, split.vessels, split.fov, value, ids=split.ids)
    has_second = split.vessels_2nd is not None
    predicted = test >= threshold
    return EvaluationReport(
        threshold=threshold,
        test_at_half=pixel_metrics(test, split.vessels, split.fov, 0.5),
        test_at_threshold=pixel_metrics(test, split.vessels, split.fov, threshold),
        validation_at_threshold=pixel_metrics(
            validation, dataset.validation.vessels, dataset.validation.fov, threshold
        ),
        per_image=per_image,
        second_observer=second_observer(split) if has_second else None,
        second_observer_per_image=second_observer_per_image(split) if has_second else None,
        test_probabilities=test,
        validation_probabilities=validation,
        test=split,
        validation=dataset.validation,
        tta=bool(tta),
        data_source=dataset.source,
        data_description=dataset.description,
        field_degrees=field,
        fov_estimated=dataset.fov_estimated,
        resize_factors=sorted({round(factor, 4) for factor in factors}),
        protocol=PROTOCOL if dataset.source in ("drive", "synthetic") else _protocol(dataset),
        model_name=model.name,
        model_parameters=int(model.count_params()),
        seconds_per_image=seconds,
        topology=topology_summary(predicted, split, at_half=test >= 0.5),
        calibration=calibration.reliability(test, split.vessels, split.fov),
        intervals=confidence_intervals(test, split, threshold) if len(split) > 1 else None,
        validation_calibration=calibration.reliability(
            validation, dataset.validation.vessels, dataset.validation.fov
        ),
    )


def topology_summary(prediction, split: data.Split, *, at_half=None) -> dict:
    """Pieces and centreline measures of a binary test map, its 2nd observer and truth.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    prediction : (N, H, W) bool ndarray
        The model's map at the chosen threshold.
    split : Split
        The test images' annotations (and 2nd manual, when it has one).
    at_half : (N, H, W) bool ndarray, optional
        The map at 0.5, measured too when given.

    Returns
    -------
    dict
        ``model``, optionally ``model_at_0.5`` and ``second_observer``: each
        :func:`retina_tutorial.topology.tree_metrics`; ``annotation``: the 1st
        annotation's pieces per image.
    """
    truth, fov = split.vessels, split.fov
    summary = {"model": topology.tree_metrics(prediction, truth, fov)}
    if at_half is not None:
        summary["model_at_0.5"] = topology.tree_metrics(at_half, truth, fov)
    if split.vessels_2nd is not None:
        summary["second_observer"] = topology.tree_metrics(split.vessels_2nd, truth, fov)
    every, large = topology.components(truth, fov)
    summary["annotation"] = {
        "components": every / len(truth),
        "components_10px": large / len(truth),
    }
    return summary


def confidence_intervals(
    probabilities,
    split: data.Split,
    threshold: float,
    *,
    replicates: int = bootstrap.REPLICATES,
    seed: int = bootstrap.SEED,
) -> dict:
    """95 % bootstrap intervals of the headline test scores, resampling images.

    Explained in ``book/05_evaluation.ipynb``. The model is scored at
    ``threshold``; the 2nd observer, when the split has one, on the same
    draws, so the interval of their difference is paired.

    Returns
    -------
    dict
        ``model`` and ``second_observer``: metric -> ``{"value", "interval"}``
        for :data:`HEADLINE_NAMES` (the observer has no AUC and no calibration
        error); ``model_minus_second_observer``: the same for the differences
        in pooled F1 and centreline recall; and how they were drawn
        (``method``, ``replicates``, ``confidence``, ``seed``).
    """
    probabilities = np.asarray(probabilities)
    truth, fov = split.vessels, split.fov
    _check_shapes(probabilities, truth, fov)
    tallies = {"model": _image_tallies(probabilities >= threshold, truth, fov)}
    tallies["model"]["ranking"] = bootstrap.ranking_histograms(probabilities, truth, fov)
    tallies["model"]["calibration"] = calibration.tallies(probabilities, truth, fov)
    if split.vessels_2nd is not None:
        tallies["second_observer"] = _image_tallies(split.vessels_2nd, truth, fov)

    def scores(drawn) -> dict:
        result = {}
        for who, tally in tallies.items():
            for name, value in _pooled_scores(tally, drawn).items():
                result[(who, name)] = value
        if "second_observer" in tallies:
            for name in ("f1", "centreline_recall"):
                difference = result[("model", name)] - result[("second_observer", name)]
                result[("model_minus_second_observer", name)] = difference
        return result

    everything = np.arange(len(truth))
    values = scores(everything)
    intervals = bootstrap.percentile_intervals(scores, len(truth), replicates=replicates, seed=seed)
    result = {
        "method": "percentile bootstrap over the test images (drawn with replacement); "
        "pooled scores pool the drawn images' pixels",
        "replicates": replicates,
        "confidence": bootstrap.CONFIDENCE,
        "seed": seed,
    }
    for (who, name), value in values.items():
        entry = {"value": value, "interval": intervals[(who, name)]}
        result.setdefault(who, {})[name] = entry
    return result


# --- helpers -----------------------------------------------------------------


def _side_by_side(corner: str, rows: dict, columns: list, cell, widths) -> list:
    """Text lines: a header of column names, then one line per row of cells."""
    label_width, cell_width = widths
    lines = [f"{corner:<{label_width}}" + "".join(f"{name:>{cell_width}}" for name, _ in columns)]
    for key, label in rows.items():
        cells = "".join(f"{cell(values, key):>{cell_width}}" for _, values in columns)
        lines.append(f"{label:<{label_width}}" + cells)
    return lines


def _image_tallies(prediction, truth, fov) -> dict:
    """Per-image counts from which any draw of images is scored."""
    counts, trees = [], []
    for predicted, annotated, region in zip(prediction, truth, fov):
        tp = int(np.count_nonzero(predicted & annotated & region))
        fp = int(np.count_nonzero(predicted & region)) - tp
        fn = int(np.count_nonzero(annotated & region)) - tp
        counts.append((tp, fp, fn, int(np.count_nonzero(region)) - tp - fp - fn))
        trees.append(list(topology.tree_counts(predicted, annotated, region).values()))
    return {"confusion": np.array(counts, np.int64), "tree": np.array(trees, np.int64)}


def _pooled_scores(tally: dict, drawn) -> dict:
    """Headline scores of the drawn images (indices, repeats allowed)."""
    confusion = tally["confusion"][drawn]
    pooled = _counts_metrics(*(int(count) for count in confusion.sum(axis=0)))
    scores = {name: pooled[name] for name in BINARY_METRIC_NAMES}
    scores["f1_per_image"] = float(
        np.mean([_counts_metrics(*(int(c) for c in row))["f1"] for row in confusion])
    )
    tree_keys = topology.TREE_COUNT_NAMES
    scores.update(
        topology.metrics_from_counts(
            dict(zip(tree_keys, tally["tree"][drawn].sum(axis=0))), images=len(drawn)
        )
    )
    if "ranking" in tally:
        scores.update(bootstrap.ranking_metrics(tally["ranking"][drawn].sum(axis=0)))
        scores["ece"] = calibration.calibration_error(tally["calibration"][drawn].sum(axis=0))
    return scores


def _protocol(dataset) -> str:
    fov = "estimated" if dataset.fov_estimated else "given"
    return (
        f"{dataset.source} protocol: each image at its native resolution (predicted at the "
        "model's scale and resized back), pixels inside the field of view only (masks "
        f"{fov}), pooled over all test images, truth = 1st annotation; vessel where "
        "probability >= threshold."
    )


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}.")
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:  # also rejects nan
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}.")
    return threshold


def _check_shapes(probabilities, truth, fov, name="probabilities") -> None:
    if not (probabilities.shape == truth.shape == fov.shape):
        raise ValueError(
            f"shapes differ: {name} {probabilities.shape}, truth {truth.shape}, "
            f"fov {fov.shape}. All three must be (H, W) or (N, H, W) of the same size."
        )
    if probabilities.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (N, H, W), got shape {probabilities.shape}.")


def _binary(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if array.size and not np.isin(array, (0, 1)).all():
        raise ValueError(
            f"{name} must be binary (bool, or 0/1), found values such as "
            f"{np.unique(array)[:5].tolist()}. Threshold it first, or use the 1st manual."
        )
    return array.astype(bool)


def _fov_pixels(probabilities, truth, fov, name="probabilities"):
    """Validated FOV pixels: float32 probabilities and bool labels, 1-D."""
    probabilities = np.asarray(probabilities)
    truth, fov = np.asarray(truth), np.asarray(fov)
    _check_shapes(probabilities, truth, fov, name)
    truth, fov = _binary(truth, "truth"), _binary(fov, "fov")
    if probabilities.dtype == bool:
        probabilities = probabilities.astype(np.float32)
    elif not (
        np.issubdtype(probabilities.dtype, np.floating)
        or np.issubdtype(probabilities.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be numbers in [0, 1], got dtype {probabilities.dtype}.")
    values = probabilities[fov]
    if values.size == 0:
        raise ValueError("fov has no True pixel: there is nothing to evaluate.")
    low, high = float(values.min()), float(values.max())
    if not (0.0 <= low and high <= 1.0):  # also catches nan
        raise ValueError(
            f"{name} must lie in [0, 1] inside the FOV, found [{low:g}, {high:g}]. "
            "Pass sigmoid probabilities, not logits or 0-255 values."
        )
    return values.astype(np.float32, copy=False), truth[fov]


def _split_sorted(values, labels):
    """Probabilities of vessel and of background pixels, each sorted ascending."""
    return np.sort(values[labels]), np.sort(values[~labels])


def _counts_at(positives, negatives, threshold):
    tp = int(positives.size - np.searchsorted(positives, threshold, side="left"))
    fp = int(negatives.size - np.searchsorted(negatives, threshold, side="left"))
    return tp, fp, positives.size - tp, negatives.size - fp


def _ranking_metrics(positives, negatives) -> dict:
    """ROC AUC (Mann-Whitney, ties half) and average precision from sorted arrays."""
    n_pos, n_neg = positives.size, negatives.size
    if n_pos == 0:
        return {"roc_auc": math.nan, "pr_auc": math.nan}
    # Distinct vessel probabilities: the only thresholds where recall changes.
    starts = np.flatnonzero(np.concatenate([[True], positives[1:] != positives[:-1]]))
    values = positives[starts]
    counts = np.diff(np.append(starts, n_pos))
    tp = n_pos - starts
    fp = n_neg - np.searchsorted(negatives, values, side="left")
    pr_auc = float(np.sum(counts / n_pos * (tp / (tp + fp))))
    if n_neg == 0:
        return {"roc_auc": math.nan, "pr_auc": pr_auc}
    below = np.searchsorted(negatives, values, side="left").astype(np.float64)
    equal = np.searchsorted(negatives, values, side="right") - below
    roc_auc = float(np.sum(counts * (below + 0.5 * equal)) / (float(n_pos) * n_neg))
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


def _ratio(numerator, denominator) -> float:
    return float(numerator) / denominator if denominator else math.nan


def _counts_metrics(tp: int, fp: int, fn: int, tn: int) -> dict:
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
