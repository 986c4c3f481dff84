"""The evaluation report on disk: metrics, per-image rows, figures and probability maps.

Explained in ``book/05_evaluation.ipynb``.

The stages run one way: :mod:`retina_tutorial.evaluate` measures and knows
nothing of figures, :mod:`retina_tutorial.plotting` draws from its metrics,
and this module, above both, writes what they give.
"""

from __future__ import annotations

import csv
import datetime
import gc
import hashlib
import json
import math
from pathlib import Path

import numpy as np

import retina_tutorial
from retina_tutorial import datasets, evaluate, inference, metrics, plotting

#: The longest side, in pixels, the report draws a test image at. A larger
#: photograph is drawn shrunk by the smallest whole factor that fits (HRF's
#: 3504 x 2336 at half size: the figures of one drawn whole took more than a
#: gigabyte); DRIVE's, STARE's and CHASE_DB1's are drawn at their own size.
FIGURE_PIXELS = 2000


def write_report(report: evaluate.EvaluationReport, out_dir, *, model_path=None) -> Path:
    """Write metrics, per-image rows, figures and probability maps to ``out_dir``.

    Explained in ``book/05_evaluation.ipynb``.

    Files written:

    ``metrics.json``
        Pooled test metrics at 0.5 and at the validation threshold, the
        top-level ``threshold``, ``second_observer``, validation metrics,
        ``confidence_intervals`` (95 % bootstrap over the test images, for
        the model and the 2nd observer), ``calibration`` and
        ``validation_calibration`` (reliability bins and expected calibration
        error, overall and over the mid range, of the test and validation
        maps), ``topology`` (pieces and centreline recall, precision and
        clDice, for the model and the 2nd observer)
        and provenance (model file name and SHA-256, data, protocol, package
        version, time). No absolute path is written: reports get shared.
        Undefined metrics are ``null``.
    ``per_image.csv``
        One row per test image, predictor (``model`` at each threshold, and
        ``2nd observer``) with every metric.
    ``figures/*.png``
        ROC/PR curves, per-image F1, the reliability diagram, and for the
        median-F1 test image the triptych, error overlay, probability map
        and where its vessel tree breaks (at the image's own size up to
        :data:`FIGURE_PIXELS`, shrunk beyond it).
    ``probabilities/<id>_test.png``
        16-bit greyscale PNG per test image at native resolution: value =
        round(65535 x probability) inside the FOV and 0 outside it, as
        :func:`retina_tutorial.inference.predict_file` writes them (the
        network never learned the black surround, and no metric counts it).

    Parameters
    ----------
    report : EvaluationReport
    out_dir : str or Path
        Created if needed; files in it are overwritten.
    model_path : str or Path, optional
        The model file, recorded with its SHA-256.

    Returns
    -------
    Path
        The ``metrics.json`` written.
    """
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    (out_dir / "probabilities").mkdir(parents=True, exist_ok=True)

    model_info = {"name": report.model_name, "parameters": report.model_parameters}
    if model_path is not None:
        model_path = Path(model_path)
        model_info["file"] = model_path.name  # not its path: reports get shared
        if model_path.is_file():
            model_info["sha256"] = hashlib.sha256(model_path.read_bytes()).hexdigest()
    document = {
        "protocol": report.protocol,
        "threshold": report.threshold,
        "threshold_source": "maximum pooled F1 on the validation images "
        + ", ".join(report.validation.ids),
        "test": {
            "threshold_0.5": report.test_at_half,
            "threshold_validation": report.test_at_threshold,
        },
        "validation": {"threshold_validation": report.validation_at_threshold},
        "second_observer": report.second_observer,
        "confidence_intervals": report.intervals,
        "calibration": report.calibration,
        "validation_calibration": report.validation_calibration,
        "topology": report.topology,
        "tta": report.tta,
        "seconds_per_image": report.seconds_per_image,
        "model": model_info,
        "data": {
            "source": report.data_source,
            "description": report.data_description,
            "test_ids": list(report.test.ids),
            "validation_ids": list(report.validation.ids),
            "image_shape": list(report.test.images.shape[1:3]),
            "image_shapes": None
            if report.test.shapes is None
            else [list(shape) for shape in report.test.shapes],
            "field_degrees": report.field_degrees,
            "fov_estimated": report.fov_estimated,
            "resize_factors": report.resize_factors,
            "test_fov_pixels": int(report.test.fov.sum()),
            # Identifies the annotations scored against, whatever folder they came from.
            "test_truth_sha256": hashlib.sha256(
                np.packbits(report.test.vessels).tobytes() + np.packbits(report.test.fov).tobytes()
            ).hexdigest(),
        },
        "package_version": retina_tutorial.__version__,
        "software": _software(model_path),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    metrics_file = out_dir / "metrics.json"
    metrics_file.write_text(json.dumps(_json_safe(document), indent=2, allow_nan=False) + "\n")

    _write_rows(out_dir / "per_image.csv", report)

    for index, name in enumerate(report.test.ids):
        height, width = report.test.shape_of(index)  # each image at its own size
        fov = report.test.fov[index, :height, :width]
        probabilities = report.test_probabilities[index, :height, :width]
        path = out_dir / "probabilities" / f"{name}_test.png"
        inference.write_probabilities(path, probabilities, fov)

    tuned = [row for row in report.per_image if row["threshold"] == report.threshold]
    order = np.argsort([row["f1"] for row in tuned], kind="stable")
    median = int(order[len(order) // 2])
    name = report.test.ids[median]
    split = report.test
    height, width = split.shape_of(median)
    median_map = report.test_probabilities[median, :height, :width]
    median_image = split.image(median)
    photograph = datasets.as_float(median_image.images[0])  # a split may keep 8-bit pixels
    shrink = math.ceil(max(height, width) / FIGURE_PIXELS)
    # Drawn and saved one at a time: figures of a large photograph are drawn pixel for
    # pixel, and holding all seven at once took a gigabyte.
    figures = {
        "roc_pr.png": lambda: (
            plotting.plot_roc_pr(
                report.test_probabilities,
                split.vessels,
                split.fov,
                second_observer=report.second_observer,
            )
            if report.curves is None
            else plotting.plot_curves(  # measured by the evaluation: no second sort
                report.curves,
                {0.5: report.test_at_half},
                images=len(split),
                second_observer=report.second_observer,
            )
        ),
        "per_image_f1.png": lambda: plotting.plot_per_image(
            tuned,
            metric="f1",
            reference_rows=report.second_observer_per_image,
            data_name=datasets.display_name(report.data_source),
        ),
        f"triptych_{name}.png": lambda: plotting.plot_triptych(
            photograph,
            median_image.vessels[0],
            median_map,
            fov=median_image.fov[0],
            image_id=name,
            shrink=shrink,
        ),
        f"errors_{name}.png": lambda: plotting.plot_error_overlay(
            photograph,
            median_image.vessels[0],
            median_map,
            fov=median_image.fov[0],
            threshold=report.threshold,
            image_id=name,
            shrink=shrink,
        ),
        f"probability_{name}.png": lambda: plotting.plot_probability_map(
            median_map, fov=median_image.fov[0], image_id=name, shrink=shrink
        ),
        "reliability.png": lambda: plotting.plot_reliability(
            {"validation": report.validation_calibration, "test": report.calibration}
            if report.validation_calibration
            else report.calibration
        ),
        f"tree_breaks_{name}.png": lambda: plotting.plot_tree_breaks(
            median_image.vessels[0],
            median_map >= report.threshold,
            fov=median_image.fov[0],
            image_id=name,
            shrink=shrink,
        ),
    }
    for file_name, draw in figures.items():
        figure = draw()
        # The fastest zlib level: a third of the default's time on a large photograph.
        figure.savefig(out_dir / "figures" / file_name, pil_kwargs={"compress_level": 1})
        del figure
        gc.collect()  # a figure's artists refer to each other: only the collector frees them
    return metrics_file


def _json_safe(value):
    """nan becomes null: JSON has no nan, and strict readers reject it."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.integer):
        return int(value)
    return value


def _software(model_path) -> dict:
    """The versions that computed the maps: ONNX Runtime for an .onnx file, else Keras."""
    if model_path is not None and Path(model_path).suffix.lower() == ".onnx":
        import onnxruntime

        return {"onnxruntime": onnxruntime.__version__, "numpy": np.__version__}
    import keras

    return {
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
    }


def _write_rows(path: Path, report: evaluate.EvaluationReport) -> None:
    columns = ["id", "predictor", "threshold", *metrics.METRIC_NAMES, *metrics.COUNT_NAMES]
    rows = [{"predictor": "model", **row} for row in report.per_image]
    for row in report.second_observer_per_image or ():
        rows.append({"predictor": "2nd observer", **row})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k, "")) for k in columns})


def _csv_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value
