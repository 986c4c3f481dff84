"""Tests for retina_tutorial.published: the published-results table."""

import dataclasses
import math

import pytest

from retina_tutorial import published
from retina_tutorial.published import (
    COLUMNS,
    HEADERS,
    METRICS,
    MISSING,
    PUBLISHED,
    UNVERIFIED_MARK,
    PublishedResult,
    format_params,
    results_table,
    to_markdown,
)


def _entry(**changes):
    fields = dict(method="m", source="s", url="https://example.org", protocol="p", f1=0.8)
    fields.update(changes)
    return PublishedResult(**fields)


# --- the data ---------------------------------------------------------------


@pytest.mark.parametrize("entry", PUBLISHED, ids=lambda e: e.method)
def test_each_entry_has_source_url_and_protocol(entry):
    assert entry.url.startswith("https://")
    assert entry.source.strip()
    assert len(entry.protocol) > 40
    assert entry.notes.strip()


@pytest.mark.parametrize("entry", PUBLISHED, ids=lambda e: e.method)
def test_each_entry_scores_lie_in_unit_interval_and_one_is_given(entry):
    scores = [getattr(entry, name) for name in METRICS]
    assert any(value is not None for value in scores)
    for value in scores:
        assert value is None or 0.0 <= value <= 1.0
    assert entry.params is None or (isinstance(entry.params, int) and entry.params > 0)


def test_methods_are_unique():
    names = [entry.method for entry in PUBLISHED]
    assert len(names) == len(set(names))


def test_orobix_figures_match_its_confusion_matrix():
    # test/performances.txt: [[TN FP] [FN TP]] over the FOV pixels, threshold 0.5.
    tn, fp, fn, tp = 3_895_256, 65_238, 134_513, 443_136
    entry = next(e for e in PUBLISHED if "orobix" in e.method)
    assert entry.verified
    assert entry.accuracy == pytest.approx((tp + tn) / (tp + tn + fp + fn), abs=5e-5)
    assert entry.sensitivity == pytest.approx(tp / (tp + fn), abs=5e-5)
    assert entry.specificity == pytest.approx(tn / (tn + fp), abs=5e-5)
    assert entry.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=5e-5)
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert entry.mcc == pytest.approx(mcc, abs=5e-5)
    assert entry.roc_auc == 0.9790


@pytest.mark.parametrize(
    ("fragment", "verified"),
    [
        ("orobix", True),
        ("U-Net (bob", True),
        ("W-Net (bob", True),
        ("Galdran", False),
        ("SA-UNet", False),
        ("FR-UNet", False),
    ],
)
def test_verification_status(fragment, verified):
    entry = next(e for e in PUBLISHED if fragment in e.method)
    assert entry.verified is verified
    assert entry.to_dict()["verified"] is verified


def test_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PUBLISHED[0].f1 = 0.5


@pytest.mark.parametrize(
    "changes",
    [
        {"f1": 1.2},
        {"roc_auc": -0.1},
        {"f1": 82.6},
        {"f1": float("nan")},
        {"f1": "0.8"},
        {"f1": True},
        {"params": 0},
        {"params": 1.5e6},
        {"url": "github.com/x/y"},
        {"protocol": "  "},
        {"method": ""},
        {"unverified": ("nope",)},
        {"unverified": ("roc_auc",)},  # roc_auc has no value in _entry
        {"unverified": ["f1"]},
        {"hardware": ""},
    ],
)
def test_invalid_entry_raises(changes):
    with pytest.raises(ValueError):
        _entry(**changes)


def test_negative_mcc_is_a_valid_score():
    assert _entry(mcc=-0.2).mcc == -0.2
    with pytest.raises(ValueError):
        _entry(mcc=-1.5)


def test_row_marks_unverified_method():
    assert _entry().row()["method"] == "m"
    assert _entry(unverified=("f1",)).row()["method"] == f"m {UNVERIFIED_MARK}"
    assert tuple(_entry().row()) == COLUMNS


# --- results_table ------------------------------------------------------------


def test_results_table_puts_own_rows_first_in_column_order():
    own = {
        "method": "ours",
        "f1": 0.81,
        "roc_auc": 0.979,
        "precision": 0.8,
        "iou": 0.7,
        "params": 1_900_000,
    }
    rows = results_table([own])
    assert len(rows) == 1 + len(PUBLISHED)
    assert all(tuple(row) == COLUMNS for row in rows)
    assert rows[0]["method"] == "ours"
    assert rows[0]["f1"] == 0.81
    assert rows[0]["mcc"] is None and rows[0]["protocol"] is None
    assert "precision" not in rows[0]
    assert rows[1]["method"].startswith(PUBLISHED[0].method)


def test_results_table_without_own_rows_is_the_published_list():
    rows = results_table()
    assert [row["method"].removesuffix(f" {UNVERIFIED_MARK}") for row in rows] == [
        e.method for e in PUBLISHED
    ]


def test_results_table_keeps_nan_and_converts_numpy_scalars():
    np = pytest.importorskip("numpy")
    row = results_table([{"method": "ours", "f1": np.float32(0.5), "roc_auc": float("nan")}])[0]
    assert type(row["f1"]) is float and row["f1"] == 0.5
    assert math.isnan(row["roc_auc"])


@pytest.mark.parametrize(
    "row",
    [
        {"f1": 0.8},
        {"method": "", "f1": 0.8},
        {"method": "ours", "f1": 1.5},
        {"method": "ours", "accuracy": "high"},
        {"method": "ours", "params": -3},
        {"method": "ours", "protocol": 5},
        ["method", "ours"],
    ],
)
def test_results_table_rejects_bad_rows(row):
    with pytest.raises(ValueError):
        results_table([row])


