"""Paired comparisons over seeds, the shipped transfer results, chapter 07's new checkers."""

import math
import types

import numpy as np
import pytest

from retina_tutorial import comparison, exercises, pretrained, public_sets
from retina_tutorial.datasets import Split


def _report(probabilities, truth, threshold, ids=("a", "b", "c", "d")):
    fov = np.ones_like(truth)
    split = Split(np.zeros((*truth.shape, 3), np.float32), truth, fov, tuple(ids))
    return types.SimpleNamespace(
        test=split,
        test_probabilities=probabilities.astype(np.float32),
        threshold=threshold,
        data_source="csv",
        test_at_threshold={"f1": 0.0, "roc_auc": 0.0},
    )


@pytest.fixture
def reports():
    rng = np.random.default_rng(0)
    truth = rng.random((4, 32, 32)) > 0.7
    noise = rng.random((4, 32, 32))
    weak = np.clip(0.5 * truth + 0.6 * noise, 0, 1)  # the baseline: a noisy map
    strong = [np.clip(0.8 * truth + 0.25 * rng.random((4, 32, 32)), 0, 1) for _ in range(3)]
    return _report(weak, truth, 0.5), [
        _report(s, truth, 0.5 + 0.01 * i) for i, s in enumerate(strong)
    ]


def test_a_clearly_better_recipe_is_better_on_every_seed(reports):
    before, after = reports
    result = comparison.compare(before, after, [0, 1, 2], replicates=200)
    assert result.verdict == "better"
    change = result.difference["f1"]
    assert change["interval"][0] > 0 and change["seed_range"][0] > 0
    assert change["value"] == pytest.approx(
        np.mean([row["f1_difference"] for row in result.per_seed])
    )
    assert comparison.PairedComparison.from_dict(result.to_dict()).table() == result.table()
    assert all(len(line) <= 79 for line in result.table().splitlines())
    # The other way round: worse.
    assert comparison.compare(after[0], [before], [0], replicates=200).verdict == "worse"


def test_a_comparison_needs_the_same_images_and_one_seed_per_report(reports):
    before, after = reports
    with pytest.raises(ValueError, match="one seed per report"):
        comparison.compare(before, after, [0, 1])
    other = _report(after[0].test_probabilities, after[0].test.vessels, 0.5, ids="wxyz")
    with pytest.raises(ValueError, match="same test images"):
        comparison.compare(before, [other], [0])
    with pytest.raises(ValueError, match="differ from one another"):
        comparison.compare(before, after[:2], [1, 1])


def test_the_checkers_of_chapter_07_tell_the_named_mistakes(reports):
    before, after = reports
    after[0].threshold = 0.9  # its own threshold changes which images improve
    rows = [
        [
            2
            * np.sum((r.test_probabilities[i] >= t) & r.test.vessels[i])
            / (np.sum(r.test_probabilities[i] >= t) + np.sum(r.test.vessels[i]))
            for i in range(4)
        ]
        for r, t in ((before, before.threshold), (after[0], after[0].threshold))
    ]
    right = int(sum(b > a for a, b in zip(*rows)))
    assert exercises.check_images_improved(right, before, after[0], verbose=False).passed
    assert not exercises.check_images_improved(right + 1, before, after[0], verbose=False).passed
    assert not exercises.check_images_improved(1.5, before, after[0], verbose=False).passed
    thresholds = [r.threshold for r in after]
    sample = float(np.std(thresholds, ddof=1))
    assert exercises.check_threshold_spread(sample, after, verbose=False).passed
    wrong = exercises.check_threshold_spread(np.std(thresholds), after, verbose=False)
    assert not wrong.passed and "ddof=1" in wrong.message
    assert not exercises.check_threshold_spread(None, after, verbose=False).passed


@pytest.mark.skipif(not pretrained.available(), reason="this installation ships no model")
def test_the_shipped_transfer_runs_are_three_seeds_on_the_literatures_split():
    results = pretrained.transfer_results()
    assert set(results) == {"CHASE_DB1", "STARE"}
    for name, result in results.items():
        assert result["seeds"] == [0, 1, 2] and result["profile"]["name"] == "finetune"
        ids = {"CHASE_DB1": public_sets.CHASE_IDS[20:], "STARE": public_sets.STARE_IDS[10:]}
        assert tuple(result["image_ids"]) == ids[name]
        assert len(result["per_image_f1"]["seeds"]) == 3
        assert not math.isnan(result["difference"]["f1"]["seed_sd"])
    # Fine-tuning on CHASE_DB1 beats the shipped model on every seed (issue 29's bar).
    assert comparison.PairedComparison.from_dict(results["CHASE_DB1"]).verdict == "better"
    table = comparison.transfer_table(results, pretrained.drive_headline())
    assert "DRIVE -> CHASE_DB1, 8 test images" in table and "2nd annotator" in table
    assert all(len(line) <= 79 for line in table.splitlines())
    grouped = comparison.by_group(results["STARE"], public_sets.STARE_PATHOLOGICAL)
    assert grouped.splitlines()[1].split()[3] == "3"  # three pathological test images


@pytest.mark.skipif(not pretrained.available(), reason="this installation ships no model")
def test_the_model_card_quotes_the_shipped_transfer_runs():
    card = pretrained.MODEL_CARD.read_text()
    for name, result in pretrained.transfer_results().items():
        tuned, change = result["candidate_scores"]["f1"], result["difference"]["f1"]
        row = f"| {name}, fine-tuned (3 seeds) | "
        assert row in card
        assert f"{tuned['value']:.4f} ({tuned['interval'][0]:.4f}–" in card
        assert f"{change['value']:+.4f} ({change['interval'][0]:+.4f} to" in card
    groups = comparison.group_f1(
        pretrained.transfer_results()["STARE"], public_sets.STARE_PATHOLOGICAL
    )
    assert f"from {groups['members']['baseline']:.4f} to {groups['members']['tuned']:.4f}" in card
