"""Confidence intervals over test images: the percentile bootstrap.

Explained in ``book/05_evaluation.ipynb``.

Twenty test images are a small sample of eyes. To see how far a score could
move with another sample, the test images are drawn again with replacement,
as many as there are, and the score is computed on each draw; the middle
95 % of the draws is the interval (Efron and Tibshirani, 1993). Pooled
scores pool the drawn images' counts, as the DRIVE protocol pools all test
images. The draws come from a fixed seed, so a report reproduces exactly.

Ranking metrics (ROC AUC, average precision) are recomputed on each draw
from per-image histograms of the probabilities in :data:`HISTOGRAM_BINS`
equal bins; on DRIVE's test set that moves them by less than 1e-5 from the
exact values.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

REPLICATES = 2000
CONFIDENCE = 0.95
SEED = 2021
HISTOGRAM_BINS = 16384


def percentile_intervals(
    statistic: Callable[[np.ndarray], dict],
    images: int,
    *,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> dict:
    """Percentile-bootstrap intervals of every value ``statistic`` returns.

    Parameters
    ----------
    statistic : callable
        Takes an index array (which images, with repeats) and returns a dict
        of floats computed from those images.
    images : int
        How many images there are to draw from.

    Returns
    -------
    dict
        The same keys, each ``[low, high]``; ``[nan, nan]`` where every draw
        was undefined.
    """
    if images < 2:
        raise ValueError(f"A bootstrap needs at least 2 images, got {images}.")
    rng = np.random.default_rng(seed)
    draws: dict[str, list] = {}
    for _ in range(replicates):
        for name, value in statistic(rng.integers(0, images, images)).items():
            draws.setdefault(name, []).append(value)
    tail = 50.0 * (1.0 - confidence)
    intervals = {}
    for name, values in draws.items():
        values = np.asarray(values, np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            intervals[name] = [math.nan, math.nan]
        else:
            low, high = np.percentile(values, [tail, 100.0 - tail])
            intervals[name] = [float(low), float(high)]
    return intervals


def ranking_histograms(probabilities, truth, fov, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Per image, histograms of the vessel and the background probabilities.

    Returns
    -------
    (N, 2, bins) int64 ndarray
        ``[:, 0]`` vessel pixels, ``[:, 1]`` background pixels, inside the FOV.
    """
    result = np.zeros((len(probabilities), 2, bins), np.int64)
    for index, (values, labels, region) in enumerate(zip(probabilities, truth, fov)):
        inside = np.clip(values[region], 0.0, 1.0)
        which = np.minimum((inside * bins).astype(np.int64), bins - 1)
        vessel = labels[region].astype(bool)
        result[index, 0] = np.bincount(which[vessel], minlength=bins)
        result[index, 1] = np.bincount(which[~vessel], minlength=bins)
    return result


def ranking_metrics(histograms: np.ndarray) -> dict:
    """ROC AUC and average precision from pooled ``(2, bins)`` histograms.

    Probabilities in one bin count as tied, as :mod:`retina_tutorial.evaluate`
    counts equal probabilities.
    """
    vessel, background = histograms[0].astype(np.float64), histograms[1].astype(np.float64)
    n_vessel, n_background = vessel.sum(), background.sum()
    if n_vessel == 0 or n_background == 0:
        return {"roc_auc": math.nan, "pr_auc": math.nan}
    below = np.cumsum(background) - background
    roc_auc = float(np.sum(vessel * (below + 0.5 * background)) / (n_vessel * n_background))
    found = np.cumsum(vessel[::-1])  # thresholds from high to low
    claimed = found + np.cumsum(background[::-1])
    precision = found / np.maximum(claimed, 1.0)
    pr_auc = float(np.sum(vessel[::-1] / n_vessel * precision))
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}
