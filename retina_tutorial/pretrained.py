"""The U-Net trained on DRIVE that ships with the package.

Explained in ``book/05_evaluation.ipynb``; how it was trained is in
``retina_tutorial/weights/MODEL_CARD.md``.

:func:`load` checks the file's SHA-256 against the value recorded here before
loading it (in Keras' safe mode), so a damaged or replaced file is refused
rather than silently giving other predictions.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_FILE = WEIGHTS_DIR / "unet_drive.keras"
HISTORY_FILE = WEIGHTS_DIR / "history.csv"
#: The same run resumed after its 32 epochs with a warm restart, 48 epochs
#: more (MODEL_CARD.md): it overfits, so it is shown, not shipped as the model.
WARM_RESTART_HISTORY_FILE = WEIGHTS_DIR / "history_warm_restart.csv"
MODEL_CARD = WEIGHTS_DIR / "MODEL_CARD.md"
#: ``retina-tutorial evaluate --model pretrained`` reports on the DRIVE test set,
#: without and with test-time augmentation (metrics only: no images).
REPORTS = {
    "without TTA": WEIGHTS_DIR / "metrics.json",
    "with TTA": WEIGHTS_DIR / "metrics_tta.json",
}
#: ``benchmarks/bench_time_to_quality.py --csv``: validation AUC against wall
#: time for the full profile's recipe on 2 CPU cores.
TIME_TO_QUALITY_FILE = WEIGHTS_DIR / "time_to_quality.csv"
#: ``benchmarks/bench_scale.py --csv``: the shipped model on DRIVE's test
#: images resized by 0.5, 1, 2 and 4, predicted as given and at its scale.
SCALE_BENCHMARK_FILE = WEIGHTS_DIR / "bench_scale.csv"
#: ``benchmarks/onnx_engines.py --csv``: the shipped model in Keras and in
#: ONNX Runtime (fp32, fp16, int8) on DRIVE's test images, side by side.
ONNX_BENCHMARK_FILE = WEIGHTS_DIR / "onnx_engines.csv"
#: ``benchmarks/seed_runs.py --json``: the shipped model on another camera's
#: test images, as it is and fine-tuned with three seeds (numbers only).
TRANSFER_FILES = {
    "CHASE_DB1": WEIGHTS_DIR / "finetune_chase_db1.json",
    "STARE": WEIGHTS_DIR / "finetune_stare.json",
}
#: ``benchmarks/seed_runs.py --json``: the shipped recipe, shortened, trained
#: from scratch on DRIVE with three seeds, against the shipped model.
SEED_SPREAD_FILE = WEIGHTS_DIR / "seeds_drive.json"
#: Where and how long the shipped model was trained (see MODEL_CARD.md).
TRAINING_HARDWARE = "2 CPU cores (Intel Xeon), 50 min"
#: SHA-256 of MODEL_FILE, recorded when the model was shipped.
SHA256 = "de3f6b93d745bd0618c3ee7cfa3ca2045b5ee83811693e22746fdf0fa5aed328"


class PretrainedModelError(ValueError):
    """The shipped model is missing or does not match its recorded hash."""


def sha256(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def available() -> bool:
    """Whether this installation ships a pretrained model."""
    return SHA256 is not None and MODEL_FILE.is_file()


def verify(path=MODEL_FILE, expected: str | None = None) -> Path:
    """Check that ``path`` exists and has the recorded SHA-256.

    Raises
    ------
    PretrainedModelError
        Naming the file, the expected and the found hash, and the fix.
    """
    path = Path(path)
    expected = SHA256 if expected is None else expected
    if expected is None or not path.is_file():
        raise PretrainedModelError(
            f"No pretrained model at {path}: this installation does not ship one. "
            "Train your own with `retina-tutorial train --profile full` and pass "
            "its best.keras to --model."
        )
    found = sha256(path)
    if found != expected:
        raise PretrainedModelError(
            f"{path} is damaged or was replaced: SHA-256 {found[:16]}…, expected "
            f"{expected[:16]}…. Reinstall retina-tutorial to restore it."
        )
    return path


def load():
    """The pretrained U-Net, after checking its SHA-256 (safe mode, not compiled)."""
    from retina_tutorial import inference

    return inference.load_model(verify())


def describe() -> str:
    """One line naming the shipped model, for reports and provenance."""
    return f"pretrained ({MODEL_FILE.name}, sha256 {SHA256[:12] if SHA256 else 'none'})"


def transfer_results() -> dict:
    """Data set name -> the shipped comparison on it (see :data:`TRANSFER_FILES`)."""
    return {name: json.loads(path.read_text()) for name, path in TRANSFER_FILES.items()}


def seed_spread() -> dict:
    """The shipped recipe's spread over seeds on DRIVE (see :data:`SEED_SPREAD_FILE`)."""
    return json.loads(SEED_SPREAD_FILE.read_text())


