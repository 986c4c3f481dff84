"""Published DRIVE results, to set our own numbers beside.

Explained in ``book/05_evaluation.ipynb``.

A number from a paper is only comparable with ours when it was measured the
same way. Ours: pixels inside the DRIVE field-of-view (FOV) masks, at the
native 584 x 565 resolution, pooled over the 20 test images, against the 1st
manual annotation, with the threshold chosen on the 3 validation images.
Each entry below says, in ``protocol``, where the published measurement
departs from that. The two departures that move numbers most:

* counting the black background outside the FOV (SA-UNet, FR-UNet): every
  such pixel is an easy true negative, so accuracy, specificity and ROC AUC
  go up while F1 and sensitivity barely move;
* averaging per image instead of pooling pixels (bob.ip.binseg, FR-UNet):
  a different estimator, usually close but not equal.

Every figure was read from the primary source where one was reachable
(repository files, documentation). Figures that could only be found in
secondary sources, or not at all, are listed in ``unverified`` and the entry
reports ``verified = False``; :func:`results_table` marks such methods with
:data:`UNVERIFIED_MARK`. Values derived by us from published material (a
parameter count taken from the released code, an MCC from a published
confusion matrix) are said to be derived in ``notes``.

The second human observer is not listed here: :func:`retina_tutorial.metrics.second_observer`
measures it with our own protocol.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import textwrap
from collections.abc import Mapping

from retina_tutorial import checks, metrics

#: The scores papers report, each between 0 and 1 (no precision, no IoU).
METRICS = tuple(name for name in metrics.METRIC_NAMES if name not in ("precision", "iou"))

#: Column order of :func:`results_table` rows and of :func:`to_markdown`.
COLUMNS = ("method", *METRICS, "params", "hardware", "protocol")

#: Column titles used by :func:`to_markdown`.
HEADERS = {
    "method": "Method",
    **{name: label[0].upper() + label[1:] for name, label in metrics.LABELS.items()},
    "params": "Params",
    "hardware": "Hardware",
    "protocol": "Protocol",
}

#: Appended to a method name when some of its figures could not be checked.
UNVERIFIED_MARK = "†"

#: Shown in a table cell for a value that was not reported.
MISSING = "—"

#: Our own protocol, in the words used by the ``protocol`` notes below.
OUR_PROTOCOL = (
    "inside the FOV masks, native 584 x 565, pooled over the 20 test images, "
    "1st manual; threshold chosen on the 3 validation images"
)


def _escape(text: str) -> str:
    # A bare '|' would end the cell; newlines would end the row.
    return " ".join(text.split()).replace("|", "\\|")


def _check_score(value, metric: str, name: str, *, allow_nan: bool):
    # MCC alone can be negative (worse than chance); every other score is a fraction.
    low = -1.0 if metric == "mcc" else 0.0
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [0, 1] or None, got {value!r}")
    value = float(value)
    if math.isnan(value):
        if allow_nan:
            return value
        raise ValueError(f"{name} is NaN; use None for a score that was not reported")
    if not low <= value <= 1.0:
        raise ValueError(
            f"{name} must lie in [{low:g}, 1], got {value}; give fractions, not percentages"
        )
    return value


def _check_params(value, name: str) -> None:
    if value is None:
        return
    checks.integer(value, name, minimum=1)


@dataclasses.dataclass(frozen=True)
class PublishedResult:
    """One published DRIVE test-set result.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    method : str
        Short name shown in the table.
    source : str
        Where the figures come from: paper or repository, and year.
    url : str
        Link to that source (``https://...``).
    protocol : str
        How the measurement differs from ours (see :data:`OUR_PROTOCOL`).
    roc_auc, pr_auc, f1, accuracy, sensitivity, specificity, mcc : float or None
        Reported scores in [0, 1] (MCC in [-1, 1]); ``None`` when not reported.
    params : int or None
        Number of trainable parameters; ``None`` when unknown.
    hardware : str or None
        Training hardware and time as stated by the authors; ``None`` when
        not stated.
    unverified : tuple of str
        Names of the fields that could not be checked against the primary
        source. Empty when every reported figure was checked.
    notes : str
        Where each figure was checked, and what was derived by us.

    Raises
    ------
    ValueError
        If a score is outside [0, 1], ``params`` is not a positive integer,
        ``url`` is not an http(s) link, a text field is empty, or
        ``unverified`` names an unknown field.
    """

    method: str
    source: str
    url: str
    protocol: str
    roc_auc: float | None = None
    pr_auc: float | None = None
    f1: float | None = None
    accuracy: float | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    mcc: float | None = None
    params: int | None = None
    hardware: str | None = None
    unverified: tuple = ()
    notes: str = ""

    def __post_init__(self):
        for name in ("method", "source", "url", "protocol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"PublishedResult.{name} must be a non-empty string, got {value!r}"
                )
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(
                f"PublishedResult.url must be an http(s) link, got {self.url!r} for {self.method!r}"
            )
        for name in METRICS:
            _check_score(getattr(self, name), name, f"{self.method}: {name}", allow_nan=False)
        _check_params(self.params, f"{self.method}: params")
        if self.hardware is not None and (
            not isinstance(self.hardware, str) or not self.hardware.strip()
        ):
            raise ValueError(f"{self.method}: hardware must be a non-empty string or None")
        if not isinstance(self.unverified, tuple):
            raise ValueError(f"{self.method}: unverified must be a tuple of field names")
        checkable = set(METRICS) | {"params", "hardware"}
        unknown = [name for name in self.unverified if name not in checkable]
        if unknown:
            raise ValueError(
                f"{self.method}: unverified names unknown fields {unknown}; "
                f"use some of {sorted(checkable)}"
            )
        empty = [name for name in self.unverified if getattr(self, name) is None]
        if empty:
            raise ValueError(f"{self.method}: unverified lists fields with no value: {empty}")

    @property
    def verified(self) -> bool:
        """``True`` when every reported figure was checked against its source."""
        return not self.unverified

    def to_dict(self) -> dict:
        """Every field plus ``verified``, for JSON or a DataFrame.

        Explained in ``book/05_evaluation.ipynb``.

        Returns
        -------
        dict
            Field name to value; ``unverified`` as a list.
        """
        result = dataclasses.asdict(self)
        result["unverified"] = list(self.unverified)
        result["verified"] = self.verified
        return result

    def row(self) -> dict:
        """The entry as a table row with the keys of :data:`COLUMNS`.

        Explained in ``book/05_evaluation.ipynb``.

        Returns
        -------
        dict
            ``method`` carries :data:`UNVERIFIED_MARK` when the entry is not
            fully verified.
        """
        result = {name: getattr(self, name) for name in COLUMNS}
        if not self.verified:
            result["method"] = f"{self.method} {UNVERIFIED_MARK}"
        return result


PUBLISHED = (
    PublishedResult(
        method="retina-unet (orobix)",
        source="orobix/retina-unet, README and test/performances.txt (Cortinovis, Orobix, 2016)",
        url="https://github.com/orobix/retina-unet",
        roc_auc=0.9790,
        pr_auc=0.9103,
        f1=0.8161,
        accuracy=0.9560,
        sensitivity=0.7671,
        specificity=0.9835,
        mcc=0.7933,
        params=471_010,
        hardware="GeForce GTX TITAN, about 20 h (150 epochs)",
        protocol=(
            "Same pixel set as ours (FOV masks, native size, pooled, 1st manual). "
            "Threshold fixed at 0.5, not tuned; grey-scale CLAHE input; 48x48 patches, "
            "test maps averaged over overlapping patches (stride 5). PR AUC is a "
            "trapezoid over the PR curve, not average precision."
        ),
        notes=(
            "All scores read from test/performances.txt of the commit whose ROC AUC "
            "matches the README (0.97903). Its confusion matrix sums to 4,538,143 "
            "pixels with 577,649 vessels: exactly the FOV pixels and in-FOV 1st-manual "
            "vessel pixels of the 20 DRIVE test images, which confirms the protocol. "
            "MCC derived by us from that confusion matrix. Parameter count derived by "
            "us from test_architecture.json (not stated by the authors). Training time "
            "and GPU from the README. The README does not give PR AUC 0.9065; the file "
            "says 0.9103."
        ),
    ),
    PublishedResult(
        method="U-Net (bob.ip.binseg)",
        source=(
            "bob.ip.binseg baseline results (Idiap); framework of Laibacher & Anjos, "
            "'On the Evaluation and Real-World Usage Scenarios of Deep Vessel "
            "Segmentation for Retinography', arXiv:1909.03856, 2019"
        ),
        url="https://github.com/bioidiap/bob.ip.binseg/blob/master/doc/results/baselines/index.rst",
        f1=0.825,
        params=25_800_000,
        protocol=(
            "FOV masks used, but images centre-cropped to 544x544. F1 is the mean of "
            "per-image F1 over the 20 test images (std 0.015), not pooled; threshold "
            "chosen a priori on the training set. Encoder initialised from VGG-16, "
            "1000 epochs."
        ),
        notes=(
            "F1 (0.825, std 0.015) and the rounded parameter count (25.8M) read from "
            "the baseline table of the bob.ip.binseg documentation; the 544x544 "
            "centre crop from configs/datasets/drive/default.py. No ROC AUC, accuracy "
            "or hardware in that table."
        ),
    ),
    PublishedResult(
        method="Little W-Net (bob.ip.binseg)",
        source=(
            "bob.ip.binseg baseline results (Idiap), re-training of Galdran et al.'s "
            "Little W-Net in the framework of Laibacher & Anjos (2019)"
        ),
        url="https://github.com/bioidiap/bob.ip.binseg/blob/master/doc/results/baselines/index.rst",
        f1=0.828,
        params=68_000,
        protocol=(
            "As for U-Net (bob.ip.binseg): 544x544 centre crop, FOV masks, mean of "
            "per-image F1, threshold chosen a priori on the training set. 2000 epochs "
            "with cosine-annealed learning rate."
        ),
        notes=(
            "F1 (0.828, no std given) and the rounded parameter count (68k) read from "
            "the baseline table of the bob.ip.binseg documentation."
        ),
    ),
    PublishedResult(
        method="Little W-Net (Galdran et al.)",
        source=(
            "Galdran, Anjos, Dolz, Chakor, Lombaert, Ben Ayed, 'State-of-the-art retinal "
            "vessel segmentation with minimalistic models', Scientific Reports 12:6174, "
            "2022 (arXiv:2009.01907, 2020)"
        ),
        url="https://doi.org/10.1038/s41598-022-09675-y",
        roc_auc=0.9810,
        f1=0.8277,
        params=68_000,
        unverified=("roc_auc", "f1"),
        protocol=(
            "Image cropped to the FOV box and resized to 512x512 for the network, "
            "flip test-time augmentation, map resized back to native size and scored "
            "inside the FOV; threshold picked on training-set predictions; trained on "
            "16 of the 20 training images. Pooling over images not confirmed here."
        ),
        notes=(
            "ROC AUC and F1 could not be read from the paper in the sources available "
            "here; the values are the commonly quoted ones and must be checked against "
            "the paper's DRIVE table. Protocol read from the official code "
            "(github.com/agaldran/lwnet: README, generate_results.py, "
            "experiments/wnet_drive/config.cfg). About 68k parameters per bob.ip.binseg "
            "('roughly around 70k' in the lwnet README)."
        ),
    ),
    PublishedResult(
        method="SA-UNet (Guo et al.)",
        source=(
            "Guo, Szemenyei, Yi, Wang, Chen, Fan, 'SA-UNet: Spatial Attention U-Net for "
            "Retinal Vessel Segmentation', ICPR 2020 (arXiv:2004.03696)"
        ),
        url="https://arxiv.org/abs/2004.03696",
        roc_auc=0.9864,
        f1=0.8263,
        accuracy=0.9698,
        sensitivity=0.8212,
        specificity=0.9840,
        params=538_707,
        # Every score comes from secondary sources (notes), none from the paper.
        unverified=("roc_auc", "f1", "accuracy", "sensitivity", "specificity"),
        protocol=(
            "All 584x565 pixels scored, FOV ignored (the author confirms this in "
            "issue #7); images zero-padded to 592x592 for the network and cropped "
            "back; pooled, threshold 0.5. The black background inflates accuracy, "
            "specificity and ROC AUC."
        ),
        notes=(
            "ROC AUC, accuracy and F1 as listed for the paper on Papers with Code "
            "(HyperAI mirror); sensitivity, accuracy, AUC and F1 as quoted in Table 4 "
            "of Multiscale U-Net with Spatial Positional Attention (J. Healthc. Eng. "
            "2022). Specificity not found outside the paper; it agrees with the other "
            "three (they imply a vessel fraction of 8.75 %, the whole-image fraction "
            "of the DRIVE test set being 8.76 % against 12.7 % inside the FOV, and a "
            "specificity of 0.9840). Evaluation code: Eval_drive.py. Parameter count "
            "derived by us from SA_UNet.py (start_neurons=16)."
        ),
    ),
    PublishedResult(
        method="FR-UNet (Liu et al.)",
        source=(
            "Liu, Yang, Tian, Cao, Pan, Xu, Jin, 'Full-Resolution Network and "
            "Dual-Threshold Iteration for Retinal Vessel and Coronary Angiograph "
            "Segmentation', IEEE JBHI, 2022"
        ),
        url="https://ieeexplore.ieee.org/document/9815506",
        roc_auc=0.9889,
        f1=0.8316,
        accuracy=0.9705,
        sensitivity=0.8356,
        specificity=0.9837,
        params=5_719_627,
        unverified=("roc_auc", "f1", "accuracy", "sensitivity", "specificity"),
        protocol=(
            "No FOV mask: all 584x565 pixels of each image; every score, AUC too, "
            "computed per image and averaged over the 20 images. Grey-scale input, "
            "48x48 training patches (stride 6). Binarised by dual-threshold iteration "
            "(0.5 / 0.3), a post-processing we do not apply."
        ),
        notes=(
            "Scores could not be read from the paper here. F1 and ROC AUC agree with "
            "a third-party summary of published DRIVE results; sensitivity, "
            "specificity and accuracy are unconfirmed but mutually consistent with "
            "whole-image counting (implied vessel fraction 8.7 %). Protocol read from "
            "the official code (github.com/lseventeen/FR-UNet: tester.py, "
            "utils/metrics.py, data_process.py, config.yaml). Parameter count derived "
            "by us from models/fr_unet.py: 5.72M in the layers used, 7.37M counting "
            "fusion layers the code creates but never calls."
        ),
    ),
)


def results_table(own_rows=()) -> list:
    """Our rows followed by the published ones, each with the keys of :data:`COLUMNS`.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    own_rows : iterable of mapping
        Our results, e.g. ``{"method": "ours (compact)", **metrics,
        "params": 1_900_000, "hardware": "...", "protocol": "..."}``.
        ``method`` is required; missing columns become ``None``; keys outside
        :data:`COLUMNS` (such as ``precision`` or ``iou`` from
        :func:`retina_tutorial.metrics.pixel_metrics`) are dropped, except
        ``intervals``: score name -> ``[low, high]``, the 95 % confidence
        interval that :func:`to_markdown` prints under the table.

    Returns
    -------
    list of dict
        Our rows in the given order, then :data:`PUBLISHED`. Scores are plain
        floats; NaN (an undefined score) is kept.

    Raises
    ------
    ValueError
        If a row is not a mapping, has no ``method``, has a score that is
        not a number in [0, 1] (MCC in [-1, 1]) or NaN, or invalid ``params``.
    """
    rows = []
    for index, row in enumerate(own_rows):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"own_rows[{index}] must be a dict with the keys of COLUMNS, "
                f"got {type(row).__name__}"
            )
        method = row.get("method")
        if not isinstance(method, str) or not method.strip():
            raise ValueError(f"own_rows[{index}] needs a non-empty 'method' string, got {method!r}")
        clean = {}
        for name in COLUMNS:
            value = row.get(name)
            if name in METRICS:
                value = _check_score(value, name, f"own_rows[{index}]['{name}']", allow_nan=True)
            elif name == "params":
                _check_params(value, f"own_rows[{index}]['params']")
                value = None if value is None else int(value)
            elif value is not None and not isinstance(value, str):
                raise ValueError(
                    f"own_rows[{index}]['{name}'] must be a string or None, got {value!r}"
                )
            clean[name] = value
        if row.get("intervals"):
            clean["intervals"] = _checked_intervals(row["intervals"], f"own_rows[{index}]")
        rows.append(clean)
    rows.extend(entry.row() for entry in PUBLISHED)
    return rows


def format_params(params) -> str:
    """A parameter count as a short label: ``'1.9 M'``, ``'68 k'``, ``'950'``.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    params : int or None
        Number of parameters.

    Returns
    -------
    str
        Millions with one decimal from 999,500 up, thousands without decimals
        from 1,000, the plain number below; :data:`MISSING` for ``None``.

    Raises
    ------
    ValueError
        If ``params`` is not a positive integer or ``None``.
    """
    _check_params(params, "params")
    if params is None:
        return MISSING
    if round(params / 1e3) >= 1000:
        return f"{params / 1e6:.1f} M"
    if params >= 1000:
        return f"{params / 1e3:.0f} k"
    return str(params)


def to_markdown(rows, *, protocol_notes: bool = False) -> str:
    """Render table rows as a Markdown table with the columns of :data:`COLUMNS`.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    rows : iterable of mapping
        Rows as returned by :func:`results_table`; missing keys show as
        :data:`MISSING`.
    protocol_notes : bool
        Narrow enough for a book page: one table of the scores, each method
        followed by the number of its protocol, "(1)"; a second table of
        parameters and hardware; then the protocols as a numbered list.
        Rows with the same protocol share a number.

    Returns
    -------
    str
        Header, alignment line, one line per row. Scores with 4 decimals,
        :data:`MISSING` for ``None`` or NaN, parameters via
        :func:`format_params`, ``|`` in text escaped. Rows with
        ``intervals`` get a line each under the table with their 95 %
        confidence intervals. When a method carries
        :data:`UNVERIFIED_MARK`, a footnote line explains it.

    Raises
    ------
    ValueError
        If a row is not a mapping or holds an invalid score or parameter count.
    """
    rows = list(rows)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"rows[{index}] must be a dict with the keys of COLUMNS, got {type(row).__name__}"
            )
    marked = any(str(row.get("method", "")).endswith(UNVERIFIED_MARK) for row in rows)
    if protocol_notes:
        notes: list[str] = []
        numbered = []
        for row in rows:
            protocol = row.get("protocol")
            method = MISSING if row.get("method") is None else str(row["method"])
            if protocol is not None:
                if str(protocol) not in notes:
                    notes.append(str(protocol))
                method += f" ({notes.index(str(protocol)) + 1})"
            numbered.append({**row, "method": method})
        lines = _table(numbered, ("method", *METRICS))
        lines += ["", *_table(rows, ("method", "params", "hardware"))]
        if notes:
            lines += ["", *(f"{number}. {note}" for number, note in enumerate(notes, 1))]
    else:
        lines = _table(rows, COLUMNS)
    with_intervals = [row for row in rows if row.get("intervals")]
    if with_intervals:
        lines += ["", "95 % confidence intervals, from a bootstrap over the test images:", ""]
    for row in with_intervals:
        ranges = "; ".join(
            f"{HEADERS[name]} {low:.4f}–{high:.4f}"
            for name, (low, high) in _checked_intervals(row["intervals"], "intervals").items()
        )
        lines.append(f"- {_escape(str(row.get('method')))}: {ranges}.")
    if marked:
        lines.append("")
        lines.append(
            f"{UNVERIFIED_MARK} Some figures could not be checked against the primary source; "
            "see `retina_tutorial.published`."
        )
    return "\n".join(lines)


def _checked_intervals(intervals, where: str) -> dict:
    """``intervals`` in :data:`METRICS` order, each a checked ``(low, high)``."""
    if not isinstance(intervals, Mapping):
        raise ValueError(f"{where}['intervals'] must map score names to [low, high].")
    unknown = set(intervals) - set(METRICS)
    if unknown:
        raise ValueError(f"{where}['intervals'] has scores outside the table: {sorted(unknown)}")
    checked = {}
    for name in (name for name in METRICS if name in intervals):
        bounds = intervals[name]
        label = f"{where}['intervals']['{name}']"
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2 or None in bounds:
            raise ValueError(f"{label} must be [low, high], got {bounds!r}")
        low, high = (_check_score(value, name, label, allow_nan=False) for value in bounds)
        if low > high:
            raise ValueError(f"{where}['intervals']['{name}'] runs backwards: {low} > {high}")
        checked[name] = (low, high)
    return checked


def _table(rows, columns) -> list:
    """Markdown lines of a table of ``rows`` with ``columns``."""
    lines = [
        "| " + " | ".join(HEADERS[name] for name in columns) + " |",
        "|"
        + "|".join("---:" if name in METRICS or name == "params" else "---" for name in columns)
        + "|",
    ]
    for index, row in enumerate(rows):
        cells = []
        for name in columns:
            value = row.get(name)
            if name in METRICS:
                value = _check_score(value, name, f"rows[{index}]['{name}']", allow_nan=True)
                cells.append(MISSING if value is None or math.isnan(value) else f"{value:.4f}")
            elif name == "params":
                cells.append(format_params(value))
            else:
                cells.append(MISSING if value is None else _escape(str(value)))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


#: Published results of DRIVE-trained networks on another data set. Other
#: protocols than this book's (see ``protocol``): context, not a ranking.
TRANSFER = (
    {
        "route": "DRIVE -> CHASE_DB1",
        "source": "bob.ip.binseg's cross-data-set tables (Idiap; documentation of the package)",
        "result": "F1 0.32-0.55 for DRIVE-trained networks at CHASE_DB1's native size; "
        "about 0.75 for a U-Net with the resolution roughly matched",
        "protocol": "F1 inside the FOV, threshold chosen on the training set, CHASE_DB1 "
        "split 8 train / 20 test (the reverse of this book's 20 / 8)",
    },
)


def transfer_notes() -> str:
    """:data:`TRANSFER` as text, each with its source and protocol, marked unverified."""
    lines = []
    for entry in TRANSFER:
        lines.append(f"{entry['route']}: {entry['result']} {UNVERIFIED_MARK}")
        lines.append(f"    source: {entry['source']}")
        lines.append(f"    protocol: {entry['protocol']}")
    lines.append(
        f"{UNVERIFIED_MARK} as reported; not re-measured here. No primary source "
        "collected here reports DRIVE -> STARE on this split."
    )
    return "\n".join(
        textwrap.fill(line, 79, subsequent_indent=" " * (8 if line.startswith("    ") else 4))
        for line in lines
    )
