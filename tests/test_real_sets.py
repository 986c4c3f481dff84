"""The shipped model on the real CHASE_DB1 and STARE, read as distributed (skipped without them)."""

import dataclasses

import pytest

from retina_tutorial import comparison, config, evaluate, pretrained, public_sets, train

pytestmark = [
    pytest.mark.skipif(not pretrained.available(), reason="this installation ships no model"),
    # Keras saving a TensorFlow variable (Keras' issue, as in test_cli.py).
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
]

#: What ``retina-tutorial evaluate --model pretrained`` measured on each
#: (issue 29, ../shared/DATASETS.md): ROC AUC, F1 at the threshold chosen on
#: the validation images, and the 2nd annotator's F1.
MEASURED = {
    "chase_db1": (0.9688, 0.7325, 0.7978),
    "stare": (0.9716, 0.7811, 0.7605),
}


_REPORTS = {}


def _as_it_is(dataset):
    """The shipped model's evaluation, once per data set."""
    if dataset.source not in _REPORTS:
        _REPORTS[dataset.source] = evaluate.evaluate_model(pretrained.load(), dataset)
    return _REPORTS[dataset.source]


def test_the_shipped_model_scores_what_was_measured(public_set):
    report = _as_it_is(public_set)
    auc, f1, observer = MEASURED[public_set.source]
    assert report.test_at_threshold["roc_auc"] == pytest.approx(auc, abs=5e-5)
    assert report.test_at_threshold["f1"] == pytest.approx(f1, abs=5e-5)
    assert report.second_observer["f1"] == pytest.approx(observer, abs=5e-5)
    assert report.resize_factors[0] < 0.7  # both cameras see more pixels per degree


def test_stares_split_puts_most_pathological_photographs_in_training(public_set):
    if public_set.source != "stare":
        pytest.skip("STARE only")
    train_ids = (*public_set.train.ids, *public_set.validation.ids)
    assert sum(i in public_sets.STARE_PATHOLOGICAL for i in train_ids) == 7
    assert sum(i in public_sets.STARE_PATHOLOGICAL for i in public_set.test.ids) == 3


@pytest.mark.slow
def test_fine_tuning_on_chase_db1_beats_the_model_as_it_is(chase_db1, tmp_path):
    # A short fine-tuning (one epoch of 5 steps); the finetune profile's 8
    # epochs of 25 steps, over 3 seeds, ship in weights/finetune_chase_db1.json.
    short = dataclasses.replace(config.get_profile("finetune"), epochs=1, steps_per_epoch=5)
    run = train.train(short, chase_db1, tmp_path / "tuned", init="pretrained", verbose=0)
    tuned = evaluate.evaluate_model(run.model, chase_db1)
    result = comparison.compare(_as_it_is(chase_db1), [tuned], [short.seed])
    assert tuned.test_at_threshold["f1"] > _as_it_is(chase_db1).test_at_threshold["f1"]
    assert result.difference["f1"]["value"] > 0