def drive_headline() -> dict:
    """``{"roc_auc": (value, [low, high]), "f1": ...}`` of the shipped DRIVE test report."""
    report = json.loads(REPORTS["without TTA"].read_text())
    return {
        name: (report["test"]["threshold_validation"][name], interval)
        for name, interval in _table_intervals(report, "model").items()
        if name in ("roc_auc", "f1")
    }


def results_rows() -> list:
    """Rows for :func:`retina_tutorial.published.results_table` from the shipped reports.

    Explained in ``book/05_evaluation.ipynb``: the shipped model without and
    with test-time augmentation, at the threshold chosen on the validation
    images, then the 2nd observer, all on the DRIVE test set.

    Raises
    ------
    PretrainedModelError
        If a report is missing (an installation without a pretrained model).
    """
    from retina_tutorial import published

    rows = []
    for label, path in REPORTS.items():
        if not path.is_file():
            raise PretrainedModelError(
                f"No evaluation report at {path}: this installation ships no pretrained model. "
                "Evaluate your own with `retina-tutorial evaluate --model MODEL --out DIR`."
            )
        report = json.loads(path.read_text())
        preset = report["model"]["name"].removeprefix("unet_")
        rows.append(
            {
                "method": f"This book: {preset} U-Net, {label}",
                **report["test"]["threshold_validation"],
                "intervals": _table_intervals(report, "model"),
                "params": report["model"]["parameters"],
                "hardware": TRAINING_HARDWARE,
                "protocol": published.OUR_PROTOCOL,
            }
        )
    rows.append(
        {
            "method": "2nd human observer",
            **report["second_observer"],
            "intervals": _table_intervals(report, "second_observer"),
            "protocol": "the 2nd manual scored against the 1st, as ours",
        }
    )
    return rows


def time_to_quality() -> dict:
    """The time-to-quality benchmark of the shipped recipe, as columns.

    Explained in ``book/04_training.ipynb``.

    Returns
    -------
    dict
        ``epoch`` (int, from 1), ``minutes`` and ``val_auc`` (float) lists;
        empty when this installation ships no benchmark.
    """
    if not TIME_TO_QUALITY_FILE.is_file():
        return {}
    with TIME_TO_QUALITY_FILE.open(newline="") as file:
        rows = list(csv.DictReader(file))
    return {
        "epoch": [int(row["epoch"]) for row in rows],
        "minutes": [float(row["minutes"]) for row in rows],
        "val_auc": [float(row["val_auc"]) for row in rows],
    }


def scale_benchmark() -> list:
    """The scale benchmark of the shipped model on DRIVE, one dict per row.

    Explained in ``book/06_going_further.ipynb``.

    Returns
    -------
    list of dict
        ``case`` (the resize factor, as labelled), ``path`` (``"as given"``
        or ``"at the model's scale"``), ``images`` (int), ``roc_auc``,
        ``f1`` (at 0.5), ``seconds_per_image`` and ``resize_factor``
        (float); empty when this installation ships no benchmark.
    """
    if not SCALE_BENCHMARK_FILE.is_file():
        return []
    with SCALE_BENCHMARK_FILE.open(newline="") as file:
        rows = list(csv.DictReader(file))
    numbers = ("roc_auc", "f1", "seconds_per_image", "resize_factor")
    return [
        {**row, "images": int(row["images"]), **{name: float(row[name]) for name in numbers}}
        for row in rows
    ]


def onnx_benchmark() -> list:
    """The shipped model's ONNX benchmark on DRIVE, one dict per engine.

    Explained in ``book/06_going_further.ipynb``.

    Returns
    -------
    list of dict
        ``engine`` (``keras``, ``fp32``, ``fp16``, ``int8``), ``data``;
        ``file_bytes``, ``pixels_flipped``, ``images``, ``cores`` (int);
        ``seconds_per_image``, ``cpu_seconds_per_image``, ``speed_up`` (over
        Keras), ``max_difference`` (from Keras's probabilities, inside the
        FOV), ``threshold`` (chosen on the validation images), ``roc_auc``
        and ``f1`` (pooled test, at that threshold) (float); empty when this
        installation ships no benchmark.
    """
    if not ONNX_BENCHMARK_FILE.is_file():
        return []
    with ONNX_BENCHMARK_FILE.open(newline="") as file:
        rows = list(csv.DictReader(file))
    integers = ("file_bytes", "pixels_flipped", "images", "cores")
    numbers = (
        "seconds_per_image", "cpu_seconds_per_image", "speed_up", "max_difference",
        "threshold", "roc_auc", "f1",
    )  # fmt: skip
    return [
        {
            **row,
            **{name: int(row[name]) for name in integers},
            **{name: float(row[name]) for name in numbers},
        }
        for row in rows
    ]


def _table_intervals(report: dict, who: str) -> dict:
    """The report's 95 % intervals of the results table's scores, for ``who``."""
    from retina_tutorial import published

    entries = report["confidence_intervals"][who]
    return {name: entries[name]["interval"] for name in published.METRICS if name in entries}
