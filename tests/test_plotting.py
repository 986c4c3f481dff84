"""Figures: returned (never shown), readable labels, native resolution, right counts."""

import io

import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from retina_tutorial import calibration, data, metrics, plotting, run_history

SHAPE = (48, 40)


@pytest.fixture
def example():
    rng = np.random.default_rng(0)
    truth = rng.random(SHAPE) < 0.2
    probabilities = np.clip(0.6 * truth + 0.5 * rng.random(SHAPE), 0, 1).astype(np.float32)
    fov = np.zeros(SHAPE, bool)
    fov[4:-4, 3:-3] = True
    image = rng.random((*SHAPE, 3)).astype(np.float32)
    return image, truth, probabilities, fov


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before, "a plotting function left a pyplot figure open"


def _png(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    with Image.open(buffer) as png:
        return np.asarray(png.convert("RGB"))


def _texts(figure) -> str:
    return " ".join(t.get_text() for t in figure.findobj(lambda o: hasattr(o, "get_text")))


def test_roc_pr_legend_and_second_observer(example):
    _image, truth, probabilities, fov = example
    second = {"sensitivity": 0.77, "specificity": 0.97, "precision": 0.8, "f1": 0.79}
    figure = plotting.plot_roc_pr(probabilities, truth, fov, second_observer=second, label="Net")
    assert isinstance(figure, Figure)
    auc = metrics.pixel_metrics(probabilities, truth, fov)["roc_auc"]
    text = _texts(figure)
    assert f"Net (AUC = {auc:.4f})" in text and "2nd observer" in text
    roc = figure.axes[0]
    assert roc.get_xlabel().startswith("False positive rate") and roc.get_title() == "ROC curve"
    assert _png(figure).shape[2] == 3


def test_curves_measured_once_draw_the_same_figure(example):
    _image, truth, probabilities, fov = example
    second = {"sensitivity": 0.77, "specificity": 0.97, "precision": 0.8, "f1": 0.79}
    drawn = plotting.plot_roc_pr(probabilities, truth, fov, second_observer=second)
    again = plotting.plot_curves(
        metrics.roc_pr_curves(probabilities, truth, fov),
        {0.5: metrics.pixel_metrics(probabilities, truth, fov, 0.5)},
        images=1,
        second_observer=second,
    )
    assert _texts(again) == _texts(drawn)
    np.testing.assert_array_equal(_png(again), _png(drawn))


def test_triptych_is_at_native_resolution(example):
    image, truth, probabilities, fov = example
    figure = plotting.plot_triptych(image, truth, probabilities, fov=fov, image_id="07")
    assert len(figure.axes) == 3
    for ax in figure.axes:
        box = ax.bbox  # display pixels at the figure's dpi, the dpi savefig uses
        assert (round(box.width), round(box.height)) == (SHAPE[1], SHAPE[0])
        assert ax.get_title()
    assert "07" in figure.get_suptitle()


def test_error_overlay_counts_and_colours(example):
    image, truth, probabilities, fov = example
    figure = plotting.plot_error_overlay(image, truth, probabilities, fov=fov, threshold=0.5)
    m = metrics.pixel_metrics(probabilities, truth, fov, 0.5)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert [label.split("\n")[1] for label in labels] == [
        f"{m[k]:,} pixels" for k in ("tp", "fp", "fn")
    ]
    # The drawn image holds exactly the three palette colours where errors are.
    picture = figure.axes[0].get_images()[0].get_array()
    predicted = probabilities >= 0.5
    false_positive = ~truth & predicted & fov
    np.testing.assert_allclose(
        picture[false_positive],
        np.array(matplotlib.colors.to_rgb(plotting.COLOURS["fp"]))[None].repeat(
            false_positive.sum(), 0
        ),
    )
    assert not np.any(
        np.all(picture[~fov] == matplotlib.colors.to_rgb(plotting.COLOURS["tp"]), axis=-1)
    )


def test_error_overlay_can_show_the_binary_segmentation(example):
    image, truth, probabilities, fov = example
    figure = plotting.plot_error_overlay(
        image, truth, probabilities, fov=fov, threshold=0.3, show_binary=True
    )
    binary = figure.axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(np.asarray(binary, bool), (probabilities >= 0.3) & fov)
    assert "0.30" in figure.axes[0].get_title()
    assert len(figure.axes) == 2 and figure.axes[1].get_images()


def test_error_overlay_takes_a_binary_mask(example):
    image, truth, _, fov = example
    figure = plotting.plot_error_overlay(image, truth, truth, fov=fov)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels[1].endswith("\n0 pixels") and labels[2].endswith("\n0 pixels")


def test_probability_map_has_labelled_colour_bar(example):
    _, _, probabilities, fov = example
    figure = plotting.plot_probability_map(probabilities, fov=fov, image_id="01")
    bar = figure.axes[1]
    assert "probability" in bar.get_ylabel().lower()
    assert "Outside the field of view" in _texts(figure)
    picture = figure.axes[0].get_images()[0].get_array()
    assert np.ma.getmaskarray(picture)[~fov].all()


def test_shrunk_figures_are_measured_whole_and_drawn_block_by_block(example):
    image, truth, probabilities, fov = example
    small = (-(-SHAPE[0] // 3), -(-SHAPE[1] // 3))  # the edge blocks are narrower
    figure = plotting.plot_triptych(image, truth, probabilities, fov=fov, shrink=3)
    for ax in figure.axes:
        assert (round(ax.bbox.width), round(ax.bbox.height)) == (small[1], small[0])
    truth_drawn = figure.axes[1].get_images()[0].get_array()
    assert truth_drawn[0, 0] == pytest.approx(truth[:3, :3].mean())
    assert truth_drawn[-1, -1] == pytest.approx(
        truth[-(SHAPE[0] % 3 or 3) :, -(SHAPE[1] % 3 or 3) :].mean()
    )
    whole = plotting.plot_error_overlay(image, truth, probabilities, fov=fov)
    shrunk = plotting.plot_error_overlay(image, truth, probabilities, fov=fov, shrink=3)
    legend = [[t.get_text() for t in f.legends[0].get_texts()] for f in (whole, shrunk)]
    assert legend[0] == legend[1]  # the counts are the full image's
    overlay = shrunk.axes[0].get_images()[0].get_array()
    full = whole.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(overlay[1, 2], full[3:6, 6:9].mean(axis=(0, 1)), rtol=1e-6)
    figure = plotting.plot_probability_map(probabilities, fov=fov, shrink=4)
    drawn = figure.axes[0].get_images()[0].get_array()
    assert drawn.shape == (SHAPE[0] // 4, SHAPE[1] // 4)
    assert np.ma.getmaskarray(drawn)[0, 0] and not np.ma.getmaskarray(drawn)[1, 1]
    block = np.s_[4:8, 4:8]
    assert drawn[1, 1] == pytest.approx(probabilities[block][fov[block]].mean())
    figure = plotting.plot_tree_breaks(truth, probabilities >= 0.5, fov=fov, shrink=2)
    assert figure.axes[0].get_images()[0].get_array().shape[:2] == (SHAPE[0] // 2, SHAPE[1] // 2)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="shrink"):
            plotting.plot_triptych(image, truth, probabilities, shrink=bad)


def test_per_image_bars_with_reference():
    rows = [{"id": "01", "f1": 0.7}, {"id": "02", "f1": 0.8}]
    reference = [{"id": "02", "f1": 0.79}, {"id": "01", "f1": 0.81}]
    figure = plotting.plot_per_image(rows, metric="f1", reference_rows=reference)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["01", "02"]
    diamonds = next(line for line in ax.get_lines() if line.get_marker() == "D")
    np.testing.assert_allclose(diamonds.get_ydata(), [0.81, 0.79])
    assert ax.get_ylabel() == "F1 score (Dice)"


def test_per_image_with_undefined_values():
    rows = [{"id": "01", "sensitivity": float("nan")}, {"id": "02", "sensitivity": float("nan")}]
    figure = plotting.plot_per_image(rows, metric="sensitivity")
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["01", "02"]


@pytest.mark.parametrize(
    "rows, kwargs, message",
    [
        ([{"id": "01", "f1": 0.7}], {"metric": "dice"}, "metric must be one of"),
        ([], {}, "empty"),
        ([{"id": "01", "f1": 0.7}, {"id": "01", "f1": 0.6}], {}, "more than once"),
        ([{"id": "01", "roc_auc": 0.9}], {"metric": "roc_auc", "reference_rows": []}, "no roc_auc"),
    ],
)
def test_per_image_bad_input(rows, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.plot_per_image(rows, **kwargs)


def test_history_from_dict_and_csv(tmp_path):
    history = {
        "epoch": [0, 1, 2],
        "loss": [0.5, 0.3, 0.2],
        "val_loss": [0.4, 0.25, 0.3],
        "fov_auc": [0.8, 0.9, 0.95],
        "val_fov_auc": [0.82, 0.9, 0.93],
        "learning_rate": [1e-3, 5e-4, 1e-4],
    }
    figure = plotting.plot_history(history)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == ["Loss", "ROC AUC inside the FOV", "Learning rate"]
    # Training keeps an epoch by its validation AUC only; without one, nothing is marked.
    assert figure.get_suptitle() == "Training history"

    file = tmp_path / "history.csv"
    file.write_text(
        ",".join(history)
        + "\n"
        + "\n".join(",".join(str(history[k][i]) for k in history) for i in range(3))
        + "\n"
    )
    from_csv = plotting.plot_history(file)
    line = from_csv.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), history["loss"])


@pytest.mark.parametrize(
    "history, message",
    [
        ("missing.csv", "no such history file"),
        ({}, "non-empty"),
        ({"loss": [1, 2], "val_loss": [1]}, "common"),
        ({"learning_rate": [1.0]}, "no loss or metric"),
    ],
)
def test_history_bad_input(history, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        plotting.plot_history(history)


def test_samples_show_second_manual_when_present():
    rng = np.random.default_rng(0)
    n = 3
    images = rng.random((n, *SHAPE, 3)).astype(np.float32)
    masks = rng.random((n, *SHAPE)) < 0.5
    with_second = data.Split(images, masks, masks, ("a", "b", "c"), masks)
    figure = plotting.plot_samples(with_second, 2)
    assert len(figure.axes) == 2 * 4
    assert figure.axes[3].get_title() == "Vessels, 2nd observer"
    assert figure.axes[4].get_ylabel() == "Image b"
    without = data.Split(images, masks, masks, ("a", "b", "c"))
    assert len(plotting.plot_samples(without, ids=["c"]).axes) == 3
    with pytest.raises(ValueError, match="not in this split"):
        plotting.plot_samples(without, ids=["z"])


def test_mismatched_shapes_are_refused(example):
    image, truth, probabilities, fov = example
    with pytest.raises(ValueError, match="shapes differ"):
        plotting.plot_triptych(image, truth[:-1], probabilities, fov=fov)


@pytest.mark.drive
def test_real_drive_figures_render(drive_dataset):
    test = drive_dataset.test
    figure = plotting.plot_error_overlay(
        test.images[0], test.vessels[0], test.vessels_2nd[0], fov=test.fov[0]
    )
    png = _png(figure)
    assert png.shape[0] >= 584 and png.shape[1] >= 565


def test_history_marks_the_epoch_the_checkpoint_keeps():
    history = {
        "loss": [0.5, 0.3, 0.2],
        "val_loss": [0.4, 0.25, 0.3],
        "auc": [0.9, 0.93, 0.95],
        "val_auc": [0.91, 0.94, 0.96],
    }
    # The checkpoint watches the validation AUC (epoch 3), not the loss (epoch 2).
    title = plotting.plot_history(history).get_suptitle()
    assert title.endswith("highest validation AUC of an epoch with a finite loss, epoch 3)")
    # An epoch whose loss is NaN is never saved, however well it scores.
    history["loss"][2] = float("nan")
    assert run_history.best_epoch(history)["index"] == 1
    assert plotting.plot_history(history).get_suptitle().endswith(", epoch 2)")


def test_time_to_quality_marks_when_the_target_is_first_reached():
    benchmark = {"epoch": [1, 2, 3], "minutes": [2.0, 4.1, 6.2], "val_auc": [0.95, 0.979, 0.981]}
    figure = plotting.plot_time_to_quality(benchmark, target_auc=0.978, target_minutes=15)
    (ax,) = figure.axes
    assert ax.get_xlabel().startswith("Wall-clock time")
    assert [text.get_text() for text in ax.texts] == ["0.9790 after 4.1 min"]
    with pytest.raises(ValueError, match="minutes"):
        plotting.plot_time_to_quality({})


def test_history_names_the_package_metrics_and_shows_a_zero_learning_rate():
    history = {
        "epoch": [0, 1, 2],
        "auc": [0.8, 0.9, 0.95],
        "val_auc": [0.82, 0.9, 0.93],
        "dice": [0.5, 0.6, 0.7],
        "val_dice": [0.5, 0.6, 0.65],
        "loss": [0.5, 0.3, 0.2],
        "val_loss": [0.4, 0.3, 0.3],
        "learning_rate": [2e-3, 1e-3, 0.0],
    }
    figure = plotting.plot_history(history)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == ["ROC AUC inside the FOV", "Dice inside the FOV", "Loss", "Learning rate"]
    rate = figure.axes[3]
    assert rate.get_yscale() == "linear" and rate.get_lines()[0].get_ydata()[-1] == 0.0


def test_wide_probability_map_enlarges_its_text_with_the_figure():
    small = plotting.plot_probability_map(np.full((40, 48), 0.5, np.float32))
    wide = plotting.plot_probability_map(np.full((40, 1800), 0.5, np.float32))

    def label(figure):
        return figure.axes[1].yaxis.label.get_fontsize()

    assert label(small) == 10
    # 1800 + 24 + 220 pixels wide, shrunk to PAGE_PIXELS on a page.
    assert label(wide) == pytest.approx(10 * (1800 + 24 + 220) / plotting.PAGE_PIXELS)


def test_per_image_axis_names_the_data_set():
    rows = [{"id": "01", "f1": 0.7}, {"id": "02", "f1": 0.8}]
    synthetic = plotting.plot_per_image(rows, data_name="synthetic").axes[0]
    assert synthetic.get_xlabel() == "synthetic test image"
    assert plotting.plot_per_image(rows).axes[0].get_xlabel() == "test image"


def test_reliability_draws_several_curves_with_their_errors():
    rng = np.random.default_rng(0)
    probabilities = rng.random((2, 20, 20)).astype(np.float32)
    truth = rng.random((2, 20, 20)) < probabilities
    fov = np.ones_like(truth)
    curves = {
        "validation": calibration.reliability(probabilities, truth, fov),
        "test": calibration.reliability(probabilities**2, truth, fov),
    }
    figure = plotting.plot_reliability(curves)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert labels[0] == "calibrated"
    assert labels[1] == f"validation (ECE {curves['validation']['ece']:.4f})"
    assert labels[2].startswith("test (ECE ")
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_reliability({})
