"""Percentile-bootstrap intervals (retina_tutorial.bootstrap)."""

import numpy as np
import pytest

from retina_tutorial import bootstrap, metrics


def test_ranking_metrics_from_histograms_match_the_exact_ones():
    rng = np.random.default_rng(0)
    truth = rng.random((3, 50, 50)) < 0.15
    probabilities = np.clip(rng.normal(0.3 + 0.4 * truth, 0.2), 0, 1).astype(np.float32)
    fov = np.ones_like(truth)
    fov[:, :5] = False
    exact = metrics.pixel_metrics(probabilities, truth, fov)
    histograms = bootstrap.ranking_histograms(probabilities, truth, fov)
    assert histograms.shape == (3, 2, bootstrap.HISTOGRAM_BINS)
    approximate = bootstrap.ranking_metrics(histograms.sum(axis=0))
    assert approximate["roc_auc"] == pytest.approx(exact["roc_auc"], abs=1e-4)
    assert approximate["pr_auc"] == pytest.approx(exact["pr_auc"], abs=1e-4)
    nothing = bootstrap.ranking_metrics(np.zeros((2, 8)))
    assert np.isnan(nothing["roc_auc"]) and np.isnan(nothing["pr_auc"])


def test_intervals_are_reproducible_and_hold_the_estimate():
    values = np.random.default_rng(1).normal(0.8, 0.05, 20)

    def mean(drawn):
        return {"mean": float(values[drawn].mean())}

    first = bootstrap.percentile_intervals(mean, 20, replicates=500)
    assert first == bootstrap.percentile_intervals(mean, 20, replicates=500)
    low, high = first["mean"]
    assert low < values.mean() < high
    # about 2 standard errors either side
    error = values.std(ddof=1) / np.sqrt(20)
    assert high - low == pytest.approx(2 * 1.96 * error, rel=0.25)
    assert first != bootstrap.percentile_intervals(mean, 20, replicates=500, seed=7)


def test_intervals_cover_the_truth_about_95_times_in_100():
    rng = np.random.default_rng(2)
    covered = 0
    for trial in range(200):
        values = rng.normal(0.0, 1.0, 20)
        low, high = bootstrap.percentile_intervals(
            lambda drawn, v=values: {"mean": float(v[drawn].mean())},
            20,
            replicates=300,
            seed=trial,
        )["mean"]
        covered += low <= 0.0 <= high
    assert 0.85 <= covered / 200 <= 0.99  # the percentile bootstrap runs a little short


def test_constant_images_give_a_point_and_undefined_draws_give_nan():
    def statistic(drawn):
        return {"same": 0.5, "never": float("nan")}

    result = bootstrap.percentile_intervals(statistic, 5, replicates=50)
    assert result["same"] == [0.5, 0.5]
    assert np.isnan(result["never"]).all()
    with pytest.raises(ValueError, match="at least 2 images"):
        bootstrap.percentile_intervals(statistic, 1)
