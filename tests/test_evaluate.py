"""The protocol on whole data sets: evaluate_maps, evaluate_model and the report they write."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from retina_tutorial import calibration, data, evaluate, metrics, plotting, scale, topology
from retina_tutorial import report as report_module
from retina_tutorial.report import write_report


class _Constant:
    """Stands in for a model: evaluate_model only needs predict(), patched in the test."""

    name = "constant"

    def count_params(self):
        return 0


def _fake_predict(model, images, *, tta=False, batch_size=1):
    # A "model" that sees the vessels through noise: green channel encodes them.
    return images[..., 1].astype(np.float32)


def _fake_dataset(rng):
    def split(n, second):
        vessels = rng.random((n, 12, 10)) < 0.3
        images = np.zeros((n, 12, 10, 3), np.float32)
        images[..., 1] = np.clip(0.6 * vessels + 0.5 * rng.random(vessels.shape), 0, 1)
        fov = np.ones(vessels.shape, bool)
        fov[:, :2] = False
        ids = tuple(str(i + 1) for i in range(n))
        return data.Split(
            images,
            vessels,
            fov,
            ids,
            vessels ^ (rng.random(vessels.shape) < 0.1) if second else None,
        )

    return data.Dataset(
        split(4, False), split(3, False), split(5, True), "synthetic", "tiny test set"
    )


def _evaluate_green(dataset):
    """The protocol on maps that are the images' green channel (see _fake_dataset)."""
    return evaluate.evaluate_maps(
        dataset.validation.images[..., 1], dataset.test.images[..., 1], dataset
    )


def test_evaluate_model_predicts_then_measures_the_maps(monkeypatch):
    from retina_tutorial import inference

    monkeypatch.setattr(inference, "predict", _fake_predict)
    dataset = _fake_dataset(np.random.default_rng(0))
    model = _Constant()
    scale.attach(model, scale.DRIVE)  # as a package-built model records it
    report = evaluate.evaluate_model(model, dataset)
    assert report.model_name == "constant" and report.model_parameters == 0
    same = _evaluate_green(dataset)
    assert report.threshold == same.threshold
    assert report.test_at_threshold == same.test_at_threshold
    assert report.intervals == same.intervals


