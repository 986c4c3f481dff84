"""Tests of retina_tutorial.losses: only FOV pixels count, known values."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from retina_tutorial import losses

LOSS_NAMES = ["bce", "dice", "bce_dice"]
SAVING_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


def _targets(vessel, fov):
    """(H, W) masks -> (1, H, W, 2) float32 targets."""
    return np.stack([vessel, fov], axis=-1)[None].astype(np.float32)


def _pred(probabilities):
    """(H, W) -> (1, H, W, 1) float32."""
    return np.asarray(probabilities, np.float32)[None, ..., None]


# A 2 x 3 image: the right column lies outside the FOV.
VESSEL = np.array([[1, 0, 1], [0, 1, 0]])
FOV = np.array([[1, 1, 0], [1, 1, 0]])
PROBABILITIES = np.array([[0.8, 0.1, 0.3], [0.4, 0.6, 0.9]])


def test_unstack_targets_returns_vessel_and_fov_channels():
    vessel, fov = losses.unstack_targets(_targets(VESSEL, FOV))
    assert tuple(vessel.shape) == (1, 2, 3, 1)
    np.testing.assert_array_equal(np.asarray(vessel)[0, ..., 0], VESSEL)
    np.testing.assert_array_equal(np.asarray(fov)[0, ..., 0], FOV)


def test_unstack_targets_refuses_a_bare_vessel_mask():
    with pytest.raises(ValueError, match="2 channels"):
        losses.unstack_targets(np.zeros((1, 4, 4, 1), np.float32))


def test_bce_equals_the_hand_computed_mean_over_fov_pixels():
    # FOV pixels: (v=1, p=.8), (v=0, p=.1), (v=0, p=.4), (v=1, p=.6).
    expected = -(math.log(0.8) + math.log(0.9) + math.log(0.6) + math.log(0.6)) / 4
    value = float(losses.masked_bce(_targets(VESSEL, FOV), _pred(PROBABILITIES)))
    assert value == pytest.approx(expected, rel=1e-6)


def test_bce_pools_pixels_over_the_batch_not_images():
    # Image 1 has 1 FOV pixel, image 2 has 3: a mean of image means would differ.
    vessel = np.zeros((2, 1, 3))
    fov = np.array([[[1, 0, 0]], [[1, 1, 1]]])
    probabilities = np.array([[[0.5, 0.5, 0.5]], [[0.1, 0.1, 0.1]]])
    y_true = np.stack([vessel, fov], -1).astype(np.float32)
    value = float(losses.masked_bce(y_true, probabilities[..., None].astype(np.float32)))
    assert value == pytest.approx(-(math.log(0.5) + 3 * math.log(0.9)) / 4, rel=1e-6)


def test_dice_loss_equals_the_hand_computed_value():
    # Inside the FOV: sum(p*y) = .8 + .6, sum(p) = 1.9, sum(y) = 2.
    dice = (2 * 1.4 + 1) / (1.9 + 2 + 1)
    value = float(losses.masked_dice_loss(_targets(VESSEL, FOV), _pred(PROBABILITIES)))
    assert value == pytest.approx(1 - dice, rel=1e-6)


def test_bce_dice_is_the_sum_of_both():
    y_true, y_pred = _targets(VESSEL, FOV), _pred(PROBABILITIES)
    total = float(losses.masked_bce_dice(y_true, y_pred))
    bce = float(losses.masked_bce(y_true, y_pred))
    parts = bce + float(losses.masked_dice_loss(y_true, y_pred))
    assert total == pytest.approx(parts, rel=1e-6)


@pytest.mark.parametrize("name", LOSS_NAMES)
@pytest.mark.parametrize("outside", [0.0, 1.0, 0.5, np.nan])
def test_pixels_outside_the_fov_never_matter(name, outside):
    loss = losses.get_loss(name)
    y_pred = PROBABILITIES.copy()
    reference = float(loss(_targets(VESSEL, FOV), _pred(y_pred)))
    y_pred[FOV == 0] = outside
    vessel = VESSEL.copy()
    vessel[FOV == 0] = 1 - vessel[FOV == 0]
    changed = float(loss(_targets(vessel, FOV), _pred(y_pred)))
    assert changed == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradient_outside_the_fov_is_zero(name):
    y_pred = tf.Variable(_pred(PROBABILITIES))
    with tf.GradientTape() as tape:
        value = losses.get_loss(name)(_targets(VESSEL, FOV), y_pred)
    gradient = tape.gradient(value, y_pred).numpy()[0, ..., 0]
    assert np.all(gradient[FOV == 0] == 0)
    assert np.all(gradient[FOV == 1] != 0)


def test_perfect_prediction_has_zero_dice_loss_and_near_zero_bce():
    y_true = _targets(VESSEL, FOV)
    perfect = _pred(VESSEL)
    assert float(losses.masked_dice_loss(y_true, perfect)) == 0.0
    # log(1 - 1e-7) per pixel: the clipping keeps it finite.
    assert 0 < float(losses.masked_bce(y_true, perfect)) < 1e-6


def test_all_background_prediction_has_dice_loss_near_one():
    y_true = _targets(VESSEL, FOV)
    value = float(losses.masked_dice_loss(y_true, _pred(np.zeros((2, 3)))))
    assert value == pytest.approx(1 - 1 / (2 + 1))


def test_a_batch_without_fov_pixels_gives_finite_losses():
    y_true = _targets(VESSEL, np.zeros_like(FOV))
    assert float(losses.masked_bce(y_true, _pred(PROBABILITIES))) == 0.0
    assert float(losses.masked_dice_loss(y_true, _pred(PROBABILITIES))) == 0.0


@pytest.mark.parametrize(
    "name, function",
    [
        ("bce", losses.masked_bce),
        ("dice", losses.masked_dice_loss),
        ("bce_dice", losses.masked_bce_dice),
    ],
)
def test_get_loss_returns_the_named_function(name, function):
    assert losses.get_loss(name) is function


@pytest.mark.parametrize("name", ["BCE", "focal", "", None])
def test_get_loss_refuses_unknown_names(name):
    with pytest.raises(ValueError, match=r"Unknown loss .*choose one of 'bce', 'dice', 'bce_dice'"):
        losses.get_loss(name)


def _random_stack(seed=0, shape=(3, 20, 24)):
    rng = np.random.default_rng(seed)
    vessel = rng.random(shape) < 0.3
    fov = np.zeros(shape, bool)
    fov[:, 2:-2, 3:-3] = True
    # Probabilities that rank vessels higher, but imperfectly.
    probabilities = np.clip(0.35 * vessel + 0.65 * rng.random(shape), 0, 1)
    return vessel, fov, probabilities.astype(np.float32)


def test_fov_auc_matches_sklearn_on_fov_pixels():
    vessel, fov, probabilities = _random_stack()
    # Outside the FOV: vessels predicted as certain background, which would
    # pull an unmasked AUC down a lot.
    vessel[~fov] = True
    probabilities[~fov] = 0.0
    metric = losses.FovAUC()
    y_true = np.stack([vessel, fov], -1).astype(np.float32)
    metric.update_state(y_true[:2], probabilities[:2, ..., None])
    metric.update_state(y_true[2:], probabilities[2:, ..., None])
    expected = roc_auc_score(vessel[fov], probabilities[fov])
    assert 0.7 < expected < 0.95
    assert float(metric.result()) == pytest.approx(expected, abs=1e-3)
    unmasked = keras.metrics.AUC(num_thresholds=1000)
    unmasked.update_state(vessel[..., None], probabilities[..., None])
    assert float(unmasked.result()) < expected - 0.05


def test_fov_auc_defaults():
    metric = losses.FovAUC()
    assert metric.name == "auc"
    assert metric.num_thresholds == 1000
    assert isinstance(metric, keras.metrics.AUC)


def test_fov_dice_is_thresholded_and_pooled_over_batches():
    metric = losses.FovDice()
    assert metric.name == "dice"
    # FOV pixels, probabilities .8 .1 .4 .6 -> called 1 0 0 1; truth 1 0 0 1.
    metric.update_state(_targets(VESSEL, FOV), _pred(PROBABILITIES))
    assert float(metric.result()) == 1.0
    # Second batch: 2 true vessels, 1 found, 1 false alarm, 0.5 is "vessel".
    metric.update_state(_targets([[1, 1, 0]], [[1, 1, 1]]), _pred([[0.5, 0.49, 0.7]]))
    # Pooled: overlap 2 + 1, predicted 2 + 2, actual 2 + 2 -> 6 / 8.
    assert float(metric.result()) == pytest.approx(0.75)
    metric.reset_state()
    metric.update_state(_targets([[0, 0]], [[1, 1]]), _pred([[0.1, 0.2]]))
    assert float(metric.result()) == 1.0  # nothing to find, nothing found


def test_fov_dice_ignores_pixels_outside_the_fov():
    metric = losses.FovDice()
    y_pred = PROBABILITIES.copy()
    y_pred[FOV == 0] = 1.0
    metric.update_state(_targets(1 - VESSEL * FOV, FOV), _pred(y_pred))
    # Inside: truth 0 1 1 0, called 1 0 0 1 -> no overlap.
    assert float(metric.result()) == 0.0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_losses_and_metrics_serialize(name):
    loss = losses.get_loss(name)
    config = keras.saving.serialize_keras_object(loss)
    assert keras.saving.deserialize_keras_object(config) is loss
    for metric in (losses.FovAUC(num_thresholds=50), losses.FovDice(threshold=0.3)):
        config = keras.saving.serialize_keras_object(metric)
        restored = keras.saving.deserialize_keras_object(config)
        assert type(restored) is type(metric)
        assert restored.get_config() == metric.get_config()


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_compiled_model_round_trips_with_safe_mode(tmp_path):
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="adam", loss=losses.masked_bce_dice, metrics=[losses.FovAUC(), losses.FovDice()]
    )
    rng = np.random.default_rng(0)
    images = rng.random((2, 8, 8, 3), dtype=np.float32)
    y_true = _targets(rng.random((8, 8)) < 0.3, np.ones((8, 8))).repeat(2, axis=0)
    model.fit(images, y_true, epochs=1, verbose=0)  # as train.py saves: after a step
    expected = model.evaluate(images, y_true, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    result = loaded.evaluate(images, y_true, verbose=0, return_dict=True)
    assert set(result) == {"loss", "auc", "dice"}
    for key in result:
        assert result[key] == pytest.approx(expected[key], rel=1e-6)
