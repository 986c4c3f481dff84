"""The shipped pretrained model: present, intact, refused when damaged, and really trained."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retina_tutorial import cli, config, inference, metrics, pretrained, published, synthetic, train

MAX_BYTES = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def shipped_model():
    return pretrained.load()


def test_the_package_ships_a_model_its_history_and_card():
    assert pretrained.available()
    assert pretrained.MODEL_FILE.stat().st_size <= MAX_BYTES
    assert pretrained.sha256(pretrained.MODEL_FILE) == pretrained.SHA256
    with open(pretrained.HISTORY_FILE, newline="") as file:
        rows = list(csv.DictReader(file))
    # Every epoch of the full recipe, which trained the shipped model.
    assert len(rows) == config.get_profile("full").epochs
    assert {"epoch", "val_auc", "val_loss"} <= set(rows[0])
    # Every row has every column once: no value without a header (None key).
    assert all(None not in row and None not in row.values() for row in rows)
    assert [int(row["epoch"]) for row in rows] == list(range(len(rows)))
    card = pretrained.MODEL_CARD.read_text()
    for heading in (
        "## Data",
        "## Recipe",
        "## Hardware",
        "## Metrics",
        "## Known failure modes",
        "## Intended use",
    ):
        assert heading in card, f"MODEL_CARD.md lacks {heading!r}"
    assert pretrained.SHA256 in card


def test_the_warm_restart_history_continues_the_shipped_run_and_never_beats_it():
    # The model card and chapter 04 say so: a longer schedule overfits.
    shipped = train.read_history(pretrained.HISTORY_FILE)
    longer = train.read_history(pretrained.WARM_RESTART_HISTORY_FILE)
    first = len(shipped["epoch"])
    assert longer["epoch"] == list(range(80))
    assert {key: values[:first] for key, values in longer.items()} == shipped
    assert max(longer["val_auc"][first:]) < max(shipped["val_auc"])
    assert (
        longer["auc"][-1] > shipped["auc"][-1] + 0.003
        and longer["val_auc"][-1] < shipped["val_auc"][-1]
    )


def test_a_damaged_copy_is_refused_with_the_file_named(tmp_path):
    damaged = tmp_path / "unet_drive.keras"
    shutil.copy(pretrained.MODEL_FILE, damaged)
    content = bytearray(damaged.read_bytes())
    content[len(content) // 2] ^= 0xFF
    damaged.write_bytes(bytes(content))
    with pytest.raises(pretrained.PretrainedModelError, match="damaged or was replaced") as error:
        pretrained.verify(damaged)
    assert str(damaged) in str(error.value) and "Reinstall" in str(error.value)


def test_a_missing_file_is_refused_with_the_fix(tmp_path):
    with pytest.raises(
        pretrained.PretrainedModelError, match="retina-tutorial train --profile full"
    ):
        pretrained.verify(tmp_path / "absent.keras")


def test_the_model_is_the_wide_unet(shipped_model):
    assert shipped_model.count_params() == 1_929_825
    assert shipped_model.input_shape == (None, None, None, 3)


def test_it_gives_the_prediction_recorded_when_it_shipped(shipped_model):
    # Recorded with the shipped file on a 2-core CPU; a different file, a
    # broken loader or changed pre-processing would move these.
    image, _vessels, _, fov = synthetic.make_fundus(7)
    probabilities = inference.predict(shipped_model, image)
    assert float(probabilities[fov].mean()) == pytest.approx(0.17644, abs=2e-4)
    recorded = {(43, 214): 0.57327, (114, 100): 0.99979, (179, 120): 0.99967, (264, 521): 0.91887}
    for pixel, value in recorded.items():
        assert float(probabilities[pixel]) == pytest.approx(value, abs=2e-3), pixel


def test_it_segments_a_synthetic_fundus_it_never_saw(shipped_model):
    # Trained on DRIVE only; an untrained U-Net scores about 0.5 here.
    image, vessels, _, fov = synthetic.make_fundus(7)
    probabilities = inference.predict(shipped_model, image)
    assert probabilities.shape == vessels.shape and probabilities.dtype == np.float32
    assert metrics.pixel_metrics(probabilities, vessels, fov)["roc_auc"] >= 0.97


@pytest.mark.drive
def test_it_segments_drive_test_images(shipped_model, drive_dataset):
    test = drive_dataset.test
    probabilities = inference.predict(shipped_model, test.images[:2])
    scores = metrics.pixel_metrics(probabilities, test.vessels[:2], test.fov[:2])
    assert scores["roc_auc"] >= 0.975 and scores["f1"] >= 0.78


def test_cli_predict_accepts_pretrained(tmp_path, capsys):
    image_path = tmp_path / "fundus.png"
    from PIL import Image

    image, *_ = synthetic.make_fundus(3)
    Image.fromarray((image * 255).round().astype(np.uint8)).save(image_path)
    out = tmp_path / "out"
    assert cli.main(["predict", str(image_path), "--model", "pretrained", "--out", str(out)]) == 0
    written = sorted(path.name for path in out.iterdir())
    assert written == ["fundus_fov.png", "fundus_probability.png", "fundus_vessels.png"]


@pytest.mark.drive
@pytest.mark.slow
def test_cli_evaluate_accepts_pretrained(tmp_path, drive_dataset):
    out = tmp_path / "evaluation"
    assert cli.main(["evaluate", "--model", "pretrained", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["model"]["sha256"] == pretrained.SHA256 and metrics["model"]["name"] == "unet_wide"
    )
    assert metrics["test"]["threshold_validation"]["roc_auc"] >= 0.975


def test_shipped_reports_belong_to_the_shipped_model_and_feed_the_results_table():
    rows = pretrained.results_rows()
    assert [row["method"] for row in rows] == [
        "This book: wide U-Net, without TTA",
        "This book: wide U-Net, with TTA",
        "2nd human observer",
    ]
    for path in pretrained.REPORTS.values():
        report = json.loads(path.read_text())
        assert report["model"]["sha256"] == pretrained.SHA256, (
            f"{path.name} was made with another model"
        )
        assert (
            report["data"]["source"] == "drive" and report["data"]["test_fov_pixels"] == 4_538_143
        )
        assert 0.0 < report["threshold"] < 1.0 and report["tta"] == ("tta" in path.name)
    assert rows[1]["roc_auc"] >= rows[0]["roc_auc"] - 0.002  # TTA does not hurt
    assert rows[2]["f1"] == pytest.approx(0.7891, abs=5e-4)
    table = published.to_markdown(published.results_table(rows))
    assert table.count("\n| This book: wide U-Net") == 2 and "orobix" in table


def test_model_card_states_the_shipped_figures():
    card = pretrained.MODEL_CARD.read_text()
    for label, path in pretrained.REPORTS.items():
        chosen = json.loads(path.read_text())["test"]["threshold_validation"]
        assert f"{chosen['roc_auc']:.4f} | {chosen['pr_auc']:.4f} | {chosen['f1']:.4f}" in card, (
            label
        )


def test_readme_results_table_is_the_shipped_one():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start, end = "<!-- results-table:", "<!-- /results-table -->"
    shown = readme[readme.index(start) : readme.index(end)].split("\n", 1)[1].strip()
    assert (
        shown == published.to_markdown(published.results_table(pretrained.results_rows())).strip()
    )


def test_time_to_quality_benchmark_ships_with_the_recipe():
    benchmark = pretrained.time_to_quality()
    assert benchmark["epoch"] == list(range(1, len(benchmark["epoch"]) + 1))
    assert all(b > a for a, b in zip(benchmark["minutes"], benchmark["minutes"][1:]))
    assert 0.9 < max(benchmark["val_auc"]) <= 1.0


def test_shipped_reports_hold_intervals_calibration_and_topology_and_no_paths():
    for path in pretrained.REPORTS.values():
        text = path.read_text()
        assert '"/' not in text and "\\\\" not in text, f"{path.name} holds a path"
        report = json.loads(text)
        intervals = report["confidence_intervals"]
        for who, names in (
            ("model", ("roc_auc", "f1", "f1_per_image", "ece", "centreline_recall")),
            ("second_observer", ("f1", "f1_per_image", "centreline_recall")),
        ):
            for name in names:
                low, high = intervals[who][name]["interval"]
                assert low <= intervals[who][name]["value"] <= high, (path.name, who, name)
        assert intervals["model"]["f1"]["value"] == pytest.approx(
            report["test"]["threshold_validation"]["f1"]
        )
        assert 0.0 < report["calibration"]["ece"] < 0.02
        for who in ("model", "second_observer"):
            tree = report["topology"][who]
            assert tree["components"] >= tree["components_10px"] > 0
            assert 0.5 < tree["centreline_recall"] <= 1.0
            assert 0.5 < tree["centreline_precision"] <= 1.0


def test_model_card_states_the_shipped_uncertainty_and_topology():
    card = pretrained.MODEL_CARD.read_text()
    report = json.loads(pretrained.REPORTS["without TTA"].read_text())
    low, high = report["confidence_intervals"]["model"]["f1"]["interval"]
    assert f"{low:.4f}–{high:.4f}" in card
    assert f"{report['calibration']['ece']:.4f}" in card
    tree = report["topology"]
    assert f"{tree['model']['centreline_recall']:.3f}" in card
    assert f"{tree['second_observer']['centreline_recall']:.3f}" in card


def test_model_card_states_the_mid_range_calibration_of_both_sets():
    card = " ".join(pretrained.MODEL_CARD.read_text().split())
    report = json.loads(pretrained.REPORTS["without TTA"].read_text())
    for key in ("calibration", "validation_calibration"):
        middle = report[key]["mid_range"]
        assert f"mid-range ECE {middle['ece']:.4f}" in card or (
            f"the ECE is {middle['ece']:.4f}" in card
        ), key
        assert f"largest gap {middle['max_gap']:.4f}" in card or (
            f"the largest gap {middle['max_gap']:.4f}" in card
        ), key
        assert middle["mean_signed_gap"] > 0  # the card says: over-predicts vessel
    test = report["test"]["threshold_validation"]
    assert (
        f"sensitivity ({test['sensitivity']:.3f}) is below precision ({test['precision']:.3f})"
        in card
    )


def test_scale_benchmark_ships_and_agrees_with_the_report_at_factor_1():
    rows = pretrained.scale_benchmark()
    cases = {(row["case"], row["path"]): row for row in rows}
    assert {case for case, _ in cases} == {"0.5", "1", "2", "4", "4, cut"}
    report = json.loads(pretrained.REPORTS["without TTA"].read_text())["test"]["threshold_0.5"]
    for path in ("as given", "at the model's scale"):
        row = cases[("1", path)]
        assert row["images"] == 20 and row["resize_factor"] == 1.0
        # The same 20 images at their own size: the shipped report's scores at 0.5.
        assert row["roc_auc"] == pytest.approx(report["roc_auc"], abs=1e-4)
        assert row["f1"] == pytest.approx(report["f1"], abs=1e-4)
    assert cases[("4", "at the model's scale")]["resize_factor"] == pytest.approx(0.25, abs=0.01)


def test_onnx_benchmark_ships_with_the_model_and_the_card_states_it():
    rows = {row["engine"]: row for row in pretrained.onnx_benchmark()}
    assert list(rows) == ["keras", "fp32", "fp16", "int8"]
    assert {row["data"] for row in rows.values()} == {"drive"}
    keras_row = rows["keras"]
    headline = json.loads(pretrained.REPORTS["without TTA"].read_text())["test"]
    assert keras_row["roc_auc"] == pytest.approx(headline["threshold_validation"]["roc_auc"])
    # Issue 27's bars, as measured when the model was exported.
    assert rows["fp32"]["max_difference"] <= 1e-4
    assert f"{rows['fp32']['roc_auc']:.4f}" == f"{keras_row['roc_auc']:.4f}"
    assert f"{rows['fp32']['f1']:.4f}" == f"{keras_row['f1']:.4f}"
    assert abs(rows["fp16"]["roc_auc"] - keras_row["roc_auc"]) <= 2e-4
    assert rows["int8"]["roc_auc"] >= 0.9795 and rows["int8"]["f1"] >= 0.815
    card = pretrained.MODEL_CARD.read_text()
    for row in rows.values():
        assert (
            f"| {row['seconds_per_image']:.2f} | {row['speed_up']:.2f}× |" in card
            and f"| {row['roc_auc']:.4f} | {row['f1']:.4f} |" in card
        ), row["engine"]
