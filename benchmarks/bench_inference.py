"""How long prediction and evaluation take on this machine's CPU.

Explained in ``book/06_going_further.ipynb``.

Measures, for each U-Net preset (random weights: the time does not depend on
what the weights are), the seconds per DRIVE-sized image with and without
test-time augmentation, and the time to compute every metric that
:func:`retina_tutorial.evaluate.evaluate_model` reports for the 20 test
images (threshold choice on the validation images, pooled metrics at two
thresholds, per-image rows, 2nd observer). Prints PASS/FAIL against the
targets:

* compact preset, no TTA: <= 0.2 s per image;
* all metrics for the test set: <= 2 s.

Uses DRIVE when ``RETINA_TUTORIAL_DATA`` points at it, otherwise the
synthetic set (same sizes). Run from the repository root::

    RETINA_TUTORIAL_DATA=/path/to/DRIVE python benchmarks/bench_inference.py

Options: ``--images N`` images timed per setting (default 5), ``--large`` to
also predict one 3504 x 2336 fundus-camera image in tiles, ``--strict`` to
exit with status 1 when a target is missed (timings on a shared machine vary).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from retina_tutorial import data, inference, metrics
from retina_tutorial import model as unet

TARGET_COMPACT_SECONDS = 0.2
TARGET_METRICS_SECONDS = 2.0


def time_prediction(network, images, *, tta: bool) -> dict:
    """Seconds per image after one warm-up: median and best wall time, median CPU time.

    The machine may be shared: the best wall time is the least disturbed one,
    and CPU time (all threads) shows the work itself.
    """
    inference.predict(network, images[0], tta=tta)
    wall, cpu = [], []
    for image in images:
        start, start_cpu = time.perf_counter(), time.process_time()
        inference.predict(network, image, tta=tta)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"median": statistics.median(wall), "best": min(wall), "cpu": statistics.median(cpu)}


def describe(timing: dict) -> str:
    return f"{timing['median']:.3f} s/image (best {timing['best']:.3f}, CPU {timing['cpu']:.2f} s)"


def time_metrics(dataset: data.Dataset, seed: int = 0) -> float:
    """Seconds for everything evaluate_model computes, on stand-in probabilities."""
    rng = np.random.default_rng(seed)

    def scores(split):
        # Noisy, truth-correlated float32 scores: millions of distinct values, like a model's.
        noise = rng.random(split.vessels.shape, dtype=np.float32)
        return np.clip(0.55 * split.vessels + 0.45 * noise, 0, 1).astype(np.float32)

    test, validation = dataset.test, dataset.validation
    p_test, p_validation = scores(test), scores(validation)
    start = time.perf_counter()
    threshold = metrics.choose_threshold(p_validation, validation.vessels, validation.fov)
    for value in (0.5, threshold):
        metrics.pixel_metrics(p_test, test.vessels, test.fov, value)
        metrics.per_image_metrics(p_test, test.vessels, test.fov, value, ids=test.ids)
    metrics.pixel_metrics(p_validation, validation.vessels, validation.fov, threshold)
    if test.vessels_2nd is not None:
        metrics.second_observer(test)
        metrics.second_observer_per_image(test)
    return time.perf_counter() - start


def time_large(network) -> tuple[float, float]:
    """Seconds and peak resident memory (GiB) for one 3504 x 2336 image."""
    image = np.random.default_rng(0).random((2336, 3504, 3), dtype=np.float32)
    start = time.perf_counter()
    inference.predict(network, image)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return seconds, peak


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5, help="images timed per setting")
    parser.add_argument("--large", action="store_true", help="also time a 3504 x 2336 image")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    arguments = parser.parse_args(argv)

    dataset = data.load_dataset(verbose=False)
    images = dataset.test.images[: max(1, arguments.images)]
    print(
        f"Data: {dataset.description}; timing {len(images)} test images of "
        f"{images.shape[1]}x{images.shape[2]} per setting."
    )
    print(
        f"Keras {keras.__version__} ({keras.backend.backend()}), "
        f"{os.cpu_count()} CPU cores visible, load average {os.getloadavg()[0]:.1f}."
    )
    failures = 0
    for preset in unet.PRESETS:
        keras.utils.set_random_seed(0)
        network = unet.build_unet(preset=preset)
        plain = time_prediction(network, images, tta=False)
        flipped = time_prediction(network, images, tta=True)
        line = (
            f"{preset:>8}: {network.count_params():>10,} parameters; "
            f"{describe(plain)}; with TTA {describe(flipped)}"
        )
        if preset == "compact":
            result = verdict(plain["median"], TARGET_COMPACT_SECONDS)
            failures += result == "FAIL"
            line += f"\n{'':>10}[{result}: target <= {TARGET_COMPACT_SECONDS} s/image without TTA]"
        print(line)
        if arguments.large and preset == "compact":
            seconds, peak = time_large(network)
            print(
                f"{'':>8}  3504x2336 image in tiles: {seconds:.1f} s, "
                f"peak memory of this process {peak:.1f} GiB"
            )
    seconds = time_metrics(dataset)
    result = verdict(seconds, TARGET_METRICS_SECONDS)
    failures += result == "FAIL"
    pixels = int(dataset.test.fov.sum())
    print(
        f" metrics: {seconds:.2f} s for all metrics of {len(dataset.test)} test images "
        f"({pixels:,} FOV pixels)  [{result}: target <= {TARGET_METRICS_SECONDS} s]"
    )
    return 1 if failures and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
