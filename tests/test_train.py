"""Tests of retina_tutorial.train on tiny hand-made fundus images.

Every run here is a few steps on 64 x 64 images, so the whole file stays
within a minute or so on two CPU cores.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import types
import zipfile

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retina_tutorial import config, data, inference, metrics, run_history, train
from retina_tutorial import model as unet

# Keras 3 saving (ModelCheckpoint, BackupAndRestore) calls np.array() on
# TensorFlow variables, which NumPy 2 warns about; the mismatch is between
# TF and NumPy, not in this package.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

# Five steps an epoch: with three, whether the run beat an untrained one
# depended on the initial weights (test AUC 0.79-0.90 over seeds 0-3); with
# five it is 0.90-0.91.
TINY = dataclasses.replace(
    config.get_profile("quick"), steps_per_epoch=5, epochs=3, patch_size=32, batch_size=4
)
EXPECTED_FILES = {"config.json", "history.csv", "best.keras", "last.keras", "summary.json"}


def _tiny_split(count, seed, size=64):
    """Fundus-like images: an orange disc (the FOV) crossed by dark lines (vessels)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size].astype(np.float32)
    centre = (size - 1) / 2
    fov = np.hypot(rows - centre, cols - centre) < size * 0.45
    images, vessels = [], []
    for _ in range(count):
        vessel = np.zeros((size, size), bool)
        for _ in range(5):
            (r0, c0), (r1, c1) = rng.uniform(0, size, (2, 2))
            # Distance of every pixel to the segment; within 1.2 px is vessel.
            dr, dc = r1 - r0, c1 - c0
            t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr * dr + dc * dc), 0, 1)
            vessel |= np.hypot(rows - r0 - t * dr, cols - c0 - t * dc) < 1.2
        vessel &= fov
        image = np.array([0.75, 0.35, 0.15], np.float32) * (1 - 0.45 * vessel[..., None])
        image = image + rng.normal(0, 0.03, image.shape).astype(np.float32)
        images.append(np.clip(image * fov[..., None], 0, 1))
        vessels.append(vessel)
    return data.Split(
        images=np.stack(images).astype(np.float32),
        vessels=np.stack(vessels),
        fov=np.repeat(fov[None], count, axis=0),
        ids=tuple(f"{seed}-{i}" for i in range(count)),
    )


@pytest.fixture(scope="module")
def tiny_data():
    return data.Dataset(
        train=_tiny_split(4, seed=1),
        validation=_tiny_split(2, seed=2),
        test=_tiny_split(2, seed=3),
        source="synthetic",
        description="hand-made 64 x 64 test images",
    )


