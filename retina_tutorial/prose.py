"""Sentences the chapters write from their own results.

Explained in ``book/05_evaluation.ipynb``. The book is built on DRIVE or on
the synthetic set, and a sentence typed against one build's figures can say
the opposite of the other's. So a chapter's markdown says what holds on any
data, and every sentence that depends on the data (a number, or a direction
such as "above" or "lower") is written by a code cell from the values on
its own page with these helpers, or is labelled as a figure of the shipped
model on DRIVE and read from that model's reports. The output is Markdown,
which the book, JupyterLab and Colab all render.
"""

from __future__ import annotations

import json
import math
import textwrap

__all__ = [
    "DRIVE_LABEL",
    "compare",
    "drive_report",
    "on_drive",
    "say",
    "threshold_shift",
    "tree_comparison",
]

#: How a sentence that quotes the shipped model's DRIVE reports begins.
DRIVE_LABEL = "On DRIVE, shipped model (its reports)"


def compare(
    value: float,
    reference: float,
    *,
    more: str,
    less: str,
    same: str,
    tolerance: float = 0.0,
) -> str:
    """The word for how ``value`` stands to ``reference``.

    >>> compare(0.45, 0.41, more="above", less="below", same="at")
    'above'
    >>> compare(0.8180, 0.8181, more="higher", less="lower", same="level", tolerance=5e-4)
    'level'

    Parameters
    ----------
    value, reference : float
    more, less, same : str
        The words for ``value > reference``, ``value < reference`` and for a
        difference of at most ``tolerance``.
    tolerance : float
        Differences up to this count as the same.

    Raises
    ------
    ValueError
        If either value is not a finite number or the tolerance is negative.
    """
    value, reference = _finite(value, "value"), _finite(reference, "reference")
    if _finite(tolerance, "tolerance") < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
    if abs(value - reference) <= tolerance:
        return same
    return more if value > reference else less


def say(*sentences: str):
    """One paragraph of Markdown from ``sentences``, as a chapter's output.

    Returns
    -------
    IPython.display.Markdown
        Rendered as text by the book, JupyterLab and Colab; its plain-text
        form (``.data``) is wrapped at 79 columns for terminals.
    """
    from IPython.display import Markdown

    text = " ".join(sentence.strip() for sentence in sentences if sentence.strip())
    return Markdown(textwrap.fill(text, 79, break_long_words=False, break_on_hyphens=False))


def on_drive(*sentences: str):
    """:func:`say`, labelled as the shipped model's figures on DRIVE.

    For lessons that hold on DRIVE: a build on other data shows them as
    DRIVE figures, never as its own.
    """
    return say(f"**{DRIVE_LABEL}:**", *sentences)


def threshold_shift(
    validation: dict, test: dict, threshold: float, best_threshold: float, best_f1: float
):
    """Why the validation images' threshold and the test images' best differ.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    validation, test : dict
        Pooled metrics of each set at ``threshold`` (``sensitivity``,
        ``precision``), as in ``EvaluationReport.validation_at_threshold``.
    threshold : float
        Chosen on the validation images.
    best_threshold, best_f1 : float
        The test images' own best threshold and the F1 it reaches.
    """
    sides = {
        name: compare(
            scores["sensitivity"],
            scores["precision"],
            more="above",
            less="below",
            same="level with",
        )
        for name, scores in (("validation", validation), ("test", test))
    }
    sentences = [
        f"The test images' best threshold, {best_threshold:.3f}, lies",
        compare(best_threshold, best_f1 / 2, more="above", less="below", same="at", tolerance=0.01),
        f"half their best F1 ({best_f1 / 2:.3f}). At the validation threshold {threshold:.3f}, "
        f"the validation images' sensitivity ({validation['sensitivity']:.3f}) is "
        f"{sides['validation']} their precision ({validation['precision']:.3f}); the test "
        f"images' ({test['sensitivity']:.3f}) is {sides['test']} theirs "
        f"({test['precision']:.3f}).",
    ]
    if sides["validation"] != sides["test"]:
        sentences.append(
            "The two sets disagree about where the balance lies: the model's probabilities "
            "mean something slightly different on the test images than on the validation "
            "images (a calibration shift, visible in the diagram above), so the distance "
            "between the two thresholds is more than the noise of tuning on three images, "
            "and no threshold tuned on them could have seen it coming."
        )
    else:
        sentences.append(
            "Both sets balance sensitivity and precision the same way at this threshold, so "
            "the distance between the two thresholds is mostly the noise of tuning on three "
            "images, whose F1 curve is flat near its top (the figure above)."
        )
    return say(*sentences)


def tree_comparison(tree: dict):
    """The vessel tree of the model's map beside the 2nd observer's, in words.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    tree : dict
        ``EvaluationReport.topology`` (or a ``metrics.json``'s ``topology``):
        ``model``, ``model_at_0.5``, ``second_observer`` and ``annotation``.
    """
    model, at_half, second = tree["model"], tree["model_at_0.5"], tree["second_observer"]
    measures = {
        "centreline_recall": "centreline recall",
        "centreline_precision": "centreline precision",
        "cldice": "clDice",
    }

    def versus(name: str) -> str:
        return (
            f"{measures[name]} {model[name]:.3f} at the validation threshold and "
            f"{at_half[name]:.3f} at 0.5, against {second[name]:.3f} for the 2nd observer"
        )

    won = [
        label for name, label in measures.items() if max(model[name], at_half[name]) > second[name]
    ]
    return say(
        f"Here the model's map falls into {model['components']:.0f} pieces per image "
        f"({model['components_10px']:.0f} of 10 pixels or more), against "
        f"{second['components']:.0f} for the 2nd observer and "
        f"{tree['annotation']['components']:.0f} for the 1st annotation.",
        f"On the centreline: {'; '.join(versus(name) for name in measures)}.",
        f"At one threshold or the other the model beats the observer on {_listed(won)}: "
        "what pixel F1 hides is above all how broken the map is."
        if won
        else "The model covers less of the tree than the observer at either threshold, and "
        "breaks it into more pieces: pixel F1 hides both.",
        "At 0.5 the map falls into",
        compare(
            at_half["components"], model["components"], more="more", less="fewer", same="as many"
        ),
        f"pieces ({at_half['components']:.0f}) than at the validation threshold, and covers",
        compare(
            at_half["centreline_recall"],
            model["centreline_recall"],
            more="more",
            less="less",
            same="as much",
            tolerance=5e-4,
        ),
        "of the centreline: the threshold shapes the tree as it shapes F1.",
    )


def drive_report(*, tta: bool = False) -> dict | None:
    """The shipped model's ``metrics.json`` on DRIVE (``None`` if not shipped)."""
    from retina_tutorial import pretrained

    path = pretrained.REPORTS["with TTA" if tta else "without TTA"]
    return json.loads(path.read_text()) if path.is_file() else None


def _listed(words: list) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _finite(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return number
