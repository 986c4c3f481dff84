"""Metrics: hand-made answers, edge cases, scikit-learn agreement, DRIVE's 2nd observer."""

import math
import re

import numpy as np
import pytest
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

from retina_tutorial import data, metrics


def _split(images, vessels, fov, second=None):
    ids = tuple(f"{i + 1:02d}" for i in range(len(images)))
    return data.Split(images, vessels, fov, ids, second)


def test_hand_made_answer():
    # 4 FOV pixels: 2 vessels (0.9 found, 0.4 missed), 2 background (0.7 false alarm, 0.2 right).
    p = np.array([[0.9, 0.2], [0.7, 0.4]])
    truth = np.array([[True, False], [False, True]])
    fov = np.ones((2, 2), bool)
    m = metrics.pixel_metrics(p, truth, fov)
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
    m = metrics.pixel_metrics(p, truth, np.ones_like(truth))
    assert (m["tp"], m["fp"]) == (1, 0)


def test_pixels_outside_fov_never_count():
    rng = np.random.default_rng(3)
    p = rng.random((2, 16, 12)).astype(np.float32)
    truth = rng.random(p.shape) < 0.3
    fov = np.zeros(p.shape, bool)
    fov[:, 3:13, 2:10] = True
    before = metrics.pixel_metrics(p, truth, fov, 0.4)
    p2, truth2 = p.copy(), truth.copy()
    p2[~fov] = rng.random(int((~fov).sum()))
    truth2[~fov] = ~truth2[~fov]
    after = metrics.pixel_metrics(p2, truth2, fov, 0.4)
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
    m = metrics.pixel_metrics(p, truth, fov, threshold)
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
    curves = metrics.roc_pr_curves(p, truth, fov, points=50)
    assert curves["roc_auc"] == pytest.approx(roc_auc_score(truth.ravel(), p.ravel()), abs=1e-9)
    assert (curves["fpr"][0], curves["tpr"][0]) == (0.0, 0.0)
    assert (curves["fpr"][-1], curves["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(curves["fpr"]) >= 0) and np.all(np.diff(curves["tpr"]) >= 0)
    # The trapezoid under the sampled curve approaches the exact AUC.
    assert auc(curves["fpr"], curves["tpr"]) == pytest.approx(curves["roc_auc"], abs=0.01)


def test_constant_map_scores_chance():
    truth = np.array([[True, False, False, False]])
    p = np.full(truth.shape, 0.3)
    m = metrics.pixel_metrics(p, truth, np.ones_like(truth))
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
    m = metrics.pixel_metrics(p, truth, np.ones_like(truth))
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
    m = metrics.pixel_metrics(p, truth, np.ones_like(truth))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["specificity"])
    assert m["pr_auc"] == 1.0 and m["sensitivity"] == 0.75


@pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan, "0.5", True])
def test_bad_threshold_is_named(threshold):
    ones = np.ones((2, 2))
    with pytest.raises(ValueError, match="threshold"):
        metrics.pixel_metrics(ones * 0.5, ones > 0, ones > 0, threshold)


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_threshold_limits_are_allowed(threshold):
    p = np.array([[0.0, 1.0]])
    m = metrics.pixel_metrics(p, np.array([[False, True]]), np.ones((1, 2), bool), threshold)
    assert m["tp"] == 1 and m["fp"] == (1 if threshold == 0.0 else 0)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(4, 6\)"):
        metrics.pixel_metrics(np.zeros((4, 5)), np.zeros((4, 6), bool), np.ones((4, 5), bool))


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
        metrics.pixel_metrics(probabilities, truth, fov)


def test_per_image_rows_and_pooling():
    rng = np.random.default_rng(1)
    p = rng.random((3, 8, 8))
    truth = rng.random(p.shape) < 0.3
    fov = np.ones(p.shape, bool)
    rows = metrics.per_image_metrics(p, truth, fov, 0.5, ids=["a", "b", "c"])
    assert [row["id"] for row in rows] == ["a", "b", "c"]
    assert rows[1] == {"id": "b", **metrics.pixel_metrics(p[1], truth[1], fov[1], 0.5)}
    pooled = metrics.pixel_metrics(p, truth, fov, 0.5)
    assert sum(row["tp"] for row in rows) == pooled["tp"]


