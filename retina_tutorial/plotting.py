"""Figures for the book and the evaluation report.

Explained in ``book/05_evaluation.ipynb``.

Every function returns a :class:`matplotlib.figure.Figure` made without
pyplot: nothing is shown or kept open behind your back, so the functions work
in scripts, on headless machines (no display needed) and in notebooks, where
a returned figure is drawn once. Save one with ``figure.savefig("name.png")``.

Images are drawn at their native resolution (one image pixel per screen
pixel at the figure's 100 dpi), so thin vessels are neither blurred nor lost;
the image figures take ``shrink`` to draw a large photograph smaller, each
block of pixels as their mean, after measuring it whole.
Colours for true positives, false positives and false negatives come from
the Okabe-Ito palette, which stays distinguishable with the common forms of
colour blindness.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.patches
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from scipy import ndimage

from retina_tutorial import checks, closeups, data, metrics, run_history, topology

#: Okabe-Ito colours of the error overlay.
COLOURS = {
    "tp": "#F0E442",  # yellow: vessel found
    "fp": "#D55E00",  # vermillion: vessel claimed where there is none
    "fn": "#56B4E9",  # sky blue: vessel missed
}
#: Readable names of the metrics and the loss, for axes and legends.
METRIC_LABELS = {**metrics.AXIS_LABELS, "loss": "Loss"}
DPI = 100
#: Width in pixels that a figure is drawn at on a book page (the text column
#: on a laptop screen is about 700 pixels, 900 with the sidebars hidden). A
#: native-resolution figure wider than this is shrunk to fit, so its text is
#: drawn larger by the same ratio and stays readable.
PAGE_PIXELS = 900
_OUTSIDE_FOV = "#9a9a9a"


def plot_roc_pr(
    probabilities,
    truth,
    fov,
    *,
    second_observer: dict | None = None,
    label: str = "U-Net",
    operating_points=(0.5,),
) -> Figure:
    """ROC and precision-recall curves over the FOV pixels, AUC in the legend.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    probabilities, truth, fov : (H, W) or (N, H, W) ndarray
        As for :func:`retina_tutorial.metrics.pixel_metrics`; pooled.
    second_observer : dict, optional
        From :func:`retina_tutorial.metrics.second_observer`: drawn as one
        point on each plot (a human annotation has no curve).
    label : str
        Name of the model in the legend.
    operating_points : sequence of float
        Thresholds marked on both curves.

    Returns
    -------
    Figure
    """
    pixels = metrics.sort_pixels(probabilities, truth, fov)  # one sort for curves and points
    return plot_curves(
        pixels.curves(),
        {threshold: pixels.metrics(threshold) for threshold in operating_points},
        images=1 if np.ndim(probabilities) == 2 else np.shape(probabilities)[0],
        second_observer=second_observer,
        label=label,
    )


def plot_curves(
    curves: dict,
    points: dict | None = None,
    *,
    images: int,
    second_observer: dict | None = None,
    label: str = "U-Net",
) -> Figure:
    """:func:`plot_roc_pr` from curves and points already measured.

    Explained in ``book/05_evaluation.ipynb``. The report draws its figure
    this way from what the evaluation measured, without sorting the pixels
    again.

    Parameters
    ----------
    curves : dict
        From :func:`retina_tutorial.metrics.roc_pr_curves` (or
        :meth:`retina_tutorial.metrics.SortedPixels.curves`).
    points : dict, optional
        Threshold -> :func:`retina_tutorial.metrics.pixel_metrics` at it,
        each marked on both curves.
    images : int
        How many images the pixels came from, for the title.
    second_observer : dict, optional
    label : str

    Returns
    -------
    Figure
    """
    points = points or {}
    figure = Figure(figsize=(9, 4.5), dpi=DPI, layout="constrained")
    roc, pr = figure.subplots(1, 2)

    roc.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="Chance (AUC = 0.5)")
    roc.plot(
        curves["fpr"],
        curves["tpr"],
        color="#0072B2",
        linewidth=2,
        label=f"{label} (AUC = {curves['roc_auc']:.4f})",
    )
    prevalence = curves["prevalence"]
    pr.axhline(
        prevalence,
        color="0.6",
        linestyle="--",
        linewidth=1,
        label=f"Chance (vessel fraction = {prevalence:.3f})",
    )
    pr.plot(
        curves["recall"],
        curves["precision"],
        color="#0072B2",
        linewidth=2,
        label=f"{label} (AP = {curves['pr_auc']:.4f})",
    )
    for (threshold, point), marker in zip(points.items(), "osv^<>"):
        style = dict(
            color="#0072B2",
            marker=marker,
            markersize=7,
            markerfacecolor="white",
            markeredgewidth=2,
            linestyle="none",
            label=f"{label} at threshold {threshold:.2f}",
        )
        roc.plot(1 - point["specificity"], point["sensitivity"], **style)
        pr.plot(point["sensitivity"], point["precision"], **style)
    if second_observer is not None:
        roc.plot(
            1 - second_observer["specificity"],
            second_observer["sensitivity"],
            "D",
            color="#D55E00",
            markersize=8,
            label=f"2nd observer (sens. {second_observer['sensitivity']:.3f}, "
            f"spec. {second_observer['specificity']:.3f})",
        )
        pr.plot(
            second_observer["sensitivity"],
            second_observer["precision"],
            "D",
            color="#D55E00",
            markersize=8,
            label=f"2nd observer (F1 = {second_observer['f1']:.3f})",
        )
    roc.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        aspect="equal",
        xlabel="False positive rate (1 − specificity)",
        ylabel="True positive rate (sensitivity)",
        title="ROC curve",
    )
    pr.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        aspect="equal",
        xlabel="Recall (sensitivity)",
        ylabel="Precision",
        title="Precision-recall curve",
    )
    roc.legend(loc="lower right", fontsize=9)
    pr.legend(loc="lower left", fontsize=9)
    for axes in (roc, pr):
        axes.grid(alpha=0.3)
    figure.suptitle(
        f"Vessel detection inside the field of view: {images} image{'s' if images != 1 else ''}, "
        f"{curves['pixels']:,} pixels"
    )
    return figure


def plot_triptych(image, truth, probabilities, *, fov=None, image_id=None, shrink=1) -> Figure:
    """Photograph, 1st manual annotation and prediction side by side, 1:1 pixels.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].
    truth : (H, W) bool ndarray
        1st manual annotation.
    probabilities : (H, W) float ndarray
        Predicted vessel probability in [0, 1], drawn white = 1.
    fov : (H, W) bool ndarray, optional
        Outside it the prediction is drawn black, like the annotation.
    image_id : str, optional
        Named in the title.
    shrink : int
        Draw each ``shrink`` x ``shrink`` block of pixels as one, their mean
        (1: native resolution). Only the drawing is smaller: everything is
        measured on the full image.
    """
    image, truth, probabilities, fov = _check_one(image, truth, probabilities, fov)
    shrink = _check_shrink(shrink)
    shown = np.where(fov, probabilities, 0.0)
    panels = [
        (_shrink(image, shrink), None, "Photograph"),
        (_shrink(truth, shrink), "gray", "Vessels, 1st observer (truth)"),
        (_shrink(shown, shrink), "gray", "Predicted probability (white = 1)"),
    ]
    figure, axes, text = _native_grid(
        panels[0][0].shape[:2], 1, 3, title=_title("photograph, truth and prediction", image_id)
    )
    for ax, (picture, cmap, title) in zip(axes[0], panels):
        ax.imshow(picture, cmap=cmap, vmin=0, vmax=1, interpolation="none")
        ax.set_title(title, fontsize=11 * text)
    return figure


def plot_error_overlay(
    image,
    truth,
    prediction,
    *,
    fov=None,
    threshold: float = 0.5,
    image_id=None,
    show_binary: bool = False,
    shrink: int = 1,
) -> Figure:
    """Where the segmentation agrees with the 1st manual, and where it errs.

    Explained in ``book/05_evaluation.ipynb``.

    True positives (yellow), false positives (vermillion) and false negatives
    (sky blue) are painted over a dimmed grey version of the photograph;
    pixels outside the FOV are not judged and stay dark.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
    truth : (H, W) bool ndarray
    prediction : (H, W) float or bool ndarray
        Probabilities (thresholded at ``threshold``) or a binary mask.
    fov : (H, W) bool ndarray, optional
    threshold : float
        Vessel where ``prediction >= threshold``.
    image_id : str, optional
    show_binary : bool
        Also show the binary segmentation itself, left of the overlay.
    shrink : int
        Draw each ``shrink`` x ``shrink`` block of pixels as one, their mean
        (1: native resolution). Only the drawing is smaller: everything is
        measured on the full image.
    """
    threshold = metrics.check_threshold(threshold)
    shrink = _check_shrink(shrink)
    image, truth, prediction, fov = _check_one(image, truth, prediction, fov)
    predicted = prediction >= threshold
    counts = {
        "tp": truth & predicted & fov,
        "fp": ~truth & predicted & fov,
        "fn": truth & ~predicted & fov,
    }
    # Grey from the green channel, where vessels show best; dimmed so colours stand out.
    grey = 0.15 + 0.45 * image[..., 1] / max(float(image[..., 1].max()), 1e-6)
    overlay = np.repeat(np.where(fov, grey, 0.05)[..., None], 3, axis=2)
    for key, where in counts.items():
        overlay[where] = _rgb(COLOURS[key])
    overlay = _shrink(overlay, shrink)
    figure, axes, text = _native_grid(
        overlay.shape[:2],
        1,
        2 if show_binary else 1,
        legend_width=250,
        header=30 if show_binary else 0,
        title=_title("errors against the 1st observer", image_id) + f" (threshold {threshold:.2f})",
    )
    if show_binary:
        binary_ax = axes[0][0]
        binary_ax.imshow(
            _shrink(predicted & fov, shrink), cmap="gray", vmin=0, vmax=1, interpolation="none"
        )
        binary_ax.set_title(f"Segmentation: vessel where p ≥ {threshold:.2f}", fontsize=11 * text)
        axes[0][1].set_title("Errors against the 1st observer", fontsize=11 * text)
    ax = axes[0][-1]
    ax.imshow(overlay, interpolation="none")
    names = {
        "tp": "Found (true positive)",
        "fp": "Extra (false positive)",
        "fn": "Missed (false negative)",
    }
    handles = [
        Patch(color=COLOURS[k], label=f"{names[k]}:\n{int(v.sum()):,} pixels")
        for k, v in counts.items()
    ]
    width = figure.get_size_inches()[0] * DPI
    figure.legend(
        handles=handles,
        loc="center left",
        fontsize=10 * text,
        frameon=False,
        bbox_to_anchor=((ax.get_position().x1 * width + 12) / width, 0.5),
        title="Pixels inside the field of view",
        title_fontsize=10 * text,
        alignment="left",
    )
    return figure


def plot_probability_map(probabilities, *, fov=None, image_id=None, shrink=1) -> Figure:
    """Predicted vessel probability with a colour bar, 1:1 pixels.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    probabilities : (H, W) float ndarray
        In [0, 1].
    fov : (H, W) bool ndarray, optional
        Pixels outside it are drawn in grey (not evaluated).
    image_id : str, optional
    shrink : int
        Draw each ``shrink`` x ``shrink`` block of pixels as one, their mean
        (1: native resolution). Only the drawing is smaller: everything is
        measured on the full image.
    """
    return _map_figure(
        probabilities,
        fov,
        title=_title("predicted vessel probability", image_id),
        label="Vessel probability (0 = background, 1 = vessel)",
        vmax=1.0,
        shrink=_check_shrink(shrink),
    )


def plot_flip_spread(spread, *, fov=None, image_id=None) -> Figure:
    """Where the model is unsure: the spread of its predictions over the four flips.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    spread : (H, W) float ndarray
        The standard deviation over the flips, as from
        ``inference.predict_flips(model, image).std(axis=0)``.
    fov : (H, W) bool ndarray, optional
    image_id : str, optional
    """
    spread = np.asarray(spread, dtype=np.float32)
    top = max(float(np.percentile(spread, 99.5)) if spread.size else 0.0, 1e-3)
    return _map_figure(
        spread,
        fov,
        title=_title("spread of the prediction over four flips", image_id),
        label="Standard deviation of the\nvessel probability over the flips",
        vmax=top,
    )


def plot_reliability(reliability: dict, *, title: str | None = None) -> Figure:
    """The reliability diagram: mean predicted probability against vessel share.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    reliability : dict
        From :func:`retina_tutorial.calibration.reliability` (or the
        ``calibration`` of a ``metrics.json``); or several of them by label,
        such as ``{"validation": ..., "test": ...}``, drawn in one diagram.
    title : str, optional
    """
    curves = {"the model": reliability} if "bin_edges" in reliability else dict(reliability)
    if not curves:
        raise ValueError("reliability is empty: pass calibration.reliability(...) results.")
    colours = ("#0072B2", "#D55E00", "#009E73")
    figure = Figure(figsize=(6.4, 6.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="calibrated")
    width = 0.9 / len(curves)
    for index, (label, curve) in enumerate(curves.items()):
        colour = colours[index % len(colours)]
        edges = np.asarray(curve["bin_edges"], float)
        pixels = np.asarray(curve["pixels"], float)
        mean = np.asarray(curve["mean_probability"], float)
        share = np.asarray(curve["vessel_share"], float)
        filled = pixels > 0
        name = label if len(curves) == 1 else f"{label} (ECE {curve['ece']:.4f})"
        top.plot(mean[filled], share[filled], "o-", color=colour, label=name)
        steps = np.diff(edges)
        left = edges[:-1] + steps * (0.05 + index * width)
        bottom.bar(left, pixels, width=steps * width, align="edge", color=colour, alpha=0.7)
    top.set(ylabel="share of pixels that are vessel", xlim=(0, 1), ylim=(0, 1))
    top.legend(loc="upper left", frameon=False)
    if title is None and len(curves) == 1:
        title = f"Reliability inside the FOV (calibration error {curve['ece']:.4f})"
    top.set_title(title or "Reliability inside the FOV")
    bottom.set(yscale="log", xlabel="predicted vessel probability (bin mean)", ylabel="pixels")
    return figure


def plot_tree_breaks(truth, prediction, *, fov=None, image_id=None, shrink=1) -> Figure:
    """Where the predicted vessel tree breaks, whole and magnified 4 times.

    Explained in ``book/05_evaluation.ipynb``.

    The predicted map's pieces of :data:`retina_tutorial.topology.SMALL_PIECE`
    pixels or more are yellow, smaller pieces vermillion, and the 1st
    annotation's centreline where the map misses it sky blue. The magnified
    panel shows the square with the most small pieces.

    Parameters
    ----------
    truth, prediction : (H, W) bool ndarray
        The 1st annotation and the model's binary map.
    fov : (H, W) bool ndarray, optional
    image_id : str, optional
    shrink : int
        Draw each ``shrink`` x ``shrink`` block of pixels as one, their mean
        (1: native resolution). Only the drawing is smaller: everything is
        measured on the full image.
    """
    shrink = _check_shrink(shrink)
    truth = metrics.check_binary(truth, "truth")
    prediction = metrics.check_binary(prediction, "prediction")
    fov = np.ones(truth.shape, bool) if fov is None else metrics.check_binary(fov, "fov")
    if not truth.shape == prediction.shape == fov.shape:
        raise ValueError(
            f"shapes differ: truth {truth.shape}, prediction {prediction.shape}, fov {fov.shape}."
        )
    predicted = prediction & fov
    labels, _ = ndimage.label(predicted, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel())
    small = predicted & (sizes[labels] < topology.SMALL_PIECE)
    missed = topology.skeleton(truth & fov) & ~predicted
    layers = {
        "tree": (predicted & ~small, COLOURS["tp"]),
        "small": (small, COLOURS["fp"]),
        "missed": (missed, COLOURS["fn"]),
    }
    picture = np.repeat(np.where(fov, 0.12, 0.03)[..., None], 3, axis=2)
    for where, colour in layers.values():
        picture[where] = _rgb(colour)
    height, width = truth.shape
    crop_h, crop_w = height // 4, width // 4
    top, left = closeups.densest_square(small, max(crop_h, crop_w))
    window = picture[top : top + crop_h, left : left + crop_w].copy()
    shape, picture = picture.shape, _shrink(picture, shrink)  # the whole one drawn shrunk first
    zoom = np.full(shape, 0.03)
    zoom[: 4 * window.shape[0], : 4 * window.shape[1]] = window.repeat(4, 0).repeat(4, 1)
    zoom = _shrink(zoom, shrink)
    figure, axes, text = _native_grid(
        picture.shape[:2],
        1,
        2,
        legend_width=0,
        header=30,
        top=90,
        title=_title("where the predicted tree breaks", image_id),
    )
    axes[0][0].imshow(picture, interpolation="none")
    axes[0][0].add_patch(
        matplotlib.patches.Rectangle(
            (left / shrink - 0.5, top / shrink - 0.5),
            crop_w / shrink,
            crop_h / shrink,
            fill=False,
            edgecolor="white",
            linewidth=1.5,
        )
    )
    axes[0][0].set_title("Whole image", fontsize=11 * text)
    axes[0][1].imshow(zoom, interpolation="none")
    axes[0][1].set_title("The white square, 4 times larger", fontsize=11 * text)
    names = {
        "tree": f"Pieces of {topology.SMALL_PIECE} pixels or more",
        "small": f"Pieces under {topology.SMALL_PIECE} pixels",
        "missed": "Annotated centreline missed",
    }
    figure.legend(
        handles=[Patch(color=colour, label=names[key]) for key, (_, colour) in layers.items()],
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 40 * text / (figure.get_size_inches()[1] * DPI)),
        ncol=3,
        fontsize=10 * text,
        frameon=False,
    )
    return figure


def plot_per_image(
    rows,
    *,
    metric: str = "f1",
    reference_rows=None,
    reference_label: str = "2nd observer",
    data_name: str | None = None,
) -> Figure:
    """One bar per test image for ``metric``, with the 2nd observer as reference.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    rows : list of dict
        From :func:`retina_tutorial.metrics.per_image_metrics` (``id`` and
        ``metric`` keys), one per image.
    metric : str
        One of :data:`retina_tutorial.metrics.METRIC_NAMES`.
    reference_rows : list of dict, optional
        E.g. :func:`retina_tutorial.metrics.second_observer_per_image`,
        drawn as diamonds on the matching images.
    reference_label : str
    data_name : str, optional
        The data set's name for the axis label (``Dataset.name``, such as
        ``"DRIVE"`` or ``"synthetic"``); without it the axis says "test image".
    """
    if metric not in metrics.METRIC_NAMES:
        raise ValueError(f"metric must be one of {metrics.METRIC_NAMES}, got {metric!r}.")
    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: there is nothing to plot.")
    ids = [str(row["id"]) for row in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(
            "rows holds some image ids more than once; pass the rows of one threshold."
        )
    values = np.array([row[metric] for row in rows], dtype=float)
    name = METRIC_LABELS[metric]
    figure = Figure(figsize=(max(6.0, 0.45 * len(rows) + 2), 4.5), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(rows))
    ax.bar(positions, values, color="#0072B2", width=0.7, label="Model")
    if np.isfinite(values).any():  # undefined values (nan) are left out of the mean
        ax.axhline(
            np.nanmean(values),
            color="#0072B2",
            linestyle="--",
            linewidth=1.2,
            label=f"Model, mean over images = {np.nanmean(values):.3f}",
        )
    if reference_rows is not None:
        lookup = {str(row["id"]): row.get(metric) for row in reference_rows}
        reference = np.array([lookup.get(i, math.nan) for i in ids], dtype=float)
        if metric not in metrics.BINARY_METRIC_NAMES:
            raise ValueError(f"{reference_label} has no {metric}: it is binary (no AUC).")
        ax.plot(positions, reference, "D", color="#D55E00", markersize=7, label=reference_label)
        if np.isfinite(reference).any():
            ax.axhline(
                np.nanmean(reference),
                color="#D55E00",
                linestyle=":",
                linewidth=1.2,
                label=f"{reference_label}, mean = {np.nanmean(reference):.3f}",
            )
    finite = values[np.isfinite(values)]
    low = min(finite.min() if finite.size else 0.0, 1.0)
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.set_xticks(positions, ids)
    xlabel = f"{data_name} test image" if data_name else "test image"
    ax.set(xlabel=xlabel, ylabel=name, title=f"{name} of each test image")
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i] != "Model", i))
    figure.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="outside lower center",
        ncol=4,
        fontsize=9,
        frameon=False,
    )
    return figure


def plot_history(history) -> Figure:
    """Training curves: each loss and metric per epoch, training and validation.

    Explained in ``book/04_training.ipynb``.

    Parameters
    ----------
    history : dict of lists, keras History, or path to ``history.csv``
        Keys (columns) like ``loss``, ``val_loss``, ``fov_auc``,
        ``val_fov_auc``, ``learning_rate``; an ``epoch`` column is optional.

    Returns
    -------
    Figure
        One panel per quantity; the epoch that training keeps
        (:func:`retina_tutorial.run_history.best_epoch`) is marked.
    """
    history = _read_history(history)
    epochs = history.pop("epoch", None)
    length = len(next(iter(history.values())))
    epochs = np.arange(1, length + 1) if epochs is None else np.asarray(epochs, float) + 1
    rates = [k for k in ("learning_rate", "lr") if k in history]
    names = [k for k in history if not k.startswith("val_") and k not in rates]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    panels = names + rates[:1]
    if not names:
        raise ValueError("history holds no loss or metric columns to plot.")
    # Two columns: wide enough to read on a book page, no half-empty rows for 4 panels.
    columns = min(2, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.4 * columns, 3.2 * rows), dpi=DPI, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    kept = run_history.best_epoch(history)  # the epoch saved as best.keras
    best = None if kept is None else epochs[kept["index"]]
    for ax, name in zip(axes, panels):
        label = _history_label(name)
        if name in rates:
            # Linear: a cosine schedule ends at exactly 0, which a log axis cannot show.
            ax.plot(epochs, history[name], color="0.3", marker=".")
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        else:
            if name in history:
                ax.plot(
                    epochs, history[name], color="#0072B2", marker=".", label="Training patches"
                )
            if f"val_{name}" in history:
                ax.plot(
                    epochs,
                    history[f"val_{name}"],
                    color="#D55E00",
                    marker=".",
                    label="Validation images",
                )
            ax.legend(fontsize=9)
        if best is not None:
            ax.axvline(best, color="0.5", linestyle=":", linewidth=1)
        ax.set(xlabel="Epoch", ylabel=label, title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no half epochs
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    rule = "highest validation AUC of an epoch with a finite loss"
    suffix = f" (dotted line: {rule}, epoch {best:g})" if best is not None else ""
    figure.suptitle("Training history" + suffix)
    return figure


def plot_time_to_quality(
    benchmark, *, target_auc: float = 0.978, target_minutes: float = 15.0
) -> Figure:
    """Validation AUC against wall-clock minutes, with the target marked.

    Explained in ``book/04_training.ipynb``.

    Parameters
    ----------
    benchmark : dict
        ``minutes`` and ``val_auc`` lists, as from
        :func:`retina_tutorial.pretrained.time_to_quality`.
    target_auc, target_minutes : float
        The benchmark's target: this AUC within this many minutes.

    Returns
    -------
    Figure
    """
    minutes = np.asarray(benchmark.get("minutes", ()), dtype=float)
    auc = np.asarray(benchmark.get("val_auc", ()), dtype=float)
    if minutes.size == 0 or minutes.shape != auc.shape:
        raise ValueError(
            "benchmark needs 'minutes' and 'val_auc' lists of the same, non-zero length."
        )
    figure = Figure(figsize=(6.4, 4.0), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    ax.plot(minutes, auc, color="#0072B2", marker=".", label="Validation AUC after each epoch")
    ax.axhline(
        target_auc, color="#D55E00", linestyle="--", linewidth=1, label=f"Target AUC {target_auc}"
    )
    ax.axvline(
        target_minutes, color="0.4", linestyle=":", linewidth=1, label=f"{target_minutes:g} minutes"
    )
    reached = np.flatnonzero(auc >= target_auc)
    if reached.size:
        first = reached[0]
        ax.annotate(
            f"{auc[first]:.4f} after {minutes[first]:.1f} min",
            (minutes[first], auc[first]),
            xytext=(10, -25),
            textcoords="offset points",
            arrowprops={"arrowstyle": "->"},
        )
    ax.set(
        xlabel="Wall-clock time (minutes)",
        ylabel="ROC AUC inside the FOV (validation)",
        title="Time to quality",
        ylim=(max(0.9, float(np.nanmin(auc)) - 0.005), 1.0),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return figure


def plot_samples(split: data.Split, n: int = 3, *, ids=None) -> Figure:
    """Photograph, FOV mask, 1st and (if present) 2nd manual, for ``n`` images.

    Explained in ``book/01_data_preparation.ipynb``.

    Parameters
    ----------
    split : Split
    n : int
        How many images, from the start of the split (ignored with ``ids``).
    ids : sequence of str, optional
        Which images to show.
    """
    if ids is None:
        ids = split.ids[: checks.integer(n, "n", minimum=1)]
    missing = [i for i in ids if i not in split.ids]
    if missing:
        raise ValueError(f"ids {missing} are not in this split (it has {split.ids}).")
    titles = ["Photograph", "Field of view (FOV)", "Vessels, 1st observer"]
    if split.vessels_2nd is not None:
        titles.append("Vessels, 2nd observer")
    height, width = split.images.shape[1:3]
    # At most 9 inches wide: a page shrinks wider figures, and their text with them.
    scale = min(3.2, 8.4 / len(titles)) / max(height, width)
    figure = Figure(
        figsize=(len(titles) * width * scale + 0.6, len(ids) * (height * scale + 0.1) + 0.4),
        dpi=DPI,
        layout="constrained",
    )
    axes = figure.subplots(len(ids), len(titles), squeeze=False)
    for row, image_id in enumerate(ids):
        index = split.ids.index(image_id)
        pictures = [split.images[index], split.fov[index], split.vessels[index]]
        if split.vessels_2nd is not None:
            pictures.append(split.vessels_2nd[index])
        for column, (ax, picture) in enumerate(zip(axes[row], pictures)):
            ax.imshow(
                picture,
                cmap=None if picture.ndim == 3 else "gray",
                vmin=0,
                vmax=1,
                interpolation="antialiased",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if row == 0:
                ax.set_title(titles[column], fontsize=10)
        axes[row][0].set_ylabel(f"Image {image_id}", fontsize=10)
    return figure


# --- helpers -----------------------------------------------------------------


def _title(text: str, image_id) -> str:
    return text[:1].upper() + text[1:] if image_id is None else f"Test image {image_id}: {text}"


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])


def _check_shrink(shrink) -> int:
    if isinstance(shrink, bool) or not isinstance(shrink, (int, np.integer)) or shrink < 1:
        raise ValueError(f"shrink must be a positive integer, got {shrink!r}.")
    return int(shrink)


def _shrink(picture, factor: int) -> np.ndarray:
    """Each ``factor`` x ``factor`` block of an (H, W) or (H, W, C) picture as its mean.

    Blocks at the right and bottom edges may be narrower; they are the mean
    of the pixels they hold.

    >>> _shrink(np.array([[0, 1, 1], [1, 0, 1]]), 2).tolist()
    [[0.5, 1.0]]
    """
    picture = np.asarray(picture)
    if factor == 1:
        return picture
    height, width = picture.shape[:2]
    rows, columns = np.arange(0, height, factor), np.arange(0, width, factor)
    sums = np.add.reduceat(
        np.add.reduceat(picture, rows, axis=0, dtype=np.float64), columns, axis=1
    )
    counts = np.outer(np.diff(rows, append=height), np.diff(columns, append=width))
    return (sums / counts.reshape(counts.shape + (1,) * (picture.ndim - 2))).astype(np.float32)


def _check_one(image, truth, prediction, fov):
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be one (H, W, 3) RGB image, got shape {image.shape}.")
    truth = metrics.check_binary(truth, "truth")
    prediction = np.asarray(prediction)
    prediction = prediction.astype(np.float32)
    fov = np.ones(image.shape[:2], bool) if fov is None else metrics.check_binary(fov, "fov")
    shapes = {
        "image": image.shape[:2],
        "truth": truth.shape,
        "prediction": prediction.shape,
        "fov": fov.shape,
    }
    if len(set(shapes.values())) != 1:
        raise ValueError(f"shapes differ: {shapes}; all must be the same (H, W).")
    return image, truth, prediction, fov


def _native_grid(shape, rows, columns, *, title, legend_width=0, gap=12, header=30, top=40):
    """A figure whose axes are exactly one pixel per image pixel at ``DPI``.

    ``top`` pixels hold the figure title, ``header`` pixels above each row
    the panel titles, and ``legend_width`` pixels on the right a legend or
    colour bar. Returns the figure, the rows of axes and the factor by which
    text is enlarged (``top``, ``header`` and ``legend_width`` grow with it)
    so that it stays readable when a page shrinks the figure to
    :data:`PAGE_PIXELS`.
    """
    height, width = shape
    text = max(1.0, (columns * width + (columns + 1) * gap + legend_width) / PAGE_PIXELS)
    top, header, legend_width = (round(size * text) for size in (top, header, legend_width))
    total_w = columns * width + (columns + 1) * gap + legend_width
    total_h = top + rows * (height + header) + gap
    figure = Figure(figsize=(total_w / DPI, total_h / DPI), dpi=DPI)
    axes = []
    for row in range(rows):
        line = []
        for column in range(columns):
            left = gap + column * (width + gap)
            bottom = total_h - top - (row + 1) * (height + header)
            ax = figure.add_axes(
                (left / total_w, bottom / total_h, width / total_w, height / total_h)
            )
            ax.set_axis_off()
            line.append(ax)
        axes.append(line)
    figure.suptitle(title, fontsize=13 * text, y=1 - 10 / total_h, va="top")
    return figure, axes, text


def _map_figure(values, fov, *, title: str, label: str, vmax: float, shrink: int = 1) -> Figure:
    """One map at 1:1 pixels (or ``shrink`` times smaller), a colour bar, grey outside the FOV."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"the map must be (H, W), got shape {values.shape}.")
    fov = np.ones(values.shape, bool) if fov is None else metrics.check_binary(fov, "fov")
    if fov.shape != values.shape:
        raise ValueError(f"shapes differ: map {values.shape}, fov {fov.shape}.")
    if shrink > 1:  # each block: the mean inside the FOV; outside where it has no FOV pixel
        inside = _shrink(fov, shrink)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = _shrink(np.where(fov, values, 0.0), shrink) / inside
        fov = inside > 0
    figure, axes, text = _native_grid(values.shape, 1, 1, legend_width=220, header=0, title=title)
    ax = axes[0][0]
    shown = np.ma.masked_array(values, mask=~fov)
    colours = matplotlib.colormaps["magma"].with_extremes(bad=_OUTSIDE_FOV)
    mappable = ax.imshow(shown, cmap=colours, vmin=0, vmax=vmax, interpolation="none")
    width, _height = figure.get_size_inches() * DPI
    left = (ax.get_position().x1 * width + 25) / width
    bar = figure.add_axes((left, 0.2, 22 / width, 0.65))
    colourbar = figure.colorbar(mappable, cax=bar)
    colourbar.set_label(label, fontsize=10 * text)
    colourbar.ax.tick_params(labelsize=10 * text)
    if not fov.all():
        figure.legend(
            handles=[Patch(color=_OUTSIDE_FOV, label="Outside the field of view\n(not evaluated)")],
            loc="lower left",
            bbox_to_anchor=(left - 10 / width, 0.03),
            fontsize=9 * text,
            frameon=False,
        )
    return figure


def _read_history(history) -> dict:
    if hasattr(history, "history"):
        history = history.history
    if isinstance(history, (str, Path)):
        path = Path(history)
        if not path.is_file():
            raise ValueError(f"{path}: no such history file (expected history.csv of a run).")
        history = run_history.read_history(path)
    if not isinstance(history, dict) or not history:
        raise ValueError(
            "history must be a non-empty dict of lists, a keras History or the path of "
            f"a history.csv, got {type(history).__name__}."
        )
    lengths = {len(v) for v in history.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"history columns must have one common, non-zero length; got {sorted(lengths)}."
        )
    return {k: np.asarray(v, dtype=float) for k, v in history.items()}


def _history_label(name: str) -> str:
    if name in ("learning_rate", "lr"):
        return "Learning rate"
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    readable = {
        "fov_auc": "ROC AUC inside the FOV",
        "fov_dice": "Dice inside the FOV",
        "auc": "ROC AUC inside the FOV",
        "dice": "Dice inside the FOV",
    }
    return readable.get(name, name.replace("_", " ").capitalize())
