"""Sentences the chapters write from their own results (retina_tutorial.prose)."""

import math

import pytest

from retina_tutorial import pretrained, prose


@pytest.mark.parametrize(
    "value, reference, tolerance, word",
    [(0.45, 0.41, 0.0, "above"), (0.41, 0.45, 0.0, "below"), (0.4101, 0.41, 0.001, "at")],
)
def test_compare_picks_the_word_from_the_values(value, reference, tolerance, word):
    assert (
        prose.compare(value, reference, more="above", less="below", same="at", tolerance=tolerance)
        == word
    )


@pytest.mark.parametrize(
    "value, reference, tolerance, message",
    [
        (math.nan, 0.5, 0.0, "value must be finite"),
        (0.5, "high", 0.0, "reference must be a number"),
        (0.5, 0.4, -1.0, "tolerance must be >= 0"),
    ],
)
def test_compare_refuses_what_is_not_a_number(value, reference, tolerance, message):
    with pytest.raises(ValueError, match=message):
        prose.compare(value, reference, more="a", less="b", same="c", tolerance=tolerance)


def test_say_joins_and_wraps_for_every_front_end():
    text = prose.say("First sentence.", "  ", "Second " + "word " * 30 + "end.").data
    assert text.startswith("First sentence. Second word")
    assert max(len(line) for line in text.splitlines()) <= 79


def test_on_drive_labels_the_shipped_figures():
    text = prose.on_drive("F1 0.8180.").data
    assert text.startswith(f"**{prose.DRIVE_LABEL}:** F1 0.8180.")


@pytest.mark.skipif(not pretrained.available(), reason="this installation ships no model")
def test_drive_report_holds_the_mid_range_calibration():
    report = prose.drive_report()
    middle = report["calibration"]["mid_range"]
    assert middle["ece"] > report["calibration"]["ece"]  # the easy bin hid it
    assert 0.0 < middle["pixel_share"] < 0.5
    assert report["validation_calibration"]["mid_range"]["mean_signed_gap"] > 0
    assert prose.drive_report(tta=True)["tta"] is True


def _tree(model_recall, at_half_recall, observer_recall, pieces=(117.0, 98.0)):
    def scores(recall, components):
        return {
            "components": components,
            "components_10px": components / 5,
            "centreline_recall": recall,
            "centreline_precision": 0.8,
            "cldice": 0.8,
        }

    return {
        "model": scores(model_recall, pieces[0]),
        "model_at_0.5": scores(at_half_recall, pieces[1]),
        "second_observer": {
            **scores(observer_recall, 3.0),
            "centreline_precision": 0.9,
            "cldice": 0.9,
        },
        "annotation": {"components": 3.0, "components_10px": 3.0},
    }


def test_tree_comparison_says_what_its_numbers_say():
    beaten = prose.tree_comparison(_tree(0.72, 0.76, 0.75)).data
    assert "beats the observer on centreline recall:" in " ".join(beaten.split())
    assert "fewer pieces (98)" in " ".join(beaten.split())
    behind = " ".join(prose.tree_comparison(_tree(0.60, 0.62, 0.75, (40.0, 60.0))).data.split())
    assert "covers less of the tree than the observer at either threshold" in behind
    assert "more pieces (60)" in behind and "covers more of the centreline" in behind


def _shift_text(test_scores, best_threshold):
    validation = {"sensitivity": 0.842, "precision": 0.801}
    text = prose.threshold_shift(
        validation, test_scores, 0.581, best_threshold=best_threshold, best_f1=0.8271
    ).data
    return " ".join(text.split())


def test_threshold_shift_names_a_calibration_shift_only_when_the_sets_disagree():
    shifted = _shift_text({"sensitivity": 0.769, "precision": 0.874}, 0.450)
    assert "0.450, lies above half their best F1 (0.414)" in shifted
    assert "calibration shift" in shifted
    same = _shift_text({"sensitivity": 0.85, "precision": 0.80}, 0.41)
    assert "lies at half their best F1" in same
    assert "calibration shift" not in same and "noise of tuning" in same
