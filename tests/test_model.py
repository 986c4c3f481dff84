"""Tests of retina_tutorial.model: shapes, sizes, presets, saving."""

import keras
import numpy as np
import pytest

from retina_tutorial import model as unet

COMPACT_PARAMS = 484_145
COMPACT_TRAINABLE = 482_737
WIDE_PARAMS = 1_929_825
WIDE_TRAINABLE = 1_927_009
ARTICLE_PARAMS = 31_031_745

# Keras 3 saving calls np.array() on TensorFlow variables, which NumPy 2 warns
# about; it is a TF/NumPy mismatch outside this package, harmless here.
SAVING_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


@pytest.fixture(scope="module")
def compact():
    return unet.build_unet()


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_compact_parameter_count_is_exact_and_well_under_two_million(compact):
    assert compact.count_params() == COMPACT_PARAMS
    assert _trainable(compact) == COMPACT_TRAINABLE
    assert compact.count_params() < 500_000


def test_wide_preset_is_the_shipped_models_size():
    wide = unet.build_unet(preset="wide")
    assert wide.count_params() == WIDE_PARAMS
    assert _trainable(wide) == WIDE_TRAINABLE
    assert unet.model_depth(wide) == 3


def test_article_preset_is_the_classic_unet():
    model = unet.build_unet((32, 32, 3), preset="article")
    assert model.count_params() == ARTICLE_PARAMS
    assert unet.model_depth(model) == 4
    assert unet.required_multiple(model) == 16
    assert model.output_shape == (None, 32, 32, 1)
    # The classic has no batch normalisation and 1024 maps at the bottom.
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert model.get_layer("bottleneck_conv2").filters == 1024
    assert model.name == "unet_article"


def test_compact_without_batch_norm_has_biases_instead():
    # Without batch norm each 3x3 convolution has a bias again: 704 biases
    # replace 2,816 normalisation weights (gamma, beta and two running stats).
    model = unet.build_unet(batch_norm=False)
    assert model.count_params() == 482_033
    assert model.count_params() == _trainable(model)


@pytest.mark.parametrize("size", [(8, 8), (64, 64), (40, 96), (16, 584 + 8)])
def test_compact_keeps_any_multiple_of_eight(compact, size):
    images = np.random.default_rng(0).random((1, *size, 3), dtype=np.float32)
    output = np.asarray(compact(images, training=False))
    assert output.shape == (1, *size, 1)
    assert output.dtype == np.float32
    assert np.all((output >= 0) & (output <= 1))


def test_article_runs_on_a_small_image():
    model = unet.build_unet(preset="article")
    output = np.asarray(model(np.zeros((2, 16, 48, 3), np.float32), training=False))
    assert output.shape == (2, 16, 48, 1)


@pytest.mark.parametrize(
    "preset, shape, multiple",
    [("compact", (100, 64, 3), 8), ("compact", (64, 12, 3), 8), ("article", (584, 565, 3), 16)],
)
def test_fixed_size_not_a_multiple_is_refused(preset, shape, multiple):
    bad = next(side for side in shape[:2] if side % multiple)
    with pytest.raises(ValueError, match=rf"{bad} is not a multiple of {multiple}"):
        unet.build_unet(shape, preset=preset)


def test_fixed_size_that_is_a_multiple_is_accepted():
    model = unet.build_unet((592, 576, 3), preset="article")
    assert model.output_shape == (None, 592, 576, 1)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"depth": 0}, "depth must be a positive integer"),
        ({"base_filters": 2.5}, "base_filters must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must lie in \[0, 1\)"),
        ({"input_shape": (64, 64)}, "input_shape must be"),
    ],
)
def test_bad_arguments_raise_value_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        unet.build_unet(**arguments)


@pytest.mark.parametrize("depth, multiple", [(1, 2), (2, 4), (3, 8), (5, 32)])
def test_depth_override_sets_pooling_skips_and_multiple(depth, multiple):
    model = unet.build_unet(preset="compact", depth=depth, base_filters=4)
    assert unet.model_depth(model) == depth
    assert unet.required_multiple(model) == multiple
    skips = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(skips) == depth
    # The deepest skip joins the first level's maps (4) with as many from below.
    assert model.get_layer("up1_skip").output.shape[-1] == 8


def test_explicit_arguments_override_the_preset():
    model = unet.build_unet(preset="article", base_filters=8, depth=2, dropout=0.0, name="tiny")
    assert model.name == "tiny"
    assert model.get_layer("down1_conv1").filters == 8
    assert model.get_layer("bottleneck_conv1").filters == 32
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


