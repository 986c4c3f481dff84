"""Interactive explorers for the notebooks: controls and a figure that redraws.

Explained in ``book/03_augmentation.ipynb`` (:func:`augmentation_explorer`)
and ``book/05_evaluation.ipynb`` (:func:`threshold_explorer`).

An explorer is an :class:`Explorer`: ipywidgets controls above a matplotlib
figure. In a running notebook, display it (make it the last line of a cell)
and move the controls; the figure redraws. The published book runs no
Python, so its controls could not redraw anything; the chapters therefore
also call :meth:`Explorer.update` with chosen settings and show the figure it
returns, a static stand-in that works anywhere, with or without a display.

The widgets are made only when the explorer is first displayed (or its
:attr:`Explorer.controls` are asked for). An explorer that is only updated,
as in the book's build, creates no widget, so no widget state ends up in the
published pages.
"""

from __future__ import annotations

import functools

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from retina_tutorial import augment, metrics, plotting

_VESSEL_COLOURS = np.array([[0.0, 0.0, 0.0], [0.35, 0.35, 0.35], [1.0, 1.0, 1.0]], dtype=np.float32)


def _in_kernel() -> bool:
    # Only a running IPython kernel can show a figure inside an Output widget;
    # without one (scripts, tests) the explorer just keeps the figure.
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Explorer:
    """Controls plus a figure that is redrawn whenever a control changes.

    Explained in ``book/03_augmentation.ipynb``.

    Parameters
    ----------
    controls : dict of str to callable
        Named control factories: ``factory(value) -> ipywidgets.ValueWidget``.
        The names are the keyword arguments of ``draw``.
    values : dict of str to object
        Initial value of each control.
    draw : callable
        ``draw(**values) -> (Figure, str)``: the figure and a one-line summary.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure for the current settings.
    summary : str
        One line describing it (also shown under the controls).
    """

    def __init__(self, controls: dict, values: dict, draw):
        if set(controls) != set(values):
            raise ValueError("Explorer: controls and values must name the same settings.")
        self._factories = dict(controls)
        self._values = dict(values)
        self._draw = draw
        self._widgets = None
        self._busy = False
        self.figure = None
        self.summary = ""
        self.update()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.values().items())
        return f"Explorer({settings})"

    def values(self) -> dict:
        """The current value of every control, by name."""
        return dict(self._values)

    @property
    def controls(self) -> dict:
        """The ipywidgets controls by name (made on first use)."""
        return self._build()["controls"]

    @property
    def widget(self) -> ipywidgets.VBox:
        """What a notebook displays: controls, summary line and figure."""
        return self._build()["box"]

    def update(self, **values) -> Figure:
        """Set some controls, redraw once and return the new figure.

        Parameters
        ----------
        **values
            Control names and their new values; unknown names are an error.

        Returns
        -------
        Figure

        Raises
        ------
        ValueError
            If a name is not one of the controls, or ``draw`` rejects a value.
        """
        unknown = sorted(set(values) - set(self._values))
        if unknown:
            raise ValueError(
                f"Explorer.update: unknown control(s) {unknown}; "
                f"the controls are {sorted(self._values)}."
            )
        self._values.update(values)
        if self._widgets is not None:
            self._busy = True  # one redraw for all the changes, not one per control
            try:
                for name, value in values.items():
                    self._widgets["controls"][name].value = value
                # Widgets clamp out-of-range values; draw what they show.
                self._values.update({n: c.value for n, c in self._widgets["controls"].items()})
            finally:
                self._busy = False
        self.figure, self.summary = self._draw(**self._values)
        self._show()
        return self.figure

    def _build(self) -> dict:
        if self._widgets is None:
            controls = {name: make(self._values[name]) for name, make in self._factories.items()}
            for name, control in controls.items():
                control.observe(functools.partial(self._changed, name), names="value")
            rows = [
                ipywidgets.HBox(list(controls.values())[i : i + 3])
                for i in range(0, len(controls), 3)
            ]
            label, output = ipywidgets.HTML(), ipywidgets.Output()
            self._widgets = {
                "controls": controls,
                "label": label,
                "output": output,
                "box": ipywidgets.VBox([*rows, label, output]),
            }
            self._show()
        return self._widgets

    def _show(self) -> None:
        if self._widgets is None:
            return
        self._widgets["label"].value = f"<b>{self.summary}</b>"
        if _in_kernel():
            from IPython.display import display

            output = self._widgets["output"]
            with output:
                output.clear_output(wait=True)
                display(self.figure)

    def _changed(self, name, change) -> None:
        if not self._busy:
            self.update(**{name: change["new"]})

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _slider(kind, description, low, high, step, **extra):
    """Factory of a slider: ``make(value) -> widget``."""
    layout = ipywidgets.Layout(width="300px")
    style = {"description_width": "110px"}
    options = dict(
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=False,
        layout=layout,
        style=style,
        **extra,
    )
    return lambda value: kind(value=value, **options)


