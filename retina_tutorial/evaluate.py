"""Measure a model the way the DRIVE literature does: the protocol, its report.

Explained in ``book/05_evaluation.ipynb``.

The protocol: DRIVE's native 584 x 565 grid, only pixels inside the field of
view (FOV), pooled over all 20 test images, against the 1st manual
annotation. The 2019 article evaluated on images resized to 512 x 512 and
counted every pixel, background included; the dark background is trivially
"correct", which inflates accuracy and ROC AUC, so its numbers cannot be
compared with published ones. The threshold is chosen on the validation
images, never on the test set.

:func:`evaluate_maps` runs the protocol on probability maps, whoever made
them; :func:`evaluate_model` first predicts them with a model. The metrics
themselves are in :mod:`retina_tutorial.metrics`, which needs no model.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from retina_tutorial import (
    bootstrap,
    calibration,
    data,
    datasets,
    deprecated,
    metrics,
    provenance,
    topology,
)

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
    **metrics.LABELS,
    "f1": "F1 (pooled)",
    "f1_per_image": "F1 (mean per image)",
    "ece": "calibration error",
    **topology.LABELS,
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
    curves : dict or None
        :func:`retina_tutorial.metrics.roc_pr_curves` of the test maps, from
        the same sort as the pooled metrics.
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
    curves: dict | None = None

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
        data_name = datasets.display_name(self.data_source)
        lines = [
            f"{self.model_name} on {len(self.test)} {data_name} test images "
            f"(FOV pixels, native resolution{', TTA' if self.tta else ''}):",
        ]

        def cell(values, metric):
            value = values.get(metric)
            return "—" if value is None else f"{value:.4f}"

        rows = {metric: metric for metric in metrics.METRIC_NAMES}
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


def evaluate_model(model, dataset: data.Dataset, *, tta: bool = False, batch_size: int = 1):
    """Predict the validation and test images with ``model``, then :func:`evaluate_maps`.

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
    # Imported here: only running a model needs Keras, not the protocol.
    from retina_tutorial import inference

    provenance.check_unseen(model, dataset)
    start = time.perf_counter()

    def predicted(split):  # each image at the model's scale, scored at its own
        return inference.predict_split(
            model,
            split,
            dataset.field_degrees,
            tta=tta,
            batch_size=batch_size,
            stated=dataset.stated_scale,
        )

    validation, _ = predicted(dataset.validation)
    test, factors = predicted(dataset.test)
    seconds = (time.perf_counter() - start) / (len(validation) + len(test))
    return evaluate_maps(
        validation,
        test,
        dataset,
        model_name=model.name,
        model_parameters=int(model.count_params()),
        tta=tta,
        seconds_per_image=seconds,
        resize_factors=factors,
    )