def test_output_stays_float32_under_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = unet.build_unet(base_filters=4, depth=2)
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.get_layer("down1_conv1").compute_dtype == "float16"
    assert model.output.dtype == "float32"


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_saved_model_loads_safely_and_predicts_the_same(tmp_path):
    # Dropout and batch norm both present: their saved state must round-trip.
    model = unet.build_unet(base_filters=4, depth=2, dropout=0.3)
    model.get_layer("down1_norm1").moving_mean.assign(np.full(4, 0.2, np.float32))
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    images = np.random.default_rng(1).random((2, 24, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(
        np.asarray(model(images, training=False)), np.asarray(loaded(images, training=False))
    )
    assert unet.model_depth(loaded) == 2
    assert unet.required_multiple(loaded) == 4
    assert loaded.count_params() == model.count_params()


def _normalise(images, sigma=2.0, epsilon=1e-4):
    return np.asarray(unet.LocalContrastNormalization(sigma, epsilon)(images))


def test_contrast_normalisation_flattens_uniform_and_shaded_backgrounds():
    # A flat image has nothing to normalise; a linear shading is its own local
    # mean away from the border, so both come out zero there.
    flat = np.full((1, 40, 40, 3), 0.6, np.float32)
    rows = np.linspace(0.1, 0.9, 40, dtype=np.float32)[None, :, None, None]
    shaded = np.broadcast_to(rows, (1, 40, 40, 3)).copy()
    inner = (slice(None), slice(12, 28), slice(12, 28))
    np.testing.assert_allclose(_normalise(flat)[inner], 0.0, atol=1e-5)
    np.testing.assert_allclose(_normalise(shaded)[inner], 0.0, atol=1e-4)


def test_contrast_normalisation_gives_faint_and_strong_vessels_the_same_contrast():
    # The same dark line, at 5 % and at 40 % contrast, on different backgrounds.
    def line(background, depth):
        image = np.full((1, 41, 41, 1), background, np.float32)
        image[0, :, 20, 0] -= depth
        return _normalise(image, epsilon=1e-8)[0, 20, :, 0]

    faint, strong = line(0.2, 0.01), line(0.8, 0.32)
    assert faint[20] < -2 and faint[10] == pytest.approx(faint[30], abs=1e-6)
    np.testing.assert_allclose(faint, strong, atol=1e-3)


def test_contrast_normalisation_reaches_exactly_two_cut_off_radii():
    layer = unet.LocalContrastNormalization(2.0)
    assert layer.radius == 6
    model = unet.build_unet(base_filters=4, depth=1, contrast_sigma=2.0)
    assert unet.contrast_radius(model) == 12
    # Changing one pixel changes the local spread, hence the output, up to
    # 12 pixels away (the Gaussian tails make the last rings tiny), and
    # nothing further.
    image = np.random.default_rng(0).random((1, 64, 64, 1), dtype=np.float32)
    changed = image.copy()
    changed[0, 32, 32, 0] += 0.5
    difference = np.abs(np.asarray(layer(changed)) - np.asarray(layer(image)))[0, :, :, 0]
    reached = np.argwhere(difference > 0)
    assert reached.min() == 32 - 12 and reached.max() == 32 + 12
    assert difference[32, 32 - 10] > 1e-6


def test_contrast_option_sees_the_image_twice_and_adds_only_first_layer_weights():
    plain = unet.build_unet(preset="wide")
    model = unet.build_unet(preset="wide", contrast_sigma=10.0)
    # Six input maps instead of three into the first 3 x 3 convolution of 32 filters.
    assert model.count_params() - plain.count_params() == 3 * 3 * 3 * 32
    assert model.get_layer("image_and_contrast").output.shape[-1] == 6
    assert model.input_shape == (None, None, None, 3)
    assert unet.contrast_radius(plain) == 0


@pytest.mark.parametrize("sigma", [-1.0, True, "10"])
def test_bad_contrast_sigma_is_refused(sigma):
    with pytest.raises(ValueError, match="contrast_sigma must be a number >= 0"):
        unet.build_unet(contrast_sigma=sigma)


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_model_with_contrast_normalisation_loads_safely_and_predicts_the_same(tmp_path):
    model = unet.build_unet(base_filters=4, depth=2, contrast_sigma=3.0)
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    images = np.random.default_rng(2).random((1, 32, 40, 3), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(model(images)), np.asarray(loaded(images)))
    assert loaded.get_layer("local_contrast").sigma == 3.0
    assert unet.contrast_radius(loaded) == 18


def test_a_seed_builds_the_same_weights_without_touching_the_process_random_state():
    import random

    random.seed(7)
    np.random.seed(7)  # noqa: NPY002
    expected = (random.random(), np.random.rand())  # noqa: NPY002
    random.seed(7)
    np.random.seed(7)  # noqa: NPY002
    first = unet.build_unet(base_filters=4, depth=2, dropout=0.5, seed=3)
    second = unet.build_unet(base_filters=4, depth=2, dropout=0.5, seed=3)
    other = unet.build_unet(base_filters=4, depth=2, dropout=0.5, seed=4)
    assert (random.random(), np.random.rand()) == expected  # noqa: NPY002
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    with pytest.raises(ValueError, match="seed"):
        unet.build_unet(seed=-1)


def test_a_built_model_records_the_scale_it_is_meant_for():
    from retina_tutorial import scale

    assert scale.recorded(unet.build_unet(base_filters=4, depth=2)) == scale.DRIVE
    chosen = unet.build_unet(base_filters=4, depth=2, training_scale=scale.Scale(100.0))
    assert scale.of_model(chosen) == scale.Scale(100.0)
