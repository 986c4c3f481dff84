"""The retina-tutorial command: evaluate and predict end to end, and their bad inputs."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from retina_tutorial import cli, config, model_files, scale
from retina_tutorial import model as unet

pytestmark = pytest.mark.filterwarnings(
    # Keras 3 saving calls np.array() on TF variables; NumPy 2 warns. Not ours.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model = unet.build_unet(base_filters=4, depth=2, name="tiny")
    # Trained, as it were, on photographs as small as the tests' (FOV 90 px).
    scale.attach(model, scale.Scale(90.0))
    model_files.save(model, path)
    return path


def _predict(image, model_file, out, *options) -> int:
    """Exit status of `retina-tutorial predict IMAGE --model MODEL --out OUT [options]`."""
    return cli.main(
        ["predict", str(image), "--model", str(model_file), "--out", str(out), *options]
    )


def _fundus_png(path, mode="RGB", size=(70, 90)):
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 255, (size[0], size[1], channels), dtype=np.uint8)
    Image.fromarray(pixels.squeeze(), mode).save(path)
    return path


def test_evaluate_writes_metrics_figures_and_probabilities(
    tiny_model_file, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    out = tmp_path / "eval"
    assert cli.main(["evaluate", "--model", str(tiny_model_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Data: synthetic" in printed and "chosen on validation" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["threshold"] <= 1.0
    assert {"f1", "accuracy", "sensitivity", "specificity"} <= set(metrics["second_observer"])
    assert metrics["data"]["source"] == "synthetic"
    with (out / "per_image.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert {row["id"] for row in rows} == {f"{n:02d}" for n in range(1, 21)}
    probabilities = sorted((out / "probabilities").iterdir())
    assert [p.name for p in probabilities] == [f"{n:02d}_test.png" for n in range(1, 21)]
    with Image.open(probabilities[0]) as first:
        assert first.size == (565, 584)
        assert first.mode.startswith("I")
    # Three figures of the whole test set, four of its median-F1 image.
    figures = {path.name for path in (out / "figures").iterdir()}
    whole_set = {"roc_pr.png", "per_image_f1.png", "reliability.png"}
    (median,) = {name.removesuffix(".png").rsplit("_", 1)[1] for name in figures - whole_set}
    assert median in {row["id"] for row in rows}
    one_image = ("triptych", "errors", "probability", "tree_breaks")
    assert figures == whole_set | {f"{kind}_{median}.png" for kind in one_image}


def test_predict_writes_probability_and_binary_maps(tiny_model_file, tmp_path, capsys):
    image = _fundus_png(tmp_path / "eye.png")
    out = tmp_path / "pred"
    assert (
        cli.main(["predict", str(image), "--model", str(tiny_model_file), "--out", str(out)]) == 0
    )
    written = sorted(p.name for p in out.iterdir())
    assert written == ["eye_fov.png", "eye_probability.png", "eye_vessels.png"]
    with Image.open(out / "eye_vessels.png") as binary:
        assert binary.size == (90, 70)
        assert set(np.unique(np.asarray(binary))) <= {0, 255}


def test_predict_names_the_scale_and_the_factor(tiny_model_file, tmp_path, capsys):
    # A disc 180 px wide cut at top and bottom by a 140 px frame: twice the model's scale.
    rows, cols = np.indices((140, 180))
    disc = (rows - 69.5) ** 2 + (cols - 89.5) ** 2 <= 90**2
    pixels = np.where(disc[..., None], np.array([180, 90, 40], np.uint8), np.uint8(0))
    image = tmp_path / "eye.png"
    Image.fromarray(pixels.astype(np.uint8)).save(image)
    out = tmp_path / "pred"
    assert (
        cli.main(["predict", str(image), "--model", str(tiny_model_file), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "eye.png: FOV 180 px wide at 45°, 4.0 px/degree;\nresized by 0.500" in printed
    with Image.open(out / "eye_probability.png") as probability:
        assert probability.size == (180, 140)
        assert float(probability.text["resize_factor"]) == 0.5
    arguments = ["predict", str(image), "--model", str(tiny_model_file), "--out", str(out)]
    assert cli.main([*arguments, "--native-size"]) == 0
    assert "not resized" in capsys.readouterr().out
    # A 30° camera: the same width holds 1.5 times as many pixels per degree.
    assert cli.main([*arguments, "--field-of-view", "30"]) == 0
    assert "at 30°, 6.0 px/degree;\nresized by 0.333" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--fov-diameter", "-3", "FOV diameter must be a positive number"),
        ("--fov-diameter", "10", "would need enlarging 9.0x"),
        ("--field-of-view", "0", "field angle must lie in (0, 200]"),
    ],
)
def test_predict_refuses_a_bad_scale_naming_the_file(
    tiny_model_file, tmp_path, capsys, option, value, message
):
    image = _fundus_png(tmp_path / "eye.png")
    assert _predict(image, tiny_model_file, tmp_path / "o", option, value) == 2
    error = capsys.readouterr().err
    assert str(image) in error and message in error
    assert not (tmp_path / "o").exists()


def test_predict_handles_rgba(tiny_model_file, tmp_path):
    image = _fundus_png(tmp_path / "eye.png", "RGBA")
    assert _predict(image, tiny_model_file, tmp_path / "o") == 0


def test_predict_refuses_greyscale_naming_the_file(tiny_model_file, tmp_path, capsys):
    image = _fundus_png(tmp_path / "grey.png", "L")
    assert _predict(image, tiny_model_file, tmp_path / "o") == 2
    assert "grey.png" in capsys.readouterr().err


@pytest.mark.parametrize("threshold", ["-0.1", "1.5"])
def test_predict_threshold_outside_unit_interval(tiny_model_file, tmp_path, capsys, threshold):
    image = _fundus_png(tmp_path / "eye.png")
    assert _predict(image, tiny_model_file, tmp_path / "o", "--threshold", threshold) == 2
    assert "--threshold must lie in [0, 1]" in capsys.readouterr().err


def test_missing_model_is_named(tmp_path, capsys):
    image = _fundus_png(tmp_path / "eye.png")
    missing = tmp_path / "nowhere.keras"
    assert (
        cli.main(["predict", str(image), "--model", str(missing), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "nowhere.keras" in capsys.readouterr().err


def test_file_that_is_not_a_model(tmp_path, capsys):
    fake = tmp_path / "notes.keras"
    fake.write_text("not a model")
    assert (
        cli.main(["evaluate", "--model", str(fake), "--synthetic", "--out", str(tmp_path / "o")])
        == 2
    )
    assert "notes.keras is not a Keras model" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unknown_profile_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--profile", "huge", "--out", "x"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_train_without_images_says_so(tmp_path, capsys):
    empty = tmp_path / "DRIVE"
    (empty / "training" / "images").mkdir(parents=True)
    assert cli.main(["train", "--data", str(empty), "--out", str(tmp_path / "run")]) == 2
    assert "is missing" in capsys.readouterr().err


class _KillAfter(__import__("keras").callbacks.Callback):
    """Stands in for a crash at the end of an epoch (counted from 1)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.slow
def test_train_without_data_uses_synthetic_says_so_and_resumes(tmp_path, capsys, monkeypatch):
    import dataclasses

    from retina_tutorial import train

    tiny = dataclasses.replace(
        config.get_profile("quick"), epochs=3, steps_per_epoch=2, patch_size=32, batch_size=4
    )
    monkeypatch.setitem(config.PROFILES, "quick", tiny)
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    out = tmp_path / "run"
    real_train = train.train

    def killed_after_two(*args, **kwargs):
        return real_train(*args, callbacks=[_KillAfter(2)], **kwargs)

    monkeypatch.setattr(train, "train", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--profile", "quick", "--out", str(out)])
    assert "synthetic" in capsys.readouterr().out.lower()
    assert not (out / "summary.json").exists()

    monkeypatch.setattr(train, "train", real_train)
    assert cli.main(["train", "--profile", "quick", "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "Trained 3 epochs (quick profile, synthetic data)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from_epoch"] == 2 and summary["epochs_run"] == 3
    assert train.read_history(out / "history.csv")["epoch"] == [0, 1, 2]