def _checkbox(description):
    """Factory of a checkbox: ``make(value) -> widget``."""
    return lambda value: ipywidgets.Checkbox(value=value, description=description)


def augmentation_explorer(image, vessels, fov, *, seed: int = 0) -> Explorer:
    """Explore the Keras 3 paired augmentation on one fundus image.

    Explained in ``book/03_augmentation.ipynb``.

    Controls set the largest rotation, zoom and shift, the flips, the
    photometric changes and the random seed of
    :func:`retina_tutorial.augment.build_augmenter`; the figure shows the
    augmented photograph, the augmented targets (vessel white, FOV grey,
    uncovered area black) and a 1:1 close-up of the vessel target.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].
    vessels, fov : (H, W) bool ndarray
        Vessel annotation and field of view.
    seed : int
        Initial seed of the random draw.

    Returns
    -------
    Explorer
        Controls ``rotation``, ``zoom``, ``shift``, ``flip``, ``photometric``
        and ``seed``.

    Raises
    ------
    ValueError
        If the shapes do not match.
    """
    image = np.asarray(image, dtype=np.float32)
    vessels, fov = np.asarray(vessels, bool), np.asarray(fov, bool)
    if (
        image.ndim != 3
        or image.shape[-1] != 3
        or not (vessels.shape == fov.shape == image.shape[:2])
    ):
        raise ValueError(
            f"augmentation_explorer: image (H, W, 3), vessels and fov (H, W) must match; got "
            f"{image.shape}, {vessels.shape} and {fov.shape}."
        )
    targets = np.stack([vessels, fov], axis=-1).astype(np.float32)[None]
    height, width = vessels.shape
    side = max(1, min(96, height // 3, width // 3))

    def draw(rotation, zoom, shift, flip, photometric, seed):
        augmenter = augment.build_augmenter(
            int(seed),
            rotation=rotation,
            shift=shift,
            zoom=zoom,
            flip=flip,
            photometric=photometric,
        )
        images, moved = augmenter(image[None], targets)
        picture = np.clip(np.asarray(images)[0], 0, 1)
        moved = np.asarray(moved)[0]
        levels = np.where(moved[..., 0] > 0.5, 2, moved[..., 1] > 0.5)
        shown = _VESSEL_COLOURS[levels.astype(int)]
        top, left = _busiest_block(moved[..., 0], side)
        close_up = shown[top : top + side, left : left + side]
        grey = augment.count_non_binary(moved)
        figure = Figure(figsize=(10, 3.9), dpi=plotting.DPI, layout="constrained")
        axes = figure.subplots(1, 3, width_ratios=(width, width, height))
        panels = (
            (picture, "Augmented photograph"),
            (shown, "Augmented targets: vessel white, FOV grey"),
            (close_up, f"Close-up of the box ({side} x {side} px), pixel by pixel"),
        )
        extents = (None, None, (left - 0.5, left + side - 0.5, top + side - 0.5, top - 0.5))
        for ax, (picture_, title), extent in zip(axes, panels, extents):
            ax.imshow(picture_, interpolation="nearest", extent=extent)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("column (pixels)")
        axes[0].set_ylabel("row (pixels)")
        axes[1].add_patch(_rectangle(left, top, side))
        figure.suptitle(
            f"Keras 3 augmentation: rotation up to ±{rotation:g}°, zoom ±{zoom:.0%}, "
            f"shift ±{shift:.0%}, flips {'on' if flip else 'off'}, seed {seed}"
        )
        inside = float(moved[..., 1].mean())
        summary = (
            f"{grey} target values strictly between 0 and 1; "
            f"{inside:.1%} of the pixels inside the FOV"
        )
        return figure, summary

    controls = {
        "rotation": _slider(ipywidgets.FloatSlider, "rotation (°)", 0.0, 180.0, 5.0),
        "zoom": _slider(ipywidgets.FloatSlider, "zoom (±)", 0.0, 0.5, 0.05),
        "shift": _slider(ipywidgets.FloatSlider, "shift (±)", 0.0, 0.3, 0.05),
        "flip": _checkbox("random flips"),
        "photometric": _checkbox("brightness, contrast, gamma"),
        "seed": _slider(ipywidgets.IntSlider, "random draw", 0, 50, 1),
    }
    values = {
        "rotation": 90.0,
        "zoom": 0.2,
        "shift": 0.1,
        "flip": True,
        "photometric": True,
        "seed": int(seed),
    }
    return Explorer(controls, values, draw)


def _busiest_block(mask, side):
    """Top-left corner of the ``side`` x ``side`` block holding the most vessel."""
    rows, columns = mask.shape[0] // side, mask.shape[1] // side
    blocks = mask[: rows * side, : columns * side].reshape(rows, side, columns, side)
    row, column = np.unravel_index(np.argmax(blocks.sum(axis=(1, 3))), (rows, columns))
    return int(row) * side, int(column) * side


def _rectangle(left, top, side):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (left - 0.5, top - 0.5), side, side, fill=False, edgecolor="#E69F00", linewidth=1.5
    )


def threshold_explorer(image, probabilities, truth, fov, *, image_id=None) -> Explorer:
    """Move the decision threshold and watch errors and metrics change.

    Explained in ``book/05_evaluation.ipynb``.

    The figure is the binary segmentation at the slider's threshold beside
    :func:`retina_tutorial.plotting.plot_error_overlay` (true positives,
    false positives, false negatives);
    the summary line gives :func:`retina_tutorial.metrics.pixel_metrics`
    inside the FOV.

    Parameters
    ----------
    image : (H, W, 3) float ndarray
        RGB in [0, 1].
    probabilities : (H, W) float ndarray
        Predicted vessel probabilities in [0, 1].
    truth, fov : (H, W) bool ndarray
        1st manual annotation and field of view.
    image_id : str, optional
        Named in the figure's title.

    Returns
    -------
    Explorer
        One control, ``threshold``.

    Raises
    ------
    ValueError
        If shapes differ or values are out of range (from ``pixel_metrics``).
    """
    image = np.asarray(image, dtype=np.float32)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    truth, fov = np.asarray(truth, bool), np.asarray(fov, bool)
    # Validate once, up front, so a wrong input fails before any control is made.
    metrics.pixel_metrics(probabilities, truth, fov, 0.5)
    if image.shape[:2] != probabilities.shape or image.ndim != 3:
        raise ValueError(
            f"threshold_explorer: image {image.shape} must be (H, W, 3) with the "
            f"(H, W) of probabilities {probabilities.shape}."
        )

    def draw(threshold):
        scores = metrics.pixel_metrics(probabilities, truth, fov, threshold)
        figure = plotting.plot_error_overlay(
            image,
            truth,
            probabilities,
            fov=fov,
            threshold=threshold,
            show_binary=True,
            image_id=image_id,
        )
        summary = (
            f"Threshold {threshold:.2f}: F1 {scores['f1']:.3f}, sensitivity "
            f"{scores['sensitivity']:.3f}, specificity {scores['specificity']:.3f}, "
            f"precision {scores['precision']:.3f}, accuracy {scores['accuracy']:.3f} "
            f"(pixels inside the FOV)"
        )
        return figure, summary

    controls = {
        "threshold": _slider(
            ipywidgets.FloatSlider, "threshold", 0.01, 0.99, 0.01, readout_format=".2f"
        ),
    }
    return Explorer(controls, {"threshold": 0.5}, draw)