def evaluate_maps(
    validation_probabilities,
    test_probabilities,
    dataset: data.Dataset,
    *,
    model_name: str = "model",
    model_parameters: int = 0,
    tta: bool = False,
    seconds_per_image: float = math.nan,
    resize_factors=(1.0,),
) -> EvaluationReport:
    """Measure probability maps of a data set's validation and test images by the protocol.

    Explained in ``book/05_evaluation.ipynb``. The threshold is chosen on the
    validation maps (:func:`retina_tutorial.metrics.choose_threshold`); the
    test maps are measured at 0.5 and at it, pooled and per image, beside
    the 2nd observer, with pieces and centrelines, calibration and bootstrap
    intervals.

    Parameters
    ----------
    validation_probabilities, test_probabilities : (N, H, W) float ndarray
        Vessel probabilities laid out as ``dataset.validation.images`` and
        ``dataset.test.images``, at the images' own size.
    dataset : Dataset
    model_name, model_parameters, tta, seconds_per_image, resize_factors
        What made the maps, for the report.

    Returns
    -------
    EvaluationReport
    """
    validation, test = validation_probabilities, test_probabilities
    split = dataset.test
    # Each set's pixels are sorted once, for every pooled and per-image metric.
    pixels = metrics.sort_pixels(validation, dataset.validation.vessels, dataset.validation.fov)
    threshold = pixels.best_threshold()
    validation_at_threshold = pixels.metrics(threshold)
    thresholds = tuple(dict.fromkeys((0.5, threshold)))  # once if the threshold is 0.5
    rows = {value: [] for value in thresholds}

    def per_image(index, image):
        for value in thresholds:
            rows[value].append({"id": split.ids[index], **image.metrics(value)})

    pixels = metrics.sort_pixels(test, split.vessels, split.fov, each=per_image)
    test_at_half, test_at_threshold = pixels.metrics(0.5), pixels.metrics(threshold)
    curves = pixels.curves()  # for the report's figure, which need not sort them again
    del pixels
    tallies = _test_tallies(test, split, threshold, at_half=True)
    has_second = split.vessels_2nd is not None
    return EvaluationReport(
        threshold=threshold,
        test_at_half=test_at_half,
        test_at_threshold=test_at_threshold,
        validation_at_threshold=validation_at_threshold,
        per_image=[row for value in thresholds for row in rows[value]],
        second_observer=metrics.second_observer(split) if has_second else None,
        second_observer_per_image=metrics.second_observer_per_image(split) if has_second else None,
        test_probabilities=test,
        validation_probabilities=validation,
        test=split,
        validation=dataset.validation,
        tta=bool(tta),
        data_source=dataset.source,
        data_description=dataset.description,
        field_degrees=dataset.field_degrees,
        fov_estimated=dataset.fov_estimated,
        resize_factors=sorted({round(float(factor), 4) for factor in resize_factors}),
        protocol=PROTOCOL if dataset.source in ("drive", "synthetic") else _protocol(dataset),
        model_name=model_name,
        model_parameters=int(model_parameters),
        seconds_per_image=float(seconds_per_image),
        topology=_topology(tallies, len(split)),
        calibration=calibration.reliability_from_tallies(
            tallies["model"]["calibration"].sum(axis=0)
        ),
        intervals=_intervals(tallies, len(split)) if len(split) > 1 else None,
        validation_calibration=calibration.reliability(
            validation, dataset.validation.vessels, dataset.validation.fov
        ),
        curves=curves,
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
    maps = {"model": prediction, "model_at_0.5": at_half, "second_observer": split.vessels_2nd}
    maps = {who: np.asarray(masks) for who, masks in maps.items() if masks is not None}
    for masks in maps.values():
        metrics.check_same_shape(masks, truth, fov, "prediction")
    tallies = {who: {"tree": []} for who in maps}
    tallies["annotation"] = np.zeros(2, np.int64)
    for index in range(len(truth)):  # each annotation thinned once
        counts = topology.image_tree_counts(
            [masks[index] for masks in maps.values()], truth[index], fov[index]
        )
        for who, count in zip(maps, counts):
            tallies[who]["tree"].append(list(count.values()))
        tallies["annotation"] += topology.components(truth[index], fov[index])
    for who in maps:
        tallies[who]["tree"] = np.array(tallies[who]["tree"], np.int64)
    return _topology(tallies, len(truth))


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
    tallies = _test_tallies(probabilities, split, threshold, at_half=False)
    return _intervals(tallies, len(split), replicates=replicates, seed=seed)


# --- helpers -----------------------------------------------------------------


def _test_tallies(probabilities, split: data.Split, threshold: float, *, at_half: bool) -> dict:
    """Per test image, once: what the topology, calibration and bootstrap are computed from.

    ``model`` (at ``threshold``) and ``second_observer``, when the split has
    one: ``confusion`` (N, 4) and ``tree`` (N, 6) counts; ``model`` also
    ``ranking`` and ``calibration`` histograms; with ``at_half``,
    ``model_at_0.5``'s ``tree`` counts; ``annotation``: the truth's pieces,
    summed. Each map is thresholded and thinned image by image, and each
    annotation thinned once for all of them.
    """
    probabilities = np.asarray(probabilities)
    truth, fov, second = split.vessels, split.fov, split.vessels_2nd
    metrics.check_same_shape(probabilities, truth, fov)
    who = ["model", "model_at_0.5"] if at_half else ["model"]
    who += [] if second is None else ["second_observer"]
    counts = {name: {"confusion": [], "tree": []} for name in who}
    annotation = np.zeros(2, np.int64)
    for index in range(len(truth)):
        annotated, region = truth[index], fov[index]
        maps = {"model": probabilities[index] >= threshold}
        if at_half:
            maps["model_at_0.5"] = probabilities[index] >= 0.5
        if second is not None:
            maps["second_observer"] = second[index]
        trees = topology.image_tree_counts(list(maps.values()), annotated, region)
        for (name, predicted), tree in zip(maps.items(), trees):
            counts[name]["confusion"].append(_confusion(predicted, annotated, region))
            counts[name]["tree"].append(list(tree.values()))
        annotation += topology.components(annotated, region)
    tallies = {
        name: {kind: np.array(rows, np.int64) for kind, rows in tally.items()}
        for name, tally in counts.items()
    }
    tallies["model"]["ranking"] = bootstrap.ranking_histograms(probabilities, truth, fov)
    tallies["model"]["calibration"] = calibration.tallies(probabilities, truth, fov)
    tallies["annotation"] = annotation
    return tallies


def _topology(tallies: dict, images: int) -> dict:
    """:func:`topology_summary` from :func:`_test_tallies`."""
    summary = {
        who: topology.metrics_from_counts(
            dict(zip(topology.TREE_COUNT_NAMES, tallies[who]["tree"].sum(axis=0))), images
        )
        for who in ("model", "model_at_0.5", "second_observer")
        if who in tallies
    }
    every, large = (int(count) for count in tallies["annotation"])
    summary["annotation"] = {"components": every / images, "components_10px": large / images}
    return summary


def _intervals(
    tallies: dict,
    images: int,
    *,
    replicates: int = bootstrap.REPLICATES,
    seed: int = bootstrap.SEED,
) -> dict:
    """:func:`confidence_intervals` from :func:`_test_tallies`."""
    tallies = {who: tallies[who] for who in ("model", "second_observer") if who in tallies}

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

    values = scores(np.arange(images))
    intervals = bootstrap.percentile_intervals(scores, images, replicates=replicates, seed=seed)
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


def _side_by_side(corner: str, rows: dict, columns: list, cell, widths) -> list:
    """Text lines: a header of column names, then one line per row of cells."""
    label_width, cell_width = widths
    lines = [f"{corner:<{label_width}}" + "".join(f"{name:>{cell_width}}" for name, _ in columns)]
    for key, label in rows.items():
        cells = "".join(f"{cell(values, key):>{cell_width}}" for _, values in columns)
        lines.append(f"{label:<{label_width}}" + cells)
    return lines


def _confusion(predicted, annotated, region) -> tuple:
    """TP, FP, FN, TN of one binary map inside its FOV."""
    tp = int(np.count_nonzero(predicted & annotated & region))
    fp = int(np.count_nonzero(predicted & region)) - tp
    fn = int(np.count_nonzero(annotated & region)) - tp
    return tp, fp, fn, int(np.count_nonzero(region)) - tp - fp - fn


def _pooled_scores(tally: dict, drawn) -> dict:
    """Headline scores of the drawn images (indices, repeats allowed)."""
    confusion = tally["confusion"][drawn]
    pooled = metrics.from_counts(*(int(count) for count in confusion.sum(axis=0)))
    scores = {name: pooled[name] for name in metrics.BINARY_METRIC_NAMES}
    scores["f1_per_image"] = float(
        np.mean([metrics.from_counts(*(int(c) for c in row))["f1"] for row in confusion])
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


#: Names that lived here until 0.6 and moved to their own module.
__getattr__ = deprecated.forwarder(
    __name__,
    {
        **{
            name: f"metrics.{name}"
            for name in (
                "METRIC_NAMES",
                "BINARY_METRIC_NAMES",
                "COUNT_NAMES",
                "pixel_metrics",
                "binary_metrics",
                "per_image_metrics",
                "choose_threshold",
                "roc_pr_curves",
                "second_observer",
                "second_observer_per_image",
            )
        },
        "optic_disc_centre": "closeups.optic_disc_centre",
        "densest_square": "closeups.densest_square",
    },
)