def test_choose_threshold_maximises_f1():
    p = np.array([[0.95, 0.8, 0.6, 0.55, 0.3, 0.1]])
    truth = np.array([[True, True, False, True, False, False]])
    fov = np.ones_like(truth)
    threshold = metrics.choose_threshold(p, truth, fov)
    # Best: everything >= 0.55 (F1 = 6/7); midway between 0.55 and the next lower value 0.3.
    assert threshold == pytest.approx(0.425)
    best = metrics.pixel_metrics(p, truth, fov, threshold)["f1"]
    assert best == pytest.approx(6 / 7)
    for other in np.linspace(0, 1, 101):
        assert metrics.pixel_metrics(p, truth, fov, other)["f1"] <= best + 1e-12


def test_choose_threshold_needs_vessels():
    with pytest.raises(ValueError, match="no vessel"):
        metrics.choose_threshold(
            np.full((2, 2), 0.5), np.zeros((2, 2), bool), np.ones((2, 2), bool)
        )


def test_binary_metrics_and_second_observer_on_tiny_split():
    vessels = np.array([[[True, True, False, False]]])
    second = np.array([[[True, False, True, False]]])
    fov = np.array([[[True, True, True, False]]])
    split = _split(np.zeros((1, 1, 4, 3), np.float32), vessels, fov, second)
    m = metrics.second_observer(split)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 0)
    assert "roc_auc" not in m and m["f1"] == 0.5
    assert metrics.second_observer_per_image(split)[0]["id"] == "01"
    with pytest.raises(ValueError, match="2nd manual"):
        metrics.second_observer(_split(split.images, vessels, fov))


@pytest.mark.drive
def test_second_observer_on_drive(drive_dataset):
    m = metrics.second_observer(drive_dataset.test)
    assert m["pixels"] == 4_538_143
    assert m["accuracy"] == pytest.approx(0.9473, abs=5e-4)
    assert m["sensitivity"] == pytest.approx(0.7746, abs=5e-4)
    assert m["specificity"] == pytest.approx(0.9725, abs=5e-4)
    assert m["f1"] == pytest.approx(0.7891, abs=5e-4)


def test_metrics_imports_nothing_of_the_package_but_its_checks():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(metrics))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "retina_tutorial"
        for alias in node.names
    }
    assert imported == {"checks"}