@pytest.fixture(scope="module")
def reference(tiny_data, tmp_path_factory):
    """One uninterrupted TINY run, shared by the tests that compare with it."""
    return train.train(TINY, tiny_data, tmp_path_factory.mktemp("run") / "reference", verbose=0)


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def _assert_same_weights(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_run_folder_holds_all_files(reference):
    out_dir = reference.out_dir
    assert {p.name for p in out_dir.iterdir()} == EXPECTED_FILES  # backup/ removed at the end
    saved = json.loads((out_dir / "config.json").read_text())
    assert saved["profile"] == TINY.to_dict()
    assert saved["data"]["source"] == "synthetic"
    assert saved["data"]["train_ids"] == ["1-0", "1-1", "1-2", "1-3"]
    assert saved["model"]["parameters"] == 484_145
    assert saved["versions"]["retina_tutorial"]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary == reference.summary
    assert summary["epochs_run"] == 3
    assert summary["stopped_by"] == "epochs"
    assert summary["data_source"] == "synthetic"
    assert summary["wall_time_seconds"] > 0
    best = int(np.argmax(reference.history["val_auc"]))
    assert summary["best_epoch"] == best + 1
    assert summary["best_val_auc"] == reference.history["val_auc"][best]
    assert summary["best_val_dice"] == reference.history["val_dice"][best]
    assert reference.history["epoch"] == [0, 1, 2]
    assert set(reference.history) == {
        "epoch",
        "loss",
        "auc",
        "dice",
        "val_loss",
        "val_auc",
        "val_dice",
        "learning_rate",
    }
    # Cosine decay from the profile's rate to 0 over epochs * steps_per_epoch.
    steps = TINY.steps_per_epoch * np.arange(1, TINY.epochs + 1)
    expected = 0.5 * TINY.learning_rate * (1 + np.cos(np.pi * steps / steps[-1]))
    np.testing.assert_allclose(reference.history["learning_rate"], expected, rtol=1e-5, atol=1e-9)


def test_best_keras_is_the_returned_model_and_loads_safely(reference, tiny_data):
    best = keras.saving.load_model(reference.out_dir / "best.keras", safe_mode=True)
    _assert_same_weights(_weights(best), _weights(reference.model))
    images = tiny_data.validation.images[:1]
    np.testing.assert_allclose(
        np.asarray(best(images, training=False)),
        np.asarray(reference.model(images, training=False)),
        atol=1e-6,
    )


class _Kill(keras.callbacks.Callback):
    """Stands in for a crash: raises at the end of the given epoch (from 0)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated kill")


def test_same_seed_gives_the_same_run_even_across_a_resume(reference, tiny_data, tmp_path, capsys):
    out_dir = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        train.train(TINY, tiny_data, out_dir, callbacks=[_Kill(1)], verbose=2)
    # Each finished epoch is reported, the one the kill ended included.
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in printed] == ["epoch 1/3", "epoch 2/3"]
    assert all("val_auc" in line and len(line) <= 79 for line in printed)
    # A second run with the same seed: the same first two epochs, to the bit.
    first_two = train.read_history(out_dir / "history.csv")
    assert first_two == {key: values[:2] for key, values in reference.history.items()}
    assert (out_dir / "backup").is_dir()
    assert not (out_dir / "summary.json").exists()
    with pytest.raises(ValueError, match=r"unfinished run.*resume=True"):
        train.train(TINY, tiny_data, out_dir, verbose=0)

    resumed = train.train(TINY, tiny_data, out_dir, resume=True, verbose=2)
    printed = capsys.readouterr().out
    assert printed.startswith("epoch 3/3 (")
    assert "Trained 3 epochs (quick profile, synthetic data), epoch 3 after resuming, in" in printed
    assert resumed.history["epoch"] == [0, 1, 2]  # no epoch twice
    assert resumed.summary["resumed_from_epoch"] == 2
    assert resumed.summary["epochs_run"] == 3
    # The same result as the run that was never interrupted.
    assert resumed.history == reference.history
    _assert_same_weights(_weights(resumed.model), _weights(reference.model))
    last = keras.saving.load_model(out_dir / "last.keras", safe_mode=True)
    reference_last = keras.saving.load_model(reference.out_dir / "last.keras", safe_mode=True)
    _assert_same_weights(_weights(last), _weights(reference_last))
    assert not (out_dir / "backup").exists()


def test_training_leaves_the_callers_random_state_alone(tiny_data, tmp_path):
    import random

    import tensorflow as tf

    random.seed(11)
    np.random.seed(11)  # noqa: NPY002
    tf.random.set_seed(11)
    expected = (random.random(), np.random.rand(), float(tf.random.uniform([], seed=1)))  # noqa: NPY002
    random.seed(11)
    np.random.seed(11)  # noqa: NPY002
    tf.random.set_seed(11)
    short = dataclasses.replace(TINY, epochs=1, steps_per_epoch=1)
    train.train(short, tiny_data, tmp_path / "run", verbose=0)
    assert (random.random(), np.random.rand(), float(tf.random.uniform([], seed=1))) == expected  # noqa: NPY002


def test_history_rows_the_backup_missed_are_dropped(tmp_path):
    # Killed after history.csv got epoch 2 but before the backup did: the
    # resumed run repeats epoch 2, so the row must go.
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_auc\n0,0.5,0.7\n1,0.4,0.8\n2,0.3,nan\n")
    history = run_history.truncate_history(path, 2)
    assert history == {"epoch": [0, 1], "loss": [0.5, 0.4], "val_auc": [0.7, 0.8]}
    assert run_history.read_history(path) == history
    assert run_history.truncate_history(path, 5) == history  # nothing to drop
    assert run_history.truncate_history(tmp_path / "missing.csv", 2) == {}
    assert not (tmp_path / "missing.csv").exists()


@pytest.mark.parametrize(
    "history, best",
    [
        ({"epoch": [0, 1, 2], "loss": [1, 1, 1], "val_auc": [0.7, 0.9, 0.9]}, (0.9, 1)),
        ({"epoch": [0, 1], "loss": [1, float("nan")], "val_auc": [0.7, 0.95]}, (0.7, 0)),
        ({"epoch": [0], "loss": [float("nan")], "val_auc": [0.9]}, None),
        ({}, None),
    ],
)
def test_best_epoch_is_the_first_highest_val_auc_with_a_finite_loss(history, best):
    found = run_history.best_epoch(history)
    assert (found if found is None else (found["value"], found["epoch"])) == best


def test_finished_run_is_never_overwritten(reference, tiny_data):
    before = (reference.out_dir / "best.keras").read_bytes()
    with pytest.raises(ValueError, match=r"finished run.*another folder"):
        train.train(TINY, tiny_data, reference.out_dir, verbose=0)
    with pytest.raises(ValueError, match="nothing to resume"):
        train.train(TINY, tiny_data, reference.out_dir, resume=True, verbose=0)
    assert (reference.out_dir / "best.keras").read_bytes() == before


def test_resume_without_backup_is_refused(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="no backup to resume from"):
        train.train(TINY, tiny_data, tmp_path / "empty", resume=True, verbose=0)
    assert not (tmp_path / "empty").exists()


def _unfinished_run(out_dir, profile, source="synthetic"):
    """The files a run killed after its first epoch leaves behind, made by hand."""
    (out_dir / "backup").mkdir(parents=True)
    (out_dir / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    saved = {"profile": profile.to_dict(), "data": {"source": source}}
    (out_dir / "config.json").write_text(json.dumps(saved))


def test_resume_with_another_profile_is_refused(tiny_data, tmp_path):
    _unfinished_run(tmp_path, dataclasses.replace(TINY, learning_rate=1e-4, epochs=9))
    with pytest.raises(ValueError, match=r"different profile.*epochs, learning_rate"):
        train.train(TINY, tiny_data, tmp_path, resume=True, verbose=0)


def test_resume_accepts_a_run_started_before_a_profile_field_existed(tiny_data, tmp_path):
    short = dataclasses.replace(TINY, epochs=2, steps_per_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        train.train(short, tiny_data, tmp_path, callbacks=[_Kill(0)], verbose=0)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["profile"]["first_cycle_epochs"]  # as written by an older version
    (tmp_path / "config.json").write_text(json.dumps(saved))
    resumed = train.train(short, tiny_data, tmp_path, resume=True, verbose=0)
    assert resumed.summary["resumed_from_epoch"] == 1
    assert resumed.history["epoch"] == [0, 1]


def test_contrast_sigma_builds_the_normalisation_into_the_saved_model(tiny_data, tmp_path):
    profile = dataclasses.replace(TINY, epochs=1, steps_per_epoch=1, contrast_sigma=2.0)
    result = train.train(profile, tiny_data, tmp_path / "run", verbose=0)
    saved = inference.load_model(tmp_path / "run" / "best.keras")
    assert saved.get_layer("local_contrast").sigma == 2.0
    assert result.model.get_layer("local_contrast").sigma == 2.0
    config_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config_json["profile"]["contrast_sigma"] == 2.0


def test_warm_restarts_continue_a_cosine_run_at_half_its_peak():
    restarts = dataclasses.replace(
        TINY,
        epochs=10,
        steps_per_epoch=10,
        learning_rate=2e-3,
        lr_schedule="cosine_restarts",
        first_cycle_epochs=4,
    )
    cosine = dataclasses.replace(restarts, epochs=4, lr_schedule="cosine", first_cycle_epochs=0)
    with_restarts = train.learning_rate_schedule(restarts)
    plain = train.learning_rate_schedule(cosine)
    first_cycle = [float(with_restarts(step)) for step in range(40)]
    np.testing.assert_allclose(first_cycle, [float(plain(step)) for step in range(40)], rtol=1e-5)
    # Second cycle: 1.5 times as long (60 steps), from half the peak down to 0.
    assert float(with_restarts(40)) == pytest.approx(1e-3)
    assert float(with_restarts(70)) == pytest.approx(5e-4)
    assert float(with_restarts(99)) < 1e-5
    assert train.patience(restarts) == 10 and train.patience(cosine) == train.PATIENCE


def test_resume_with_other_data_is_refused(tiny_data, tmp_path):
    _unfinished_run(tmp_path, TINY, source="drive")
    with pytest.raises(ValueError, match="trained on drive data, not synthetic"):
        train.train(TINY, tiny_data, tmp_path, resume=True, verbose=0)


class _Poison(keras.callbacks.Callback):
    """Makes the weights NaN before the second epoch, as an exploding step would."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            layer = self.model.get_layer("vessel_probability")
            layer.kernel.assign(np.full(layer.kernel.shape, np.nan, np.float32))


def test_nan_loss_stops_cleanly_and_keeps_best_keras(tiny_data, tmp_path, capsys):
    out_dir = tmp_path / "nan"
    result = train.train(TINY, tiny_data, out_dir, callbacks=[_Poison()], verbose=2)
    printed = capsys.readouterr().out
    summary = " ".join(printed[printed.rindex("Trained") :].split())  # the last, wrapped line
    assert "stopped: the loss became NaN; try a lower learning rate" in summary
    assert "-> nan/best.keras" in summary and str(tmp_path) not in summary
    assert result.summary["stopped_by"] == "nan_loss"
    assert result.summary["epochs_run"] == 2
    assert result.summary["best_epoch"] == 1
    assert np.isnan(result.history["loss"][1])
    for name in ("best.keras", "last.keras"):
        saved = keras.saving.load_model(out_dir / name, safe_mode=True)
        assert all(np.isfinite(w).all() for w in _weights(saved)), name
    assert all(np.isfinite(w).all() for w in _weights(result.model))
    assert json.loads((out_dir / "summary.json").read_text())["stopped_by"] == "nan_loss"


def test_training_beats_an_all_background_predictor(reference, tiny_data):
    test = tiny_data.test  # images the run never saw
    probabilities = np.asarray(reference.model.predict(test.images, verbose=0))[..., 0]
    # All background ranks nothing (AUC 0.5); untrained U-Nets score 0.4-0.72 here.
    auc = roc_auc_score(test.vessels[test.fov], probabilities[test.fov])
    assert auc > 0.85
    assert reference.summary["best_val_auc"] > 0.85
    assert reference.history["loss"][-1] < reference.history["loss"][0]


def test_float32_copy_of_a_mixed_precision_unet():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = unet.build_unet(base_filters=4, depth=2)
    finally:
        keras.config.set_dtype_policy(previous)
    copy = train.float32_copy(mixed)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    _assert_same_weights(_weights(copy), _weights(mixed))
    images = np.random.default_rng(0).random((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(copy(images)), np.asarray(mixed(images)), atol=2e-3)


def test_gpu_run_uses_mixed_precision_and_saves_float32(tiny_data, tmp_path, monkeypatch):
    # Pretend a GPU is present: the same code path runs on the CPU, slowly.
    monkeypatch.setattr(train, "_has_gpu", lambda: True)
    profile = dataclasses.replace(TINY, epochs=1, steps_per_epoch=1)
    result = train.train(profile, tiny_data, tmp_path / "gpu", verbose=0)
    assert result.summary["mixed_precision"] is True
    assert result.model.get_layer("down1_conv1").compute_dtype == "float16"
    assert type(result.model.optimizer).__name__ == "LossScaleOptimizer"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    saved = keras.saving.load_model(tmp_path / "gpu" / "best.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    _assert_same_weights(_weights(saved), _weights(result.model))


def test_batch_must_split_evenly_over_replicas(tiny_data, tmp_path):
    # A batch that does split (4 patches, 2 each) trains: test_mirrored_strategy_on_two_cpus.
    two_devices = types.SimpleNamespace(num_replicas_in_sync=2)
    odd = dataclasses.replace(TINY, batch_size=3)
    with pytest.raises(ValueError, match="batch_size 3 cannot be split evenly over 2"):
        train.train(odd, tiny_data, tmp_path / "run", strategy=two_devices, verbose=0)
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_summary_line_names_the_best_epoch(reference):
    line = train.summary_line(reference.summary, reference.out_dir)
    assert line.startswith("Trained 3 epochs (quick profile, synthetic data)")
    assert "best val_auc" in line and "best.keras" in line


def test_unknown_profile_name_is_refused(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="Unknown profile 'fast'"):
        train.train("fast", tiny_data, tmp_path / "run", verbose=0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"patch_size": 36}, "patch_size 36 is not a multiple of 8"),
        ({"loss": "focal"}, "Unknown loss 'focal'"),
        ({"lr_schedule": "step"}, "lr_schedule must be"),
        (
            {"lr_schedule": "cosine_restarts"},
            r"first_cycle_epochs must be a positive integer below",
        ),
        ({"lr_schedule": "cosine_restarts", "first_cycle_epochs": 3, "epochs": 3}, "below epochs"),
        ({"first_cycle_epochs": 2}, "only lr_schedule='cosine_restarts' uses it"),
        ({"transpose": "yes"}, "transpose must be True or False"),
        ({"contrast_sigma": -2.0}, "contrast_sigma must be a number >= 0"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"rotation": 200.0}, r"rotation must lie in \[0, 180\] degrees"),
        ({"zoom": 1.0}, r"zoom must lie in \[0, 1\)"),
    ],
)
def test_bad_profile_is_refused_before_writing(tiny_data, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        train.train(dataclasses.replace(TINY, **change), tiny_data, tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("split", ["train", "validation"])
def test_dataset_without_images_is_refused(tiny_data, tmp_path, split):
    empty = tiny_data.train.select(())
    dataset = dataclasses.replace(tiny_data, **{split: empty})
    with pytest.raises(ValueError, match=f"{split} split holds no images"):
        train.train(TINY, dataset, tmp_path / "run", verbose=0)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import dataclasses, sys
    import numpy as np
    import tensorflow as tf

    # Two logical CPUs must exist before TensorFlow first touches its devices.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    sys.path.insert(0, sys.argv[2])
    from test_train import TINY, _tiny_split
    from retina_tutorial import data, train

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    dataset = data.Dataset(
        _tiny_split(4, 1), _tiny_split(3, 2), _tiny_split(1, 3), "synthetic", "tiny"
    )
    # The wide preset's probabilities spread out within two steps; FovAUC
    # buckets them into 1000 thresholds, too coarse for outputs that barely moved.
    profile = dataclasses.replace(TINY, epochs=1, steps_per_epoch=2, preset="wide")
    result = train.train(profile, dataset, sys.argv[1], strategy=strategy, verbose=0)
    weights = result.model.get_weights()
    print("replicas", result.summary["replicas"])
    print("finite", all(np.isfinite(w).all() for w in weights))
    # val_auc pooled over the replicas (3 images + 1 blank) = AUC on one device.
    from sklearn.metrics import roc_auc_score
    validation = dataset.validation
    probabilities = result.model.predict(validation.images, verbose=0)[..., 0]
    exact = roc_auc_score(validation.vessels[validation.fov], probabilities[validation.fov])
    print("auc_gap", abs(exact - result.summary["best_val_auc"]) < 2e-3)
    """
)


def test_mirrored_strategy_on_two_cpus(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-W",
            "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
            # matplotlib < 3.10.8 under pyparsing 3.3, as in pyproject.toml
            "-W",
            "ignore:'parseString' deprecated:DeprecationWarning",
            "-W",
            "ignore:'resetCache' deprecated:DeprecationWarning",
            "-W",
            "ignore:'enablePackrat' deprecated:DeprecationWarning",
            str(script),
            str(tmp_path / "run"),
            os.path.dirname(__file__),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "replicas 2" in lines
    assert "finite True" in lines
    assert "auc_gap True" in lines
    assert (tmp_path / "run" / "best.keras").exists()


@pytest.mark.slow
def test_quick_profile_on_the_synthetic_set_beats_finding_nothing(synthetic_dataset, tmp_path):
    # The real quick profile, as the book and `retina-tutorial train` run it,
    # scored on the held-out synthetic test images.
    from retina_tutorial import inference

    result = train.train("quick", synthetic_dataset, tmp_path / "quick", verbose=0)
    test = synthetic_dataset.test
    probabilities = inference.predict(result.model, test.images)
    ours = metrics.pixel_metrics(probabilities, test.vessels, test.fov)
    nothing = metrics.pixel_metrics(np.zeros_like(probabilities), test.vessels, test.fov)
    assert nothing["f1"] == 0.0 and nothing["roc_auc"] == 0.5
    assert ours["roc_auc"] > 0.9 and ours["f1"] > 0.5
    assert ours["accuracy"] > nothing["accuracy"]


def test_checkpoints_leave_out_arguments_older_keras_does_not_know(reference):
    # Keras 3.15 writes input_axes/output_axes into every initializer, and
    # Keras 3.14 (the oldest the package accepts) refuses such a file.
    for name in ("best.keras", "last.keras"):
        with zipfile.ZipFile(reference.out_dir / name) as archive:
            config = archive.read("config.json").decode()
        assert '"input_axes"' not in config and '"output_axes"' not in config, name
        assert '"HeNormal"' in config  # the initializers themselves are still there
