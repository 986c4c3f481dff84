"""Metrics: hand-made answers, edge cases, scikit-learn agreement, DRIVE's 2nd observer."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    f1_score,
    jaccard_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from retina_tutorial import data, evaluate
from retina_tutorial.report import write_report


def _split(images, vessels, fov, second=None):
    ids = tuple(f"{i + 1:02d}" for i in range(len(images)))
    return data.Split(images, vessels, fov, ids, second)


def test_hand_made_answer():
    # 4 FOV pixels: 2 vessels (0.9 found, 0.4 missed), 2 background (0.7 false alarm, 0.2 right).
    p = np.array([[0.9, 0.2], [0.7, 0.4]])
    truth = np.array([[True, False], [False, True]])
    fov = np.ones((2, 2), bool)
    m = evaluate.pixel_metrics(p, truth, fov)
    assert (m["tp"], m["fp"], m["fn"], m["tn"], m["pixels"]) == (1, 1, 1, 1, 4)
    assert m["accuracy"] == 0.5
    assert m["sensitivity"] == m["specificity"] == m["precision"] == 0.5
    assert m["f1"] == 0.5 and m["iou"] == pytest.approx(1 / 3) and m["mcc"] == 0.0
    # Pairs (vessel, background): (0.9, 0.7) (0.9, 0.2) (0.4, 0.2) right, (0.4, 0.7) wrong.
    assert m["roc_auc"] == 0.75
    # Ranked: 0.9 vessel (P=1, R=1/2), 0.7 background, 0.4 vessel (P=2/3, R=1).
    assert m["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert m["threshold"] == 0.5


def test_threshold_is_inclusive():
    p = np.array([[0.5, 0.49]])
    truth = np.array([[True, False]])
    m = evaluate.pixel_metrics(p, truth, np.ones_like(truth))
    assert (m["tp"], m["fp"]) == (1, 0)


def test_pixels_outside_fov_never_count():
    rng = np.random.default_rng(3)
    p = rng.random((2, 16, 12)).astype(np.float32)
    truth = rng.random(p.shape) < 0.3
    fov = np.zeros(p.shape, bool)
    fov[:, 3:13, 2:10] = True
    before = evaluate.pixel_metrics(p, truth, fov, 0.4)
    p2, truth2 = p.copy(), truth.copy()
    p2[~fov] = rng.random(int((~fov).sum()))
    truth2[~fov] = ~truth2[~fov]
    after = evaluate.pixel_metrics(p2, truth2, fov, 0.4)
    assert before == after
    assert before["pixels"] == int(fov.sum())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_agrees_with_scikit_learn(seed, ties):
    rng = np.random.default_rng(seed)
    p = rng.random((3, 20, 25)).astype(np.float32)
    if ties:
        p = np.round(p * 8) / 8  # many equal probabilities
    truth = rng.random(p.shape) < 0.25 + 0.1 * p
    fov = rng.random(p.shape) < 0.8
    threshold = 0.35 + 0.05 * seed
    m = evaluate.pixel_metrics(p, truth, fov, threshold)
    y, score = truth[fov], p[fov]
    predicted = score >= threshold
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-6)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, score), abs=1e-6)
    assert m["f1"] == pytest.approx(f1_score(y, predicted), abs=1e-6)
    assert m["mcc"] == pytest.approx(matthews_corrcoef(y, predicted), abs=1e-6)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert m["sensitivity"] == pytest.approx(recall_score(y, predicted), abs=1e-6)
    assert m["specificity"] == pytest.approx(recall_score(~y, ~predicted), abs=1e-6)
    assert m["precision"] == pytest.approx(precision_score(y, predicted), abs=1e-6)
    assert m["iou"] == pytest.approx(jaccard_score(y, predicted), abs=1e-6)


def test_curves_agree_with_metrics_and_end_at_corners():
    rng = np.random.default_rng(0)
    p = rng.random((30, 30))
    truth = rng.random(p.shape) < p
    fov = np.ones(p.shape, bool)
    curves = evaluate.roc_pr_curves(p, truth, fov, points=50)
    assert curves["roc_auc"] == pytest.approx(roc_auc_score(truth.ravel(), p.ravel()), abs=1e-9)
    assert (curves["fpr"][0], curves["tpr"][0]) == (0.0, 0.0)
    assert (curves["fpr"][-1], curves["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(curves["fpr"]) >= 0) and np.all(np.diff(curves["tpr"]) >= 0)
    # The trapezoid under the sampled curve approaches the exact AUC.
    assert auc(curves["fpr"], curves["tpr"]) == pytest.approx(curves["roc_auc"], abs=0.01)


def test_constant_map_scores_chance():
    truth = np.array([[True, False, False, False]])
    p = np.full(truth.shape, 0.3)
    m = evaluate.pixel_metrics(p, truth, np.ones_like(truth))
    assert m["roc_auc"] == 0.5
    assert m["pr_auc"] == pytest.approx(0.25)  # the vessel fraction
    assert m["tp"] == 0 and math.isnan(m["precision"]) and m["f1"] == 0.0


@pytest.mark.parametrize(
    "predicted, expected_f1, expected_precision",
    [(False, 1.0, math.nan), (True, 0.0, 0.0)],
    ids=["both-empty", "false-alarm"],
)
def test_empty_truth(predicted, expected_f1, expected_precision):
    truth = np.zeros((3, 3), bool)
    p = np.full((3, 3), 0.1)
    p[1, 1] = 0.9 if predicted else 0.2
    m = evaluate.pixel_metrics(p, truth, np.ones_like(truth))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"]) and math.isnan(m["sensitivity"])
    assert m["f1"] == expected_f1 and m["iou"] == expected_f1
    assert m["precision"] == expected_precision or (
        math.isnan(expected_precision) and math.isnan(m["precision"])
    )
    assert m["mcc"] == 0.0  # scikit-learn's convention for an empty row/column
    assert m["specificity"] == (1.0 if not predicted else 8 / 9)


def test_no_background_in_fov():
    truth = np.ones((2, 2), bool)
    p = np.array([[0.9, 0.8], [0.3, 0.6]])
    m = evaluate.pixel_metrics(p, truth, np.ones_like(truth))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["specificity"])
    assert m["pr_auc"] == 1.0 and m["sensitivity"] == 0.75


@pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan, "0.5", True])
def test_bad_threshold_is_named(threshold):
    ones = np.ones((2, 2))
    with pytest.raises(ValueError, match="threshold"):
        evaluate.pixel_metrics(ones * 0.5, ones > 0, ones > 0, threshold)


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_threshold_limits_are_allowed(threshold):
    p = np.array([[0.0, 1.0]])
    m = evaluate.pixel_metrics(p, np.array([[False, True]]), np.ones((1, 2), bool), threshold)
    assert m["tp"] == 1 and m["fp"] == (1 if threshold == 0.0 else 0)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 6\)"):
        evaluate.pixel_metrics(np.zeros((4, 5)), np.zeros((4, 6), bool), np.ones((4, 5), bool))


@pytest.mark.parametrize(
    "probabilities, truth, fov, message",
    [
        (np.full((2, 2), 255.0), np.ones((2, 2), bool), np.ones((2, 2), bool), r"\[0, 1\]"),
        (np.full((2, 2), np.nan), np.ones((2, 2), bool), np.ones((2, 2), bool), r"\[0, 1\]"),
        (np.full((2, 2), 0.5), np.full((2, 2), 255), np.ones((2, 2), bool), "truth must be binary"),
        (np.full((2, 2), 0.5), np.ones((2, 2), bool), np.zeros((2, 2), bool), "fov has no True"),
        (np.full((2,), 0.5), np.ones((2,), bool), np.ones((2,), bool), r"\(H, W\)"),
    ],
    ids=["0-255", "nan", "non-binary-truth", "empty-fov", "1-d"],
)
def test_bad_inputs(probabilities, truth, fov, message):
    with pytest.raises(ValueError, match=message):
        evaluate.pixel_metrics(probabilities, truth, fov)


def test_per_image_rows_and_pooling():
    rng = np.random.default_rng(1)
    p = rng.random((3, 8, 8))
    truth = rng.random(p.shape) < 0.3
    fov = np.ones(p.shape, bool)
    rows = evaluate.per_image_metrics(p, truth, fov, 0.5, ids=["a", "b", "c"])
    assert [row["id"] for row in rows] == ["a", "b", "c"]
    assert rows[1] == {"id": "b", **evaluate.pixel_metrics(p[1], truth[1], fov[1], 0.5)}
    pooled = evaluate.pixel_metrics(p, truth, fov, 0.5)
    assert sum(row["tp"] for row in rows) == pooled["tp"]


def test_choose_threshold_maximises_f1():
    p = np.array([[0.95, 0.8, 0.6, 0.55, 0.3, 0.1]])
    truth = np.array([[True, True, False, True, False, False]])
    fov = np.ones_like(truth)
    threshold = evaluate.choose_threshold(p, truth, fov)
    # Best: everything >= 0.55 (F1 = 6/7); midway between 0.55 and the next lower value 0.3.
    assert threshold == pytest.approx(0.425)
    best = evaluate.pixel_metrics(p, truth, fov, threshold)["f1"]
    assert best == pytest.approx(6 / 7)
    for other in np.linspace(0, 1, 101):
        assert evaluate.pixel_metrics(p, truth, fov, other)["f1"] <= best + 1e-12


def test_choose_threshold_needs_vessels():
    with pytest.raises(ValueError, match="no vessel"):
        evaluate.choose_threshold(
            np.full((2, 2), 0.5), np.zeros((2, 2), bool), np.ones((2, 2), bool)
        )


def test_binary_metrics_and_second_observer_on_tiny_split():
    vessels = np.array([[[True, True, False, False]]])
    second = np.array([[[True, False, True, False]]])
    fov = np.array([[[True, True, True, False]]])
    split = _split(np.zeros((1, 1, 4, 3), np.float32), vessels, fov, second)
    m = evaluate.second_observer(split)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 0)
    assert "roc_auc" not in m and m["f1"] == 0.5
    assert evaluate.second_observer_per_image(split)[0]["id"] == "01"
    with pytest.raises(ValueError, match="2nd manual"):
        evaluate.second_observer(_split(split.images, vessels, fov))


@pytest.mark.drive
def test_second_observer_on_drive(drive_dataset):
    m = evaluate.second_observer(drive_dataset.test)
    assert m["pixels"] == 4_538_143
    assert m["accuracy"] == pytest.approx(0.9473, abs=5e-4)
    assert m["sensitivity"] == pytest.approx(0.7746, abs=5e-4)
    assert m["specificity"] == pytest.approx(0.9725, abs=5e-4)
    assert m["f1"] == pytest.approx(0.7891, abs=5e-4)


class _Constant:
    """Stands in for a model: evaluate_model only needs predict(), patched below."""

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


def test_evaluate_model_and_write_report(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate.inference, "predict", _fake_predict)
    dataset = _fake_dataset(np.random.default_rng(0))
    report = evaluate.evaluate_model(_Constant(), dataset)
    expected = evaluate.choose_threshold(
        dataset.validation.images[..., 1], dataset.validation.vessels, dataset.validation.fov
    )
    assert report.threshold == expected
    assert report.test_at_half == evaluate.pixel_metrics(
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


def test_metrics_json_has_intervals_calibration_and_topology(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate.inference, "predict", _fake_predict)
    dataset = _fake_dataset(np.random.default_rng(2))
    report = evaluate.evaluate_model(_Constant(), dataset)
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


def test_reports_carry_no_path_of_the_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate.inference, "predict", _fake_predict)
    report = evaluate.evaluate_model(_Constant(), _fake_dataset(np.random.default_rng(3)))
    model_file = tmp_path / "deep" / "model.keras"
    model_file.parent.mkdir()
    model_file.write_bytes(b"stand-in")
    written = write_report(report, tmp_path / "report", model_path=model_file)
    text = written.read_text()
    assert str(tmp_path) not in text and '"/' not in text
    assert json.loads(text)["model"]["file"] == "model.keras"


def test_json_has_no_nan(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate.inference, "predict", _fake_predict)
    dataset = _fake_dataset(np.random.default_rng(1))
    report = evaluate.evaluate_model(_Constant(), dataset)
    report.test_at_half["precision"] = math.nan  # as when nothing is predicted
    written = write_report(report, tmp_path)
    assert json.loads(written.read_text())["test"]["threshold_0.5"]["precision"] is None


def test_optic_disc_centre_finds_the_bright_spot_inside_the_fov():
    size = 200
    rows, cols = np.mgrid[:size, :size]
    fov = np.hypot(rows - 100, cols - 100) < 90
    glow = 0.6 * np.exp(-(np.hypot(rows - 80, cols - 130) ** 2) / (2 * 12**2))
    image = np.repeat((0.3 + glow)[..., None], 3, axis=2).astype(np.float32)
    image[~fov] = 0.0
    row, column = evaluate.optic_disc_centre(image, fov)
    # Within a few pixels: the blurred map is rounded to 8 bits, so its top is flat.
    assert abs(row - 80) <= 5 and abs(column - 130) <= 5
    with pytest.raises(ValueError, match="smaller margin"):
        evaluate.optic_disc_centre(image, fov, margin=95)
    with pytest.raises(ValueError, match="must match"):
        evaluate.optic_disc_centre(image[:-1], fov)


def test_densest_square_counts_on_a_grid_and_can_look_away():
    mask = np.zeros((64, 64), bool)
    mask[8:24, 40:56] = True
    mask[40:56, 4:20] = True
    mask[24, 40:56] = True  # makes the first block the denser one
    assert evaluate.densest_square(mask, 16) == (8, 40)
    # Away from the first block, the second one wins.
    assert evaluate.densest_square(mask, 16, away_from=(16, 48), distance=20) == (40, 4)
    top, left = evaluate.densest_square(mask, 12)
    assert top % 3 == 0 and left % 3 == 0  # on the grid of side // 4
    for side in (0, 65, 2.5, True):
        with pytest.raises(ValueError, match="densest_square"):
            evaluate.densest_square(mask, side)