@pytest.mark.parametrize(
    "module",
    [
        "retina_tutorial.metrics",
        "retina_tutorial.closeups",
        "retina_tutorial.plotting",
        "retina_tutorial.evaluate",
    ],
)
def test_measuring_needs_no_model_runner_and_no_keras(module):
    import subprocess
    import sys

    probe = (
        "import importlib, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "loaded = ('retina_tutorial.inference', 'keras', 'tensorflow')\n"
        "print(sorted(name for name in loaded if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, module], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"{module} imported {done.stdout.strip()}"


@pytest.mark.parametrize(
    "old, new",
    [
        ("evaluate.pixel_metrics", "metrics.pixel_metrics"),
        ("evaluate.densest_square", "closeups.densest_square"),
        ("pipeline.split_targets", "pipeline.stack_targets"),
        ("losses.split_targets", "losses.unstack_targets"),
        ("splits.Split", "datasets.Split"),
    ],
)
def test_old_names_still_work_for_a_release_with_a_warning(old, new):
    import importlib

    def resolve(path):
        module, name = path.split(".")
        return getattr(importlib.import_module(f"retina_tutorial.{module}"), name)

    from retina_tutorial import __version__, deprecated

    removal = re.escape(deprecated.REMOVED_IN)
    with pytest.warns(DeprecationWarning, match=rf"{old}.*retina_tutorial\.{new}.*{removal}"):
        assert resolve(old) is resolve(new)
    # The names go in the release the warning promises: not kept past it.
    release = tuple(int(part) for part in __version__.split(".")[:2])
    assert release < tuple(int(part) for part in deprecated.REMOVED_IN.split("."))


def test_the_old_splits_module_forwards_every_public_name_to_datasets_and_only_on_use():
    import subprocess
    import sys

    from retina_tutorial import datasets, splits

    public = [
        name
        for name, value in vars(datasets).items()
        if not name.startswith("_")
        and (getattr(value, "__module__", None) == datasets.__name__ or name.isupper())
    ]
    assert {"Split", "Dataset", "read_rgb", "at_scale", "DataError", "DISPLAY_NAMES"} <= set(public)
    for name in public:
        with pytest.warns(DeprecationWarning, match=rf"splits\.{name} is now .*datasets\.{name}"):
            assert getattr(splits, name) is getattr(datasets, name)
    with pytest.raises(AttributeError):
        splits.load_dataset  # noqa: B018  (never a name of the old module)
    # Importing the old module warns nothing and loads datasets only when a name is used.
    probe = (
        "import sys\n"
        "import retina_tutorial.splits\n"
        "print('retina_tutorial.datasets' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def _tied_stack(rng, images=4, shape=(30, 40)):
    """Probabilities on a coarse grid (ties), FOVs of several sizes, no vessel in the last."""
    probabilities = np.round(rng.random((images, *shape)) * 20) / 20
    truth = rng.random((images, *shape)) < 0.3
    truth[-1] = False
    fov = np.zeros((images, *shape), bool)
    for index in range(images):
        fov[index, index : shape[0] - index, 2:] = True
    return probabilities.astype(np.float32), truth, fov


def test_sorted_pixels_are_the_fov_pixels_sorted_image_by_image_or_pooled():
    probabilities, truth, fov = _tied_stack(np.random.default_rng(7))
    rows = {}
    pooled = metrics.sort_pixels(
        probabilities, truth, fov, each=lambda index, image: rows.update({index: image})
    )
    unsorted = metrics.sort_pixels(probabilities, truth, fov)  # sorted in one go instead
    for pixels in (pooled, unsorted):
        np.testing.assert_array_equal(pixels.positives, np.sort(probabilities[truth & fov]))
        np.testing.assert_array_equal(pixels.negatives, np.sort(probabilities[~truth & fov]))
    for index, image in rows.items():
        region = fov[index]
        np.testing.assert_array_equal(
            image.positives, np.sort(probabilities[index][truth[index] & region])
        )
        np.testing.assert_array_equal(
            image.negatives, np.sort(probabilities[index][~truth[index] & region])
        )
    per_image = [{"id": str(index), **image.metrics(0.35)} for index, image in sorted(rows.items())]
    expected = metrics.per_image_metrics(probabilities, truth, fov, 0.35)
    # nan (no vessel in the last image) is not == nan: compare as text.
    assert repr(per_image) == repr(expected)


def test_the_threshold_and_curves_from_sorted_pixels_match_a_plain_computation():
    probabilities, truth, fov = _tied_stack(np.random.default_rng(8))
    pixels = metrics.sort_pixels(probabilities, truth, fov)
    values, labels = probabilities[fov], truth[fov]
    # Every distinct value tried, as the docstring says: F1 at each, by counting.
    candidates = np.unique(values)
    f1 = [metrics.from_counts(*_counts(values >= c, labels))["f1"] for c in candidates]
    best = int(np.argmax(f1))
    # The midpoint between the best value and the next lower one.
    low = candidates[best - 1] if best else candidates[0]
    expected = (float(candidates[best]) + float(low)) / 2.0
    assert pixels.best_threshold() == expected
    assert metrics.choose_threshold(probabilities, truth, fov) == pixels.best_threshold()
    curves = metrics.roc_pr_curves(probabilities, truth, fov, points=50)
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, 50))
    assert set(np.unique(quantiles).tolist()) <= set(curves["thresholds"].tolist())
    assert curves["pixels"] == values.size and curves["prevalence"] == labels.mean()


