"""Explorers build, redraw on update and on a control change, all without a display."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from retina_tutorial import metrics, widgets

SHAPE = (40, 36)


@pytest.fixture
def example():
    rng = np.random.default_rng(1)
    image = rng.random((*SHAPE, 3)).astype(np.float32)
    vessels = np.zeros(SHAPE, bool)
    vessels[:, 17:19] = True  # one vertical vessel, 2 pixels wide
    fov = np.zeros(SHAPE, bool)
    fov[4:-4, 4:-4] = True
    probabilities = np.clip(0.7 * vessels + 0.4 * rng.random(SHAPE), 0, 1).astype(np.float32)
    return image, vessels, fov, probabilities


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "an explorer left a pyplot figure open"


def test_augmentation_explorer_builds_and_updates(example):
    image, vessels, fov, _ = example
    explorer = widgets.augmentation_explorer(image, vessels, fov, seed=3)
    assert set(explorer.controls) == {"rotation", "zoom", "shift", "flip", "photometric", "seed"}
    assert isinstance(explorer.figure, Figure)
    assert explorer.summary.startswith("0 target values strictly between 0 and 1")
    first = explorer.figure
    figure = explorer.update(rotation=30.0, zoom=0.0, shift=0.0, flip=False, seed=5)
    assert figure is explorer.figure and figure is not first
    assert explorer.values()["rotation"] == 30.0 and explorer.controls["seed"].value == 5
    assert "rotation up to ±30°" in figure._suptitle.get_text()
    assert next(ax.get_title() for ax in figure.axes) == "Augmented photograph"
    assert "seed=5" in repr(explorer)


def test_augmentation_explorer_without_changes_keeps_the_targets(example):
    image, vessels, fov, _ = example
    explorer = widgets.augmentation_explorer(image, vessels, fov)
    explorer.update(rotation=0.0, zoom=0.0, shift=0.0, flip=False, photometric=False)
    shown = explorer.figure.axes[1].get_images()[0].get_array()
    # Identity transform: vessel pixels white, other FOV pixels grey, the rest black.
    np.testing.assert_array_equal(shown[..., 0] == 1.0, vessels)
    np.testing.assert_array_equal(shown[..., 0] > 0, fov | vessels)
    assert explorer.summary.endswith(f"{fov.mean():.1%} of the pixels inside the FOV")


def test_updating_makes_no_widgets_until_displayed(example):
    # The book's build only updates explorers: no widget state may end up in it.
    image, vessels, fov, probabilities = example
    explorer = widgets.threshold_explorer(image, probabilities, vessels, fov)
    explorer.update(threshold=0.4)
    assert explorer._widgets is None
    box = explorer.widget
    assert isinstance(box, ipywidgets.VBox) and explorer.controls["threshold"].value == 0.4
    assert explorer.widget is box  # made once
    assert f"<b>{explorer.summary}</b>" in [
        child.value for child in box.children if isinstance(child, ipywidgets.HTML)
    ]


def test_update_after_display_moves_the_control(example):
    image, vessels, fov, probabilities = example
    explorer = widgets.threshold_explorer(image, probabilities, vessels, fov)
    slider = explorer.controls["threshold"]
    explorer.update(threshold=0.25)
    assert slider.value == 0.25 and explorer.summary.startswith("Threshold 0.25")
    explorer.update(threshold=5.0)  # the slider clamps, and the figure follows it
    assert slider.value == 0.99 and explorer.summary.startswith("Threshold 0.99")


def test_moving_a_control_redraws(example):
    image, vessels, fov, probabilities = example
    explorer = widgets.threshold_explorer(image, probabilities, vessels, fov)
    before = explorer.figure
    explorer.controls["threshold"].value = 0.8  # what a learner's slider does
    assert explorer.figure is not before
    assert explorer.summary.startswith("Threshold 0.80")


def test_threshold_explorer_reports_pixel_metrics(example):
    image, vessels, fov, probabilities = example
    explorer = widgets.threshold_explorer(image, probabilities, vessels, fov)
    for threshold in (0.3, 0.6):
        explorer.update(threshold=threshold)
        scores = metrics.pixel_metrics(probabilities, vessels, fov, threshold)
        assert f"F1 {scores['f1']:.3f}" in explorer.summary
        assert f"specificity {scores['specificity']:.3f}" in explorer.summary
        assert f"threshold {threshold:.2f}" in explorer.figure._suptitle.get_text()


def test_update_rejects_unknown_controls(example):
    image, vessels, fov, probabilities = example
    explorer = widgets.threshold_explorer(image, probabilities, vessels, fov)
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(treshold=0.3)
    with pytest.raises(ValueError, match="same settings"):
        widgets.Explorer({"a": None}, {"b": 1}, lambda **values: (None, ""))


def test_explorers_reject_mismatched_shapes(example):
    image, vessels, fov, probabilities = example
    with pytest.raises(ValueError, match="must match"):
        widgets.augmentation_explorer(image, vessels[:-1], fov)
    with pytest.raises(ValueError, match="shapes differ"):
        widgets.threshold_explorer(image, probabilities[:-1], vessels, fov)
    with pytest.raises(ValueError, match="image"):
        widgets.threshold_explorer(image[:-1], probabilities, vessels, fov)