def test_evaluate_maps_and_write_report(tmp_path):
    dataset = _fake_dataset(np.random.default_rng(0))
    report = _evaluate_green(dataset)
    expected = metrics.choose_threshold(
        dataset.validation.images[..., 1], dataset.validation.vessels, dataset.validation.fov
    )
    assert report.threshold == expected
    assert report.test_at_half == metrics.pixel_metrics(
        dataset.test.images[..., 1], dataset.test.vessels, dataset.test.fov, 0.5
    )
    assert len(report.per_image) == 2 * len(dataset.test)
    assert "2nd observer" in report.table()

    model_file = tmp_path / "model.keras"
    model_file.write_bytes(b"stand-in")
    written = write_report(report, tmp_path / "report", model_path=model_file)
    document = json.loads(written.read_text())
    assert document["threshold"] == report.threshold
    assert document["test"]["threshold_0.5"]["f1"] == report.test_at_half["f1"]
    assert document["second_observer"]["f1"] == report.second_observer["f1"]
    assert len(document["model"]["sha256"]) == 64
    assert document["data"]["description"] == "tiny test set"
    assert len(document["data"]["test_truth_sha256"]) == 64
    assert document["software"]["keras_backend"] == "tensorflow"
    with open(tmp_path / "report" / "per_image.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 5 + 5
    assert {row["predictor"] for row in rows} == {"model", "2nd observer"}
    figures = sorted(p.name for p in (tmp_path / "report" / "figures").iterdir())
    assert len(figures) == 7 and all(name.endswith(".png") for name in figures)
    assert {"reliability.png", "tree_breaks_3.png"} <= set(figures)
    probability_png = tmp_path / "report" / "probabilities" / "1_test.png"
    assert probability_png.read_bytes()[24] == 16  # the PNG header's bit depth
    with Image.open(probability_png) as saved:
        # Pillow 10 reads a 16-bit grey PNG as mode 'I', newer ones as 'I;16'.
        assert saved.mode in ("I;16", "I") and saved.size == (10, 12)
        levels = np.asarray(saved)
    fov = report.test.fov[0]
    assert not fov.all() and not levels[~fov].any()  # 0 outside the FOV
    np.testing.assert_allclose(
        levels[fov] / 65535, report.test_probabilities[0][fov], atol=1 / 65535
    )


def test_the_report_draws_images_larger_than_its_limit_shrunk(tmp_path, monkeypatch):
    report = _evaluate_green(_fake_dataset(np.random.default_rng(0)))
    sizes = {}
    for limit in (100, 5):  # the test images are 12 x 10: whole, then shrunk 3 times
        monkeypatch.setattr(report_module, "FIGURE_PIXELS", limit)
        write_report(report, tmp_path / str(limit))
        for path in (tmp_path / str(limit) / "figures").glob("probability_*.png"):
            with Image.open(path) as png:
                sizes[limit] = png.size
    assert sizes[5][0] < sizes[100][0]
    figure = plotting.plot_probability_map(
        report.test_probabilities[0, :12, :10], fov=report.test.fov[0], shrink=3
    )
    assert figure.get_size_inches()[0] * plotting.DPI == pytest.approx(sizes[5][0], abs=1)


def test_metrics_json_has_intervals_calibration_and_topology(tmp_path):
    dataset = _fake_dataset(np.random.default_rng(2))
    report = _evaluate_green(dataset)
    document = json.loads(write_report(report, tmp_path).read_text())
    intervals = document["confidence_intervals"]
    assert intervals["replicates"] == 2000 and intervals["confidence"] == 0.95
    model, observer = intervals["model"], intervals["second_observer"]
    for name in ("roc_auc", "pr_auc", "f1", "f1_per_image", "accuracy", "ece", "cldice"):
        low, high = model[name]["interval"]
        assert low <= model[name]["value"] <= high, name
    assert model["f1"]["value"] == pytest.approx(report.test_at_threshold["f1"])
    assert model["roc_auc"]["value"] == pytest.approx(report.test_at_threshold["roc_auc"], 1e-3)
    assert observer["f1"]["value"] == pytest.approx(report.second_observer["f1"])
    assert "roc_auc" not in observer and "ece" not in observer
    difference = intervals["model_minus_second_observer"]["f1"]["value"]
    assert difference == pytest.approx(
        report.test_at_threshold["f1"] - report.second_observer["f1"]
    )
    assert document["calibration"]["ece"] == pytest.approx(model["ece"]["value"])
    assert len(document["calibration"]["pixels"]) == 10
    topology = document["topology"]
    assert set(topology) == {"model", "model_at_0.5", "second_observer", "annotation"}
    assert topology["second_observer"]["cldice"] == pytest.approx(observer["cldice"]["value"])
    assert "Test scores at" in report.intervals_table()


def test_reports_carry_no_path_of_the_machine(tmp_path):
    report = _evaluate_green(_fake_dataset(np.random.default_rng(3)))
    model_file = tmp_path / "deep" / "model.keras"
    model_file.parent.mkdir()
    model_file.write_bytes(b"stand-in")
    written = write_report(report, tmp_path / "report", model_path=model_file)
    text = written.read_text()
    assert str(tmp_path) not in text and '"/' not in text
    assert json.loads(text)["model"]["file"] == "model.keras"


def test_json_has_no_nan(tmp_path):
    dataset = _fake_dataset(np.random.default_rng(1))
    report = _evaluate_green(dataset)
    report.test_at_half["precision"] = math.nan  # as when nothing is predicted
    written = write_report(report, tmp_path)
    assert json.loads(written.read_text())["test"]["threshold_0.5"]["precision"] is None


def test_evaluate_maps_shares_one_pass_but_gives_what_each_function_gives():
    # evaluate_maps sorts, thresholds and thins each test image once; every
    # number must still be the one the public functions give on their own.
    dataset = _fake_dataset(np.random.default_rng(3))
    test, split = dataset.test.images[..., 1], dataset.test
    report = _evaluate_green(dataset)
    threshold = report.threshold
    assert report.test_at_threshold == metrics.pixel_metrics(
        test, split.vessels, split.fov, threshold
    )
    assert report.validation_at_threshold == metrics.pixel_metrics(
        dataset.validation.images[..., 1],
        dataset.validation.vessels,
        dataset.validation.fov,
        threshold,
    )
    rows = []
    for value in (0.5, threshold):
        rows += metrics.per_image_metrics(test, split.vessels, split.fov, value, ids=split.ids)
    assert report.per_image == rows
    assert _same(
        report.topology, evaluate.topology_summary(test >= threshold, split, at_half=test >= 0.5)
    )
    assert _same(report.calibration, calibration.reliability(test, split.vessels, split.fov))
    assert _same(report.intervals, evaluate.confidence_intervals(test, split, threshold))
    curves = metrics.roc_pr_curves(test, split.vessels, split.fov)
    assert report.curves.keys() == curves.keys()
    for name, values in curves.items():
        np.testing.assert_array_equal(report.curves[name], values, err_msg=name)


def _same(first: dict, second: dict) -> bool:
    """Equal to the last digit, nan included (nan != nan in a plain comparison)."""
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_topology_summary_thins_each_annotation_once_and_pools_as_tree_metrics():
    dataset = _fake_dataset(np.random.default_rng(4))
    split = dataset.test
    prediction = split.images[..., 1] >= 0.5
    summary = evaluate.topology_summary(prediction, split, at_half=split.images[..., 1] >= 0.3)
    truth, fov = split.vessels, split.fov
    assert _same(summary["model"], topology.tree_metrics(prediction, truth, fov))
    at_half = topology.tree_metrics(split.images[..., 1] >= 0.3, truth, fov)
    assert _same(summary["model_at_0.5"], at_half)
    second = topology.tree_metrics(split.vessels_2nd, truth, fov)
    assert _same(summary["second_observer"], second)
    every, large = topology.components(truth, fov)
    assert summary["annotation"] == {
        "components": every / len(split),
        "components_10px": large / len(split),
    }
