"""Do the probabilities mean what they say? Reliability and calibration error.

Explained in ``book/05_evaluation.ipynb``.

A model is calibrated when, of all the pixels it gives probability about
``p``, a share of about ``p`` are vessel. The pixels inside the field of view
are sorted into equal-width probability bins; in each, the mean probability
is set against the share of annotated vessel pixels (the reliability
diagram), and the expected calibration error (ECE) is the pixel-weighted
mean gap between the two (Guo et al., 2017).
"""

from __future__ import annotations

import numpy as np

#: Equal-width probability bins of the reliability diagram.
BINS = 10

#: The probabilities a threshold is chosen among. Most FOV pixels are easy
#: background in the lowest bin, which pulls the overall ECE towards 0 however
#: the middle bins behave; the mid-range ECE leaves the two end bins out.
MID_RANGE = (0.1, 0.9)


def tallies(probabilities, truth, fov, bins: int = BINS) -> np.ndarray:
    """Per image and bin: pixels, summed probability, vessel pixels.

    Parameters
    ----------
    probabilities, truth, fov : (N, H, W) arrays
    bins : int

    Returns
    -------
    (N, bins, 3) float64 ndarray
        Sums over images give the pooled tallies of :func:`reliability`.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2:  # one image
        probabilities, truth, fov = (np.asarray(a)[None] for a in (probabilities, truth, fov))
    result = np.zeros((len(probabilities), bins, 3))
    for index, (values, labels, region) in enumerate(zip(probabilities, truth, fov)):
        inside = np.clip(values[region], 0.0, 1.0)
        which = np.minimum((inside * bins).astype(np.int64), bins - 1)
        result[index, :, 0] = np.bincount(which, minlength=bins)
        result[index, :, 1] = np.bincount(which, inside, minlength=bins)
        result[index, :, 2] = np.bincount(which, labels[region], minlength=bins)
    return result


def calibration_error(pooled: np.ndarray) -> float:
    """Expected calibration error from pooled ``(bins, 3)`` tallies."""
    pixels, probability, vessel = pooled[:, 0], pooled[:, 1], pooled[:, 2]
    total = pixels.sum()
    return float(np.abs(probability - vessel).sum() / total) if total else float("nan")


def reliability(probabilities, truth, fov, bins: int = BINS) -> dict:
    """The reliability diagram's points and the expected calibration error.

    Explained in ``book/05_evaluation.ipynb``.

    Returns
    -------
    dict
        ``bin_edges`` (bins + 1), and per bin ``pixels``, ``mean_probability``
        and ``vessel_share`` (``nan`` for an empty bin); ``ece``, the
        pixel-weighted mean of ``|mean_probability - vessel_share|``, and
        ``max_gap``, the largest gap over non-empty bins; ``mid_range``:
        the same over the bins inside :data:`MID_RANGE` only (``low``,
        ``high``, ``pixel_share`` of all pixels, ``ece``, ``max_gap``, and
        ``mean_signed_gap``, which is positive when the model gives vessel a
        higher probability than the share of vessel it finds there).
    """
    return reliability_from_tallies(tallies(probabilities, truth, fov, bins).sum(axis=0))


def reliability_from_tallies(pooled: np.ndarray) -> dict:
    """:func:`reliability` from pooled ``(bins, 3)`` :func:`tallies` (summed over images).

    Explained in ``book/05_evaluation.ipynb``. Evaluation tallies each test
    image once, for the bootstrap too, and reads the diagram from the sum.
    """
    bins = len(pooled)
    pixels = pooled[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_probability = pooled[:, 1] / pixels
        vessel_share = pooled[:, 2] / pixels
    signed_gaps = mean_probability - vessel_share  # nan for an empty bin
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {
        "bin_edges": edges.tolist(),
        "pixels": pixels.astype(np.int64).tolist(),
        "mean_probability": mean_probability.tolist(),
        "vessel_share": vessel_share.tolist(),
        "ece": calibration_error(pooled),
        "max_gap": _largest(signed_gaps),
        "mid_range": _mid_range(pooled, signed_gaps, edges),
    }


def _largest(signed_gaps: np.ndarray) -> float:
    """The largest ``|gap|`` over non-empty bins (``nan`` when all are empty)."""
    gaps = np.abs(signed_gaps[np.isfinite(signed_gaps)])
    return float(gaps.max()) if gaps.size else float("nan")


def _mid_range(pooled: np.ndarray, signed_gaps: np.ndarray, edges: np.ndarray) -> dict:
    """Calibration over the bins that lie inside :data:`MID_RANGE`."""
    low, high = MID_RANGE
    inside = (edges[:-1] >= low - 1e-9) & (edges[1:] <= high + 1e-9)
    chosen = pooled[inside]
    total, everything = chosen[:, 0].sum(), pooled[:, 0].sum()
    return {
        "low": low,
        "high": high,
        "pixel_share": float(total / everything) if everything else float("nan"),
        "ece": calibration_error(chosen),
        "max_gap": _largest(signed_gaps[inside]),
        "mean_signed_gap": float((chosen[:, 1] - chosen[:, 2]).sum() / total)
        if total
        else float("nan"),
    }