# --- rendering ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "label"),
    [
        (None, MISSING),
        (950, "950"),
        (1_000, "1 k"),
        (68_000, "68 k"),
        (471_010, "471 k"),
        (999_499, "999 k"),
        (999_999, "1.0 M"),
        (1_900_000, "1.9 M"),
        (25_800_000, "25.8 M"),
    ],
)
def test_format_params(params, label):
    assert format_params(params) == label


@pytest.mark.parametrize("params", [0, -1, 2.5, "68k", True])
def test_format_params_rejects_non_counts(params):
    with pytest.raises(ValueError):
        format_params(params)


def test_to_markdown_header_and_one_line_per_row():
    rows = results_table([{"method": "ours", "f1": 0.8}])
    text = to_markdown(rows)
    lines = text.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == [HEADERS[name] for name in COLUMNS]
    assert set(lines[1]) <= set("|-:")
    table_lines = [line for line in lines if line.startswith("|")]
    assert len(table_lines) == 2 + len(rows)
    for row in rows:
        assert any(line.startswith(f"| {row['method']} |") for line in table_lines)
    # some published entries are unverified, so the footnote is there
    assert lines[-1].startswith(UNVERIFIED_MARK)


def test_to_markdown_formats_cells():
    row = {
        "method": "a|b",
        "roc_auc": 0.97903,
        "f1": None,
        "mcc": float("nan"),
        "params": 68_000,
        "hardware": None,
        "protocol": "two\nlines",
    }
    line = to_markdown([row]).splitlines()[2]
    cells = [cell.strip() for cell in line.strip("|").split(" | ")]
    assert cells[0] == "a\\|b"
    assert cells[COLUMNS.index("roc_auc")] == "0.9790"
    assert cells[COLUMNS.index("f1")] == MISSING
    assert cells[COLUMNS.index("mcc")] == MISSING
    assert cells[COLUMNS.index("pr_auc")] == MISSING  # key absent
    assert cells[COLUMNS.index("params")] == "68 k"
    assert cells[COLUMNS.index("hardware")] == MISSING
    assert cells[COLUMNS.index("protocol")] == "two lines"


def test_to_markdown_without_marked_rows_has_no_footnote_and_empty_input_gives_header():
    assert len(to_markdown([{"method": "ours", "f1": 0.8}]).splitlines()) == 3
    assert len(to_markdown([]).splitlines()) == 2


@pytest.mark.parametrize(
    "rows", [[{"method": "x", "f1": 2.0}], ["not a row"], [{"method": "x", "params": 1.5}]]
)
def test_to_markdown_rejects_bad_rows(rows):
    with pytest.raises(ValueError):
        to_markdown(rows)


def test_module_docstrings_link_the_book():
    for item in (
        published,
        PublishedResult,
        results_table,
        to_markdown,
        format_params,
        PublishedResult.row,
        PublishedResult.to_dict,
    ):
        assert "book/05_evaluation.ipynb" in item.__doc__


def test_to_markdown_can_list_protocols_under_the_table():
    rows = [
        {
            "method": "ours",
            "f1": 0.8,
            "params": 1_900_000,
            "hardware": "2 CPUs",
            "protocol": "FOV, pooled",
        },
        {"method": "ours, TTA", "f1": 0.81, "protocol": "FOV, pooled"},
        {"method": "theirs", "f1": 0.82, "protocol": "all pixels | mean"},
        {"method": "unknown", "f1": 0.7},
    ]
    lines = to_markdown(rows, protocol_notes=True).splitlines()
    scores, rest = lines[:6], lines[6:]
    # The scores, each method with the number of its protocol.
    assert scores[0] == "| Method | " + " | ".join(HEADERS[m] for m in METRICS) + " |"
    assert [line.split(" | ")[0] for line in scores[2:]] == [
        "| ours (1)",
        "| ours, TTA (1)",
        "| theirs (2)",
        "| unknown",
    ]
    assert "0.8000" in scores[2] and "0.8200" in scores[4]
    # Then parameters and hardware, then the protocols, once each.
    assert rest[1:4] == [
        "| Method | Params | Hardware |",
        "|---|---:|---|",
        "| ours | 1.9 M | 2 CPUs |",
    ]
    assert rest[-3:] == ["", "1. FOV, pooled", "2. all pixels | mean"]
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        to_markdown([["not", "a", "dict"]], protocol_notes=True)


def test_intervals_are_printed_under_the_table():
    row = {
        "method": "ours",
        "roc_auc": 0.98,
        "f1": 0.818,
        "intervals": {"f1": [0.807, 0.829], "roc_auc": (0.9786, 0.9828)},
    }
    table = published.results_table([row])
    assert table[0]["intervals"] == {"roc_auc": (0.9786, 0.9828), "f1": (0.807, 0.829)}
    assert "intervals" not in table[1]  # published rows carry none
    text = published.to_markdown(table[:1], protocol_notes=True)
    assert text.endswith("- ours: ROC AUC 0.9786–0.9828; F1 0.8070–0.8290.")
    assert "95 % confidence intervals" in text


@pytest.mark.parametrize(
    "intervals, message",
    [
        ({"f1": [0.9, 0.8]}, "backwards"),
        ({"f1": [0.8]}, r"\[low, high\]"),
        ({"f1": [None, 0.8]}, r"\[low, high\]"),
        ({"dice": [0.1, 0.2]}, "outside the table"),
        ({"f1": [80, 90]}, "fractions"),
        ([0.1, 0.2], "must map"),
    ],
)
def test_bad_intervals_are_refused(intervals, message):
    with pytest.raises(ValueError, match=message):
        published.results_table([{"method": "ours", "intervals": intervals}])