@pytest.mark.parametrize("points", [2, 3, 50, 2000])
@pytest.mark.parametrize("seed", [10, 11])
def test_curve_thresholds_are_numpys_quantiles_of_the_pooled_pixels_exactly(points, seed):
    # Read from the two sorted runs without joining them, yet bit for bit np.quantile's.
    probabilities, truth, fov = _tied_stack(np.random.default_rng(seed))
    values = probabilities[fov].astype(np.float32)
    curves = metrics.roc_pr_curves(probabilities, truth, fov, points=points)
    quantiles = np.quantile(values, np.linspace(0.0, 1.0, points))
    top = np.nextafter(values.max(), np.float32(np.inf))
    expected = np.unique(np.concatenate([quantiles, [top]]))[::-1]
    np.testing.assert_array_equal(curves["thresholds"], expected)


def test_curves_of_a_single_vessel_pixel_among_many():
    truth = np.zeros((1, 40), bool)
    truth[0, 7] = True
    probabilities = np.linspace(0.0, 1.0, 40)[None]
    curves = metrics.roc_pr_curves(probabilities, truth, np.ones_like(truth), points=9)
    quantiles = np.quantile(probabilities.astype(np.float32), np.linspace(0.0, 1.0, 9))
    assert set(quantiles.tolist()) <= set(curves["thresholds"].tolist())


@pytest.mark.parametrize("block", [1, 2, 5])
def test_auc_and_average_precision_do_not_depend_on_the_block_they_are_made_in(monkeypatch, block):
    probabilities, truth, fov = _tied_stack(np.random.default_rng(12))
    expected = metrics.pixel_metrics(probabilities, truth, fov)
    monkeypatch.setattr(metrics, "_BLOCK", block)
    assert metrics.pixel_metrics(probabilities, truth, fov) == expected  # bit for bit


def test_thresholds_between_float32_values_count_as_a_float64_comparison_does():
    # The sorted float32 pixels are searched for float32 thresholds (no float64 copy of
    # them): each threshold rounded up to a float32, below which the same pixels lie.
    rng = np.random.default_rng(13)
    probabilities = rng.random((3, 20, 20)).astype(np.float32)
    truth = rng.random(probabilities.shape) < 0.3
    fov = np.ones_like(truth)
    pixels = metrics.sort_pixels(probabilities, truth, fov)
    values = probabilities.ravel().astype(np.float64)
    picked = rng.choice(values, 20)
    up = np.nextafter(picked.astype(np.float32), np.float32(2)).astype(np.float64)
    for threshold in [*picked, *(picked + up) / 2, *np.nextafter(picked, 0.0), 0.0, 1.0]:
        # The comparison in float64, as NumPy 2 makes it for a float64 threshold
        # (NumPy 1.x would compare in float32).
        predicted = probabilities.astype(np.float64) >= threshold
        expected = _counts(predicted[fov], truth[fov])
        got = pixels.metrics(float(threshold))
        assert (got["tp"], got["fp"], got["fn"], got["tn"]) == expected, threshold


def _counts(predicted, labels):
    tp = int(np.count_nonzero(predicted & labels))
    fp = int(np.count_nonzero(predicted & ~labels))
    fn = int(np.count_nonzero(~predicted & labels))
    return tp, fp, fn, labels.size - tp - fp - fn


def test_an_image_with_an_empty_fov_is_refused_when_scored_alone():
    probabilities, truth, fov = _tied_stack(np.random.default_rng(9))
    fov[1] = False
    metrics.sort_pixels(probabilities, truth, fov)  # pooled: the others count
    with pytest.raises(ValueError, match="fov has no True pixel"):
        metrics.per_image_metrics(probabilities, truth, fov)
    with pytest.raises(ValueError, match="fov has no True pixel"):
        metrics.sort_pixels(probabilities, truth, fov, each=lambda i, image: image.metrics())
