"""Is the input pipeline fast enough to keep training busy?

Explained in ``book/03_augmentation.ipynb``.

Measures, in one run and on the same batch shape (the profile's patch size
and batch size):

(a) batches/second of :func:`retina_tutorial.pipeline.training_patches`
    (random FOV-centred patches + Keras 3 paired augmentation, tf.data);
(b) training steps/second of the profile's U-Net (``train_on_batch`` after
    warm-up, compiled with the profile's loss);
(c) batches/second of the 2019 article's pair of legacy
    ``ImageDataGenerator`` objects (:func:`retina_tutorial.augment.article_generator_pair`).

and prints pipeline/step (target >= 3: augmentation never makes training
wait) and pipeline/ImageDataGenerator (target >= 5), with PASS/FAIL.

Usage::

    python benchmarks/bench_pipeline.py [--data DIR] [--profile quick|full] [--seconds 10]

Without ``--data`` it uses ``RETINA_TUTORIAL_DATA`` or, if unset, the
synthetic set; the first line printed says which.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from retina_tutorial import augment, config, data, losses, model, pipeline

PIPELINE_PER_STEP_TARGET = 3.0
PIPELINE_PER_ARTICLE_TARGET = 5.0


def rate(step, seconds: float, warm_up: int) -> tuple[float, int]:
    """Calls of ``step`` per second, timed for about ``seconds`` after warm-up."""
    for _ in range(warm_up):
        step()
    count = 0
    start = time.perf_counter()
    while True:
        step()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and count >= 3:
            return count / elapsed, count


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", help="DRIVE folder or zip (default: RETINA_TUTORIAL_DATA, else synthetic)"
    )
    parser.add_argument(
        "--profile", help="quick or full (default: RETINA_TUTORIAL_PROFILE, else quick)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="timing per measurement (default 10)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also compare on whole padded images, the article's setting (not in the targets)",
    )
    args = parser.parse_args(argv)

    dataset = data.load_dataset(args.data, verbose=True)
    profile = config.get_profile(args.profile)
    size, batch = profile.patch_size, profile.batch_size
    print(profile)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__} ({keras.backend.backend()}), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
        f"GPU: {bool(tf.config.list_physical_devices('GPU'))}"
    )
    print(f"Batch shape: {batch} x {size} x {size} x 3, training images: {len(dataset.train)}")
    print(f"Load average before timing (other work on this machine): {_load()}")
    print()

    # (a) The package's pipeline, drained as training would drain it.
    patches = iter(
        pipeline.training_patches(
            dataset.train, patch_size=size, batch_size=batch, seed=args.seed, augment=True
        )
    )
    pipeline_rate, count = rate(functools.partial(next, patches), args.seconds, warm_up=5)
    print(f"(a) Keras 3 patch pipeline        : {pipeline_rate:8.2f} batches/s ({count} batches)")

    # (b) One training step of the profile's U-Net on one batch of the same shape.
    images, targets = next(patches)
    del patches  # stop its background prefetching before timing the model
    unet = model.build_unet((size, size, 3), preset=profile.preset)
    unet.compile(
        optimizer=keras.optimizers.Adam(profile.learning_rate), loss=losses.get_loss(profile.loss)
    )
    step_rate, count = rate(lambda: unet.train_on_batch(images, targets), args.seconds, warm_up=3)
    print(
        f"(b) U-Net training step           : {step_rate:8.2f} steps/s   ({count} steps, "
        f"preset {profile.preset!r}, {unet.count_params():,} parameters, loss {profile.loss!r})"
    )

    # (c) The article's paired ImageDataGenerators on patches of the same shape.
    plain = pipeline.training_patches(
        dataset.train, patch_size=size, batch_size=batch, seed=args.seed + 1, augment=False
    )
    crops = list(itertools.islice(plain, 4))
    crop_images = np.concatenate([x.numpy() for x, _ in crops])
    crop_vessels = np.concatenate([y.numpy()[..., 0] for _, y in crops])
    article = augment.article_generator_pair(
        crop_images, crop_vessels, batch_size=batch, seed=args.seed
    )
    article_rate, count = rate(lambda: next(article), args.seconds, warm_up=2)
    _, blurred = next(article)
    print(
        f"(c) article ImageDataGenerator pair: {article_rate:7.2f} batches/s ({count} batches; "
        f"{augment.count_non_binary(blurred) / blurred.size:.1%} of mask pixels non-binary)"
    )
    print()

    per_step = pipeline_rate / step_rate
    per_article = pipeline_rate / article_rate
    print(
        f"pipeline / training step = {per_step:6.2f}x  "
        f"(target >= {PIPELINE_PER_STEP_TARGET:g}x) {verdict(per_step, PIPELINE_PER_STEP_TARGET)}"
    )
    print(
        f"pipeline / article IDG   = {per_article:6.2f}x  (target >= "
        f"{PIPELINE_PER_ARTICLE_TARGET:g}x) {verdict(per_article, PIPELINE_PER_ARTICLE_TARGET)}"
    )
    print(
        "Note: the tf.data pipeline runs batches in parallel on all cores; the "
        "article's generators run in one Python thread, as in the article."
    )
    if args.whole:
        whole_batches(dataset, args)
    print(f"Load average after timing: {_load()}")
    return 0


def whole_batches(dataset, args, batch: int = 2) -> None:
    """Informative: both augmentations on whole images, as the article trained."""
    multiple = 16
    whole = iter(
        pipeline.whole_images(dataset.train, multiple=multiple, batch_size=batch, seed=args.seed)
    )
    whole_rate, count = rate(functools.partial(next, whole), args.seconds, warm_up=2)
    del whole
    images, targets = next(
        iter(pipeline.whole_images(dataset.train, multiple=multiple, augment=False))
    )
    shape = "x".join(str(side) for side in images.shape[1:3])
    stack_images = np.repeat(images.numpy(), 4, axis=0)
    stack_vessels = np.repeat(targets.numpy()[..., 0], 4, axis=0)
    article = augment.article_generator_pair(
        stack_images, stack_vessels, batch_size=batch, seed=args.seed
    )
    article_rate, article_count = rate(lambda: next(article), args.seconds, warm_up=1)
    print()
    print(f"Whole images ({batch} x {shape}), for information (no target):")
    print(f"    Keras 3 whole-image pipeline   : {whole_rate:8.2f} batches/s ({count} batches)")
    print(
        f"    article ImageDataGenerator pair: {article_rate:8.2f} batches/s "
        f"({article_count} batches)"
    )
    print(f"    pipeline / article IDG = {whole_rate / article_rate:6.2f}x")


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # not available on every platform
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
