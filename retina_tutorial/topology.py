"""The vessel tree beyond pixels: centrelines, widths and broken pieces.

Explained in ``book/05_evaluation.ipynb``.

Pixel F1 counts pixels; a map can score well on it and still break the tree
into many pieces or miss thin vessels that hold few pixels. The measures here
look at the tree's shape:

``components``, ``components_10px``
    8-connected pieces of the vessel map inside the field of view (FOV), and
    those of 10 pixels or more. An annotated DRIVE tree has about three.
``centreline_recall``
    The share of the truth's centreline (its skeleton) that the prediction
    covers: how much of the tree was found, each vessel counted by length
    rather than by area, so a thin vessel counts as much as a thick one of
    the same length. Shit et al. (2021) call it topology sensitivity.
``centreline_precision``
    The share of the prediction's centreline that lies on annotated vessel.
``cldice``
    The harmonic mean of the two (Shit et al., 2021).

Pooled over several images, the centreline measures sum the skeleton pixels
of every image before dividing, as the pixel metrics pool confusion counts.

The skeleton is scikit-image's ``skeletonize`` (Zhang and Suen's 1984
thinning, compiled); pieces and distance maps come from ``scipy.ndimage``.
Every measure works one image at a time, so a stack of large photographs
needs the memory of a few of its masks, not of the whole stack many times.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

#: Every measure of :func:`tree_metrics`, in report order.
TOPOLOGY_NAMES = (
    "components",
    "components_10px",
    "centreline_recall",
    "centreline_precision",
    "cldice",
)
#: Short names of the topology measures, for tables.
LABELS = {
    "components": "pieces per image",
    "components_10px": "pieces >= 10 px",
    "centreline_recall": "centreline recall",
    "centreline_precision": "centreline precision",
    "cldice": "clDice",
}
#: The counts of :func:`tree_counts`, in order.
TREE_COUNT_NAMES = (
    "components",
    "components_10px",
    "truth_centreline",
    "truth_centreline_found",
    "predicted_centreline",
    "predicted_centreline_on_vessel",
)
#: Pieces smaller than this many pixels are specks, not broken vessels.
SMALL_PIECE = 10
#: Vessels at most this many pixels wide are thin (:func:`thin_vessels`).
THIN_WIDTH = 2

_EIGHT_CONNECTED = np.ones((3, 3), bool)


def skeleton(masks) -> np.ndarray:
    """The one-pixel-wide centrelines of binary masks (Zhang-Suen thinning).

    Each image is thinned by :func:`skimage.morphology.skeletonize`.

    Parameters
    ----------
    masks : (H, W) or (N, H, W) array
        Vessel masks; nonzero is vessel.

    Returns
    -------
    bool ndarray of the same shape
        The centreline pixels, a subset of ``masks`` that keeps every piece
        connected.

    Examples
    --------
    A bar 3 pixels wide thins to its middle row (and one corner pixel):

    >>> bar = np.zeros((7, 12), bool); bar[2:5, 1:11] = True
    >>> rows = skeleton(bar).nonzero()[0].tolist()
    >>> rows.count(3), len(rows)
    (8, 9)
    """
    stack, single = _stack(masks, "skeleton")
    # One image at a time: given a stack, skeletonize would thin it as one
    # 3-D volume (Lee's method), joining images that lie on top of each other.
    thin = np.zeros(stack.shape, bool)
    for index, mask in enumerate(stack):
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size:
            # Only the box round the vessels: each pass sweeps every pixel it
            # is given, and a photograph's corners outside the FOV hold none.
            box = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
            # A box is a strided view, and scikit-image 0.20 (the lowest we
            # accept) takes only C-contiguous arrays.
            thin[index][box] = skeletonize(np.ascontiguousarray(mask[box]))
    return thin[0] if single else thin


def vessel_widths(masks) -> np.ndarray:
    """Each vessel pixel's vessel width, in pixels; 0 on background.

    The width at a centreline pixel is read from the distance to the nearest
    background pixel (a centre ``d`` pixels from the edge lies in a vessel
    ``2 d - 1`` or ``2 d`` wide; we take ``2 d - 1`` rounded up to whole
    pixels, which tells 1-2 pixel vessels from 3-4 pixel ones). Every other
    vessel pixel takes the width of its nearest centreline pixel, so the
    edge of a wide vessel is wide, not thin.

    Parameters
    ----------
    masks : (H, W) or (N, H, W) array

    Returns
    -------
    int ndarray of the same shape
    """
    stack, single = _stack(masks, "vessel_widths")
    widths = np.zeros(stack.shape, np.int32)
    for index, mask in enumerate(stack):
        if not mask.any():
            continue
        centre = skeleton(mask)
        depth = ndimage.distance_transform_edt(mask)
        centre_width = np.ceil(2 * depth[centre] - 1 - 1e-6).astype(np.int32)
        width_map = np.zeros(mask.shape, np.int32)
        width_map[centre] = np.maximum(centre_width, 1)
        _, (rows, cols) = ndimage.distance_transform_edt(~centre, return_indices=True)
        widths[index] = np.where(mask, width_map[rows, cols], 0)
    return widths[0] if single else widths


def thin_vessels(masks, max_width: int = THIN_WIDTH) -> np.ndarray:
    """Vessel pixels on vessels at most ``max_width`` pixels wide.

    Explained in ``book/01_data_preparation.ipynb``.

    Parameters
    ----------
    masks : (H, W) or (N, H, W) array
    max_width : int

    Returns
    -------
    bool ndarray of the same shape
        A subset of ``masks``.

    Examples
    --------
    >>> mask = np.zeros((12, 20), bool)
    >>> mask[2, 1:19] = True        # 1 pixel wide
    >>> mask[6:11, 1:19] = True     # 5 pixels wide
    >>> thin = thin_vessels(mask)
    >>> int(thin[2].sum()), int(thin[6:11].sum())
    (18, 0)
    """
    stack, single = _stack(masks, "thin_vessels")
    thin = stack & (vessel_widths(stack) <= max_width)
    return thin[0] if single else thin


def components(masks, fov=None) -> tuple[int, int]:
    """Pieces of a vessel map: all of them, and those of 10 pixels or more.

    Counted per image (8-connected, inside ``fov`` when given) and summed.

    Returns
    -------
    (int, int)
    """
    stack, _ = _stack(masks, "components")
    regions = None if fov is None else np.broadcast_to(_stack(fov, "components")[0], stack.shape)
    every = large = 0
    for index, mask in enumerate(stack):
        if regions is not None:
            mask = mask & regions[index]
        labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        sizes = np.bincount(labels.ravel())[1:]
        every += int(count)
        large += int(np.sum(sizes >= SMALL_PIECE))
    return every, large


def tree_counts(prediction, truth, fov) -> dict:
    """The counts behind :func:`tree_metrics` for one image or a stack.

    Keys: ``components``, ``components_10px``, ``truth_centreline``,
    ``truth_centreline_found``, ``predicted_centreline``,
    ``predicted_centreline_on_vessel``. Counts add up over images.
    """
    prediction, _ = _stack(prediction, "tree_counts")
    truth, _ = _stack(truth, "tree_counts")
    fov, _ = _stack(fov, "tree_counts")
    if not prediction.shape == truth.shape == fov.shape:
        raise ValueError(
            f"tree_counts: prediction {prediction.shape}, truth {truth.shape} and fov "
            f"{fov.shape} must have the same shape."
        )
    counts = dict.fromkeys(TREE_COUNT_NAMES, 0)
    for predicted, annotated, region in zip(prediction, truth, fov):
        for name, count in image_tree_counts([predicted], annotated, region)[0].items():
            counts[name] += count
    return counts


def image_tree_counts(predictions, truth, fov) -> list[dict]:
    """:func:`tree_counts` of several binary maps of one image against one annotation.

    Explained in ``book/05_evaluation.ipynb``. The annotation's centreline is
    thinned once for all of them (evaluation scores the model at two
    thresholds and the 2nd observer against the same truth).

    Parameters
    ----------
    predictions : sequence of (H, W) bool ndarray
    truth, fov : (H, W) bool ndarray

    Returns
    -------
    list of dict
        One :func:`tree_counts` per map, in order.
    """
    truth, fov = np.asarray(truth, bool), np.asarray(fov, bool)
    annotated = truth & fov
    truth_centre = skeleton(annotated)
    counts = []
    for prediction in predictions:
        prediction = np.asarray(prediction, bool)
        if prediction.shape != truth.shape or fov.shape != truth.shape:
            raise ValueError(
                f"image_tree_counts: prediction {prediction.shape}, truth {truth.shape} and "
                f"fov {fov.shape} must be the same (H, W)."
            )
        predicted = prediction & fov
        predicted_centre = skeleton(predicted)
        every, large = components(predicted)
        counts.append(
            {
                "components": every,
                "components_10px": large,
                "truth_centreline": int(np.count_nonzero(truth_centre)),
                "truth_centreline_found": int(np.count_nonzero(truth_centre & predicted)),
                "predicted_centreline": int(np.count_nonzero(predicted_centre)),
                "predicted_centreline_on_vessel": int(
                    np.count_nonzero(predicted_centre & annotated)
                ),
            }
        )
    return counts


def tree_metrics(prediction, truth, fov) -> dict:
    """Components and centreline recall, precision and clDice of a binary map.

    Parameters
    ----------
    prediction, truth, fov : (H, W) or (N, H, W) bool arrays
        The map scored, the annotation and the field of view. Stacks are
        pooled: components summed, centreline pixels summed before dividing.

    Returns
    -------
    dict
        :data:`TOPOLOGY_NAMES`, with ``components`` per image when a stack
        is given (so one image and twenty read alike). Ratios with an empty
        denominator are ``nan``.
    """
    images = len(_stack(truth, "tree_metrics")[0])
    return metrics_from_counts(tree_counts(prediction, truth, fov), images)


def metrics_from_counts(counts: dict, images: int = 1) -> dict:
    """:data:`TOPOLOGY_NAMES` from summed :func:`tree_counts` of ``images`` images."""
    recall = _ratio(counts["truth_centreline_found"], counts["truth_centreline"])
    precision = _ratio(counts["predicted_centreline_on_vessel"], counts["predicted_centreline"])
    if np.isnan(recall) or np.isnan(precision) or recall + precision == 0:
        cldice = float("nan") if np.isnan(recall) or np.isnan(precision) else 0.0
    else:
        cldice = 2 * recall * precision / (recall + precision)
    return {
        "components": counts["components"] / images,
        "components_10px": counts["components_10px"] / images,
        "centreline_recall": recall,
        "centreline_precision": precision,
        "cldice": cldice,
    }


# --- helpers -----------------------------------------------------------------


def _stack(masks, name: str) -> tuple[np.ndarray, bool]:
    masks = np.asarray(masks).astype(bool, copy=False)
    if masks.ndim == 2:
        return masks[None], True
    if masks.ndim != 3:
        raise ValueError(f"{name}: masks must be (H, W) or (N, H, W), got shape {masks.shape}.")
    return masks, False


def _ratio(numerator, denominator) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")
