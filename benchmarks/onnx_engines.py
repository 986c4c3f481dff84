"""The shipped model in Keras and in ONNX Runtime (fp32, fp16, int8), side by side.

Explained in ``book/06_going_further.ipynb`` (the model outside Keras).

Exports the shipped model three times (:func:`retina_tutorial.onnx_model.export`;
int8 calibrated on training images), then, in one run on this machine, for
each engine:

* seconds per test image of predicting the test split
  (:func:`retina_tutorial.inference.predict_split`, one image at a time,
  after a warm-up), wall and CPU;
* the largest probability difference from Keras inside the FOV, and the
  pixels whose side of the threshold changes;
* the pooled test AUC and F1 of the DRIVE protocol, inside the FOV, at the
  threshold each engine's validation maps choose
  (:func:`retina_tutorial.metrics.choose_threshold`), as ``evaluate`` reports them;
* the file's size.

Prints the table and PASS/FAIL against issue 27's bars: fp32 within 1e-4 of
Keras with the same AUC/F1 to 4 decimals; fp16 AUC within 2e-4; int8 AUC
>= 0.9795 and F1 >= 0.815; int8 >= 2.5x faster than Keras (aim), fp32 no
slower. Uses DRIVE when ``RETINA_TUTORIAL_DATA`` points at it, otherwise the
synthetic set (and says so; the quality bars are DRIVE's). Run from the
repository root::

    RETINA_TUTORIAL_DATA=/path/to/DRIVE .venv/bin/python benchmarks/onnx_engines.py

Options: ``--threads N`` (ONNX Runtime threads; default: one a core, as
TensorFlow), ``--markdown`` to print the table as Markdown, ``--csv FILE``
to write it (``retina_tutorial/weights/onnx_engines.csv`` is the shipped
model's, which chapter 06 shows).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from retina_tutorial import data, inference, metrics, onnx_model, pretrained

ROWS = ("keras", "fp32", "fp16", "int8")


def timed_predictions(models: dict, split) -> dict:
    """name -> (probabilities, median wall s/image, median CPU s/image) for each model.

    Image by image, every model in turn: a busy machine slows them alike.
    """
    for model in models.values():
        inference.predict_split(model, split.select(split.ids[:1]))  # warm-up
    maps = {name: [] for name in models}
    wall = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for index in range(len(split)):
        one = split.image(index)
        for name, model in models.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            maps[name].append(inference.predict_split(model, one)[0][0])
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: (np.stack(maps[name]), float(np.median(wall[name])), float(np.median(cpu[name])))
        for name in models
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads per operator")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--csv", help="write the table to this CSV file")
    options = parser.parse_args()

    dataset = data.load_dataset()
    keras_model = pretrained.load()
    models = {"keras": keras_model}
    sizes = {"keras": pretrained.MODEL_FILE.stat().st_size}
    with tempfile.TemporaryDirectory() as folder:
        images, names = onnx_model.calibration_images(dataset, keras_model)
        for precision in ROWS[1:]:
            path = Path(folder) / f"{precision}.onnx"
            onnx_model.export(
                keras_model,
                path,
                precision=precision,
                calibration_images=images if precision == "int8" else None,
                calibrated_on=names if precision == "int8" else None,
            )
            models[precision] = onnx_model.load(path, threads=options.threads)
            sizes[precision] = path.stat().st_size
        print(f"int8 calibrated on: {', '.join(names)}")

        validation = timed_predictions(models, dataset.validation)
        test = timed_predictions(models, dataset.test)
        results = {
            name: (validation[name][0], *test[name]) for name in models
        }  # name -> (validation maps, test maps, wall, CPU)
        for name, (_, _, wall, _) in results.items():
            print(f"{name}: {wall:.2f} s/image", flush=True)
    return report(results, sizes, dataset, markdown=options.markdown, csv_path=options.csv)


def report(results, sizes, dataset, *, markdown: bool, csv_path=None) -> int:
    """Print the table and the bars; 0 when every bar holds (on DRIVE)."""
    validation_split, test_split = dataset.validation, dataset.test
    fov = test_split.fov
    keras_validation, keras_test, keras_wall, _ = results["keras"]
    rows, scores, records = [], {}, []
    for name, (validation, test, wall, cpu) in results.items():
        threshold = metrics.choose_threshold(
            validation, validation_split.vessels, validation_split.fov
        )
        pooled = metrics.pixel_metrics(test, test_split.vessels, fov, threshold)
        difference = float(np.abs(test - keras_test)[fov].max())
        keras_threshold = metrics.choose_threshold(
            keras_validation, validation_split.vessels, validation_split.fov
        )
        flipped = int(((test >= keras_threshold) != (keras_test >= keras_threshold))[fov].sum())
        scores[name] = (pooled["roc_auc"], pooled["f1"], difference, wall)
        records.append(
            {
                "engine": name,
                "file_bytes": sizes[name],
                "seconds_per_image": round(wall, 4),
                "cpu_seconds_per_image": round(cpu, 4),
                "speed_up": round(keras_wall / wall, 3),
                "max_difference": f"{difference:.3g}",
                "pixels_flipped": flipped,
                "threshold": round(threshold, 4),
                "roc_auc": round(pooled["roc_auc"], 6),
                "f1": round(pooled["f1"], 6),
                "images": len(test_split),
                "cores": os.cpu_count(),
                "data": dataset.source,
            }
        )
        rows.append(
            (
                name,
                f"{sizes[name] / 1e6:.1f} MB",
                f"{wall:.2f} s ({cpu:.2f} CPU-s)",
                f"{keras_wall / wall:.2f}x",
                f"{difference:.1e}",
                f"{flipped:,}",
                f"{threshold:.3f}",
                f"{pooled['roc_auc']:.4f}",
                f"{pooled['f1']:.4f}",
            )
        )
    header = (
        "engine", "file", "s/image", "speed-up", "max |p - Keras|", "pixels flipped",
        "threshold", "AUC", "F1",
    )  # fmt: skip
    print(f"\n{len(test_split)} test images of {dataset.source}; {os.cpu_count()} cores")
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    if csv_path:
        with open(csv_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    auc, f1, _, wall = scores["keras"]
    bars = {
        "fp32 within 1e-4 of Keras": scores["fp32"][2] <= 1e-4,
        "fp32 AUC and F1 equal Keras's to 4 decimals": (
            f"{scores['fp32'][0]:.4f} {scores['fp32'][1]:.4f}" == f"{auc:.4f} {f1:.4f}"
        ),
        "fp16 AUC within 2e-4": abs(scores["fp16"][0] - auc) <= 2e-4,
        "int8 AUC >= 0.9795": scores["int8"][0] >= 0.9795,
        "int8 F1 >= 0.815": scores["int8"][1] >= 0.815,
        "int8 >= 2.5x faster than Keras (aim)": wall / scores["int8"][3] >= 2.5,
        "int8 >= 2x faster than Keras (bar)": wall / scores["int8"][3] >= 2.0,
        "fp32 no slower than Keras": scores["fp32"][3] <= wall * 1.05,
    }
    for bar, held in bars.items():
        print(f"{'PASS' if held else 'FAIL'}  {bar}")
    if dataset.source != "drive":
        print("(The quality bars are DRIVE's: this run used the synthetic set.)")
    return 0 if all(bars.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
