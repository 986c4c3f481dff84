"""Inference: padding, whole vs tiled prediction, TTA, model files, fundus files, FOV."""

import struct
import zipfile
import zlib

import keras
import numpy as np
import pytest
from PIL import Image

from retina_tutorial import data, grid, inference, model_files, scale
from retina_tutorial import model as unet


def _small_unet(depth=1):
    # Receptive field of a few pixels: tiles far enough apart must agree exactly.
    keras.utils.set_random_seed(0)
    return unet.build_unet(depth=depth, base_filters=4, batch_norm=False, dropout=0.0)


def _image(shape, seed=0):
    return np.random.default_rng(seed).random((*shape, 3)).astype(np.float32)


def _hand_built(channels=3, outputs=1):
    inputs = keras.Input((None, None, channels))
    features = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(outputs, 1, activation="sigmoid")(features))


@pytest.fixture(scope="module")
def small():
    model = _small_unet()
    # Trained, as it were, on photographs as small as these tests' (FOV 100 px).
    scale.attach(model, scale.Scale(100.0))
    return model


# --- padding -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 7), (584, 565), (1, 1), (16, 16), (17, 3)])
@pytest.mark.parametrize("multiple", [1, 2, 16])
def test_pad_then_crop_is_exact(shape, multiple):
    image = np.arange(np.prod(shape) * 3, dtype=np.float32).reshape(*shape, 3)
    padded, box = inference.pad_to_multiple(image, multiple)
    assert padded.shape[0] % multiple == 0 and padded.shape[1] % multiple == 0
    assert padded.shape[0] - shape[0] < multiple and padded.shape[1] - shape[1] < multiple
    np.testing.assert_array_equal(inference.crop(padded, box), image)
    # Centred: the top/left pad is the smaller half.
    assert box.top == (padded.shape[0] - shape[0]) // 2
    assert box.left == (padded.shape[1] - shape[1]) // 2


def test_padding_reflects_and_keeps_layout():
    row = np.array([[1.0, 2.0, 3.0]])
    padded, box = inference.pad_to_multiple(row, 6)
    assert box == (2, 1, 1, 3)
    # Reflected along the row; a single row can only be repeated up and down.
    np.testing.assert_array_equal(padded, np.tile([2.0, 1.0, 2.0, 3.0, 2.0, 1.0], (6, 1)))
    stack = np.zeros((4, 5, 7, 3))
    padded, box = inference.pad_to_multiple(stack, 4)
    assert padded.shape == (4, 8, 8, 3)
    assert inference.crop(padded, box).shape == stack.shape


@pytest.mark.parametrize("multiple", [0, -2, 2.0, True])
def test_pad_rejects_bad_multiple(multiple):
    with pytest.raises(ValueError, match="multiple"):
        inference.pad_to_multiple(np.zeros((4, 4, 3)), multiple)


# --- prediction ----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(37, 29), (32, 32), (1, 5)])
def test_predict_crops_back_exactly(small, shape):
    image = _image(shape)
    result = inference.predict(small, image)
    assert result.shape == shape and result.dtype == np.float32
    assert 0.0 <= result.min() and result.max() <= 1.0
    multiple = unet.required_multiple(small)
    padded, box = inference.pad_to_multiple(image, multiple)
    manual = keras.ops.convert_to_numpy(small(padded[None], training=False))[0, ..., 0]
    np.testing.assert_allclose(result, inference.crop(manual, box), atol=1e-6)


def test_stack_gives_the_same_as_one_by_one(small):
    stack = np.stack([_image((21, 18), seed) for seed in range(3)])
    together = inference.predict(small, stack, batch_size=2)
    assert together.shape == (3, 21, 18)
    for image, result in zip(stack, together):
        np.testing.assert_allclose(inference.predict(small, image), result, atol=1e-6)


def test_tta_averages_unflipped_flips(small):
    image = _image((24, 20))
    result = inference.predict(small, image, tta=True)
    assert result.shape == (24, 20) and 0.0 <= result.min() and result.max() <= 1.0
    flips = [
        np.flip(inference.predict(small, np.flip(image, axes)), axes)
        for axes in [(), (1,), (0,), (0, 1)]
    ]
    np.testing.assert_allclose(result, np.mean(flips, axis=0), atol=1e-6)
    # Averaging over the flips makes the prediction flip-equivariant.
    mirrored = inference.predict(small, image[:, ::-1], tta=True)
    np.testing.assert_allclose(mirrored[:, ::-1], result, atol=1e-6)


@pytest.mark.parametrize("tta", [False, True])
@pytest.mark.parametrize("tile_size, overlap", [(64, 40), (72, 48), (40, 0)])
def test_tiled_agrees_with_whole(small, tile_size, overlap, tta):
    image = _image((90, 77), seed=1)
    whole = inference.predict(small, image, tta=tta)
    tiled = inference.predict(
        small, image, tile_size=tile_size, overlap=overlap, tta=tta, batch_size=3
    )
    assert tiled.shape == whole.shape
    if overlap:
        # Zero padding at a tile edge reaches about 8 pixels into a depth-1 U-Net,
        # less than the discarded quarter of the overlap (>= 10 here), so tiles
        # agree with the whole image everywhere.
        np.testing.assert_allclose(tiled, whole, atol=1e-5)
    else:
        # Without overlap, tiles abut: pixels next to a tile edge see zero padding.
        assert not np.allclose(tiled, whole, atol=1e-5)
        np.testing.assert_allclose(tiled[:32, :32], whole[:32, :32], atol=1e-5)


def test_default_overlap_makes_tiles_exact_for_a_deep_model():
    # Depth 3: receptive field 100 pixels, so tile_overlap is 4 * 51.
    model = _small_unet(depth=3)
    assert inference.tile_overlap(model) == 204
    image = _image((300, 262), seed=2)
    whole = inference.predict(model, image)
    tiled = inference.predict(model, image, tile_size=256, batch_size=2)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_default_overlap_covers_the_reach_of_contrast_normalisation():
    # Depth 1 (receptive field 18) plus contrast normalisation that reaches
    # 2 * 9 pixels: the overlap grows from 4 * 10 to 4 * (10 + 18).
    keras.utils.set_random_seed(0)
    model = unet.build_unet(depth=1, base_filters=4, batch_norm=False, contrast_sigma=3.0)
    assert inference.tile_overlap(model) == 112
    image = _image((200, 170), seed=3)
    whole = inference.predict(model, image)
    tiled = inference.predict(model, image, tile_size=128, batch_size=2)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    # The U-Net's receptive field alone is not enough for this model.
    short = inference.predict(model, image, tile_size=128, overlap=40)
    assert not np.allclose(short, whole, atol=1e-4)


def test_a_small_overlap_is_close_and_seamless_but_not_exact():
    model = _small_unet(depth=3)
    image = _image((150, 130), seed=2)
    whole = inference.predict(model, image)
    tiled = inference.predict(model, image, tile_size=64, overlap=32)
    # The net sees farther than the discarded margin: close, not exact, no seams.
    assert np.abs(tiled - whole).mean() < 0.01 and not np.allclose(tiled, whole, atol=1e-4)
    jumps = np.abs(np.diff(tiled, axis=1))
    assert jumps.max() <= np.abs(np.diff(whole, axis=1)).max() + 0.02


def test_tiles_too_small_for_the_default_overlap_are_refused():
    with pytest.raises(ValueError, match=r"tile_size=64 is too small.*tile_size >= 212"):
        inference.predict(_small_unet(depth=3), _image((150, 130)), tile_size=64)


def test_every_pixel_is_covered_by_blending_weights():
    for length, tile, overlap, multiple in [(100, 32, 16, 2), (257, 64, 48, 16), (33, 32, 8, 1)]:
        ((tile, starts),) = grid.tile_layout((length,), (tile,), overlap, multiple)
        total = np.zeros(length)
        for start in starts:
            total[start : start + tile] += grid.tile_weights(start, tile, length, overlap)
        assert total.min() > 0, (length, tile, overlap)


def test_large_images_are_tiled_automatically(monkeypatch):
    # The model records every batch predict gives it: predict_on_batch is
    # what inference asks of a model (see onnx_model.OnnxModel).
    model, calls = _small_unet(), []
    whole = model.predict_on_batch
    monkeypatch.setattr(
        model, "predict_on_batch", lambda batch: calls.append(batch.shape) or whole(batch)
    )
    monkeypatch.setattr(inference, "AUTO_TILE_PIXELS", 40 * 40)
    monkeypatch.setattr(inference, "DEFAULT_TILE_SIZE", 32)
    result = inference.predict(model, _image((50, 45)), overlap=8)
    assert result.shape == (50, 45)
    assert calls == [(1, 32, 32, 3)] * 4
    rows, columns = inference.tile_grid((50, 45), model, tile_size=32, overlap=8)
    assert len(rows) * len(columns) == len(calls)  # the tiles tile_grid says predict cuts


def test_fundus_camera_size_image(small):
    # 3504 x 2336, as from a modern fundus camera: predicted in tiles, bounded memory.
    image = np.full((2336, 3504, 3), 0.5, dtype=np.float32)
    image[1000:1010] = 0.1
    result = inference.predict(small, image)
    assert result.shape == (2336, 3504)
    # A constant region gives the same prediction on every cell of the pooling
    # grid (2 pixels): no seams where tiles meet.
    for row, column in [(500, 100), (500, 101), (1501, 100)]:
        np.testing.assert_allclose(result[row, column:3400:2], result[row, column], atol=1e-5)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((8, 8)), r"\(H, W, 3\)"),
        (np.zeros((8, 8, 4), np.float32), "3 colour channels"),
        (np.zeros((8, 8, 1), np.float32), "3 colour channels"),
        (np.zeros((8, 8, 3), np.uint8), "Divide 8-bit"),
        (np.full((8, 8, 3), 255.0, np.float32), r"\[0, 1\]"),
        (np.full((8, 8, 3), np.nan, np.float32), r"\[0, 1\]"),
        (np.zeros((0, 8, 3), np.float32), "empty"),
    ],
    ids=["grey", "rgba", "one-channel", "uint8", "0-255", "nan", "empty"],
)
def test_predict_rejects_bad_images(small, image, message):
    with pytest.raises(ValueError, match=message):
        inference.predict(small, image)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"tile_size": 0}, "tile_size"),
        ({"tile_size": 32, "overlap": 31}, "overlap"),
        ({"tile_size": 32, "overlap": -1}, "overlap"),
    ],
)
def test_predict_rejects_bad_arguments(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        inference.predict(small, _image((40, 40)), **kwargs)


# --- model files ---------------------------------------------------------------


# Keras 3.15 itself calls np.array(variable, copy=False) while saving, which
# numpy 2 flags as deprecated; nothing in our code can avoid it.
SAVING_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_saved_model_loads_and_predicts_the_same(small, tmp_path):
    path = tmp_path / "model.keras"
    small.save(path)
    loaded = inference.load_model(path)
    image = _image((20, 22))
    np.testing.assert_allclose(
        inference.predict(loaded, image), inference.predict(small, image), atol=1e-6
    )


def _not_a_model(tmp_path, kind):
    path = tmp_path / "model.keras"
    if kind == "text":
        path.write_text("these are not the weights you are looking for\n")
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    elif kind == "broken-config":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{not json")
            archive.writestr("metadata.json", "{}")
    elif kind == "folder":
        path.mkdir()
    elif kind == "h5":
        path = tmp_path / "model.h5"
        path.write_bytes(b"\x89HDF\r\n\x1a\n")
    elif kind == "missing":
        pass
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no such model file"),
        ("text", "not a Keras model"),
        ("zip", "not a Keras model"),
        ("broken-config", "could not be loaded"),
        ("folder", "is a folder"),
        ("h5", "expected a .keras file"),
    ],
)
def test_load_model_explains_bad_files(tmp_path, kind, message):
    path = _not_a_model(tmp_path, kind)
    with pytest.raises(inference.ModelFileError, match=message) as error:
        inference.load_model(path)
    assert str(path) in str(error.value)


@pytest.mark.filterwarnings(SAVING_WARNING)
@pytest.mark.parametrize(
    "channels, outputs, message", [(1, 1, "1 channel"), (4, 1, "4 channel"), (3, 2, "outputs")]
)
def test_load_model_refuses_models_for_other_images(tmp_path, channels, outputs, message):
    path = tmp_path / "other.keras"
    _hand_built(channels, outputs).save(path)
    with pytest.raises(inference.ModelFileError, match=message):
        inference.load_model(path)


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_load_model_runs_no_code_from_the_file(tmp_path):
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Lambda(lambda x: x[..., :1])(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(inference.ModelFileError, match="could not be loaded"):
        inference.load_model(path)


# --- fundus files --------------------------------------------------------------


def test_read_fundus_rgb_and_rgba(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    rgba = np.dstack([pixels, np.full((9, 7), 17, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(pixels).convert("P").save(tmp_path / "palette.png")
    expected = pixels.astype(np.float32) / 255
    for name in ("rgb.png", "rgba.png"):
        image = inference.read_fundus(tmp_path / name)
        assert image.shape == (9, 7, 3) and image.dtype == np.float32
        np.testing.assert_allclose(image, expected)
    assert inference.read_fundus(tmp_path / "palette.png").shape == (9, 7, 3)


def _write_png_16_bit(path, pixels):
    """A 48-bit (16 bits per channel) RGB PNG, which Pillow cannot write itself."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[i].astype(">u2").tobytes() for i in range(height))

    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_read_fundus_16_bit_colour_is_scaled(tmp_path):
    pixels = np.array([[[0, 32768, 65535], [1000, 20000, 65280]]], dtype=np.uint16)
    _write_png_16_bit(tmp_path / "wide.png", pixels)
    image = inference.read_fundus(tmp_path / "wide.png")
    assert image.shape == (1, 2, 3) and image.dtype == np.float32
    # Pillow keeps the top 8 bits of each channel: within 1/255 of value / 65535.
    np.testing.assert_allclose(image, pixels / 65535, atol=1 / 255)


@pytest.mark.parametrize("mode", ["L", "I;16", "1"])
def test_read_fundus_refuses_greyscale(tmp_path, mode):
    path = tmp_path / "grey.png"
    grey = np.zeros((6, 5), dtype=np.uint16 if mode == "I;16" else np.uint8)
    Image.fromarray(grey).convert(mode).save(path)
    with pytest.raises(ValueError, match="greyscale"):
        inference.read_fundus(path)


def test_read_fundus_bad_files(tmp_path):
    with pytest.raises(ValueError, match="no such image"):
        inference.read_fundus(tmp_path / "absent.png")
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot be read"):
        inference.read_fundus(tmp_path / "fake.png")


def test_predict_file_writes_three_pngs(small, tmp_path):
    image, _disc = _disc_image()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "eye.png")
    # A threshold chosen by evaluate is a NumPy float: accepted as a number.
    written = inference.predict_file(
        small, tmp_path / "eye.png", tmp_path / "out", threshold=np.float32(0.5)
    )
    assert [p.name for p in written] == ["eye_probability.png", "eye_vessels.png", "eye_fov.png"]
    with (
        Image.open(written[0]) as probability,
        Image.open(written[1]) as vessels,
        Image.open(written[2]) as fov,
    ):
        # Pillow 10 reads a 16-bit grey PNG as mode 'I', newer ones as 'I;16'.
        assert probability.mode in ("I;16", "I") and probability.size == (110, 120)
        assert written[0].read_bytes()[24] == 16  # the PNG header's bit depth
        levels, binary, mask = np.asarray(probability), np.asarray(vessels), np.asarray(fov) > 0
    assert not levels[~mask].any() and not binary[~mask].any()
    expected = inference.predict(small, inference.read_fundus(tmp_path / "eye.png"))
    np.testing.assert_allclose(levels[mask] / 65535, expected[mask], atol=1 / 65535)
    np.testing.assert_array_equal(binary[mask] == 255, expected[mask] >= 0.5)


def test_predict_file_uses_a_given_fov_and_checks_its_size(small, tmp_path):
    image, _ = _disc_image()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "eye.png")
    square = np.zeros((120, 110), np.uint8)
    square[10:50, 10:50] = 255
    Image.fromarray(square).save(tmp_path / "mask.png")
    written = inference.predict_file(
        small, tmp_path / "eye.png", tmp_path, fov_path=tmp_path / "mask.png"
    )
    with Image.open(written[2]) as fov:
        np.testing.assert_array_equal(np.asarray(fov), square)
    Image.fromarray(square[:-1]).save(tmp_path / "small_mask.png")
    with pytest.raises(ValueError, match="does not match"):
        inference.predict_file(
            small, tmp_path / "eye.png", tmp_path, fov_path=tmp_path / "small_mask.png"
        )
    with pytest.raises(ValueError, match="threshold"):
        inference.predict_file(small, tmp_path / "eye.png", tmp_path, threshold=2.0)


# --- field of view -------------------------------------------------------------


def _disc_image(shape=(120, 110)):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    disc = (rows - 60) ** 2 + (cols - 55) ** 2 <= 50**2
    image = np.zeros((*shape, 3), np.float32)
    image[disc] = (0.7, 0.35, 0.15)
    image[55:65, 50:60] = (0.02, 0.01, 0.0)  # a dark hole inside (a lesion)
    image[2:4, 2:4] = (0.9, 0.9, 0.9)  # a speck outside (a label)
    return image, disc


def test_estimate_fov_on_a_drawn_disc():
    image, disc = _disc_image()
    fov = inference.estimate_fov(image)
    assert fov.dtype == bool and fov.shape == disc.shape
    assert not fov[2:4, 2:4].any(), "the speck outside is not retina"
    assert fov[55:65, 50:60].all(), "the dark hole inside is filled"
    dice = 2 * (fov & disc).sum() / (fov.sum() + disc.sum())
    assert dice > 0.99


def test_estimate_fov_refuses_dark_images():
    with pytest.raises(ValueError, match="dark"):
        inference.estimate_fov(np.zeros((10, 10, 3), np.float32))


@pytest.mark.drive
def test_estimate_fov_agrees_with_drive_masks(drive_dataset):
    dice, accuracy = [], []
    for split in (drive_dataset.train, drive_dataset.validation, drive_dataset.test):
        for image, official in zip(split.images, split.fov):
            estimated = inference.estimate_fov(image)
            dice.append(2 * (estimated & official).sum() / (estimated.sum() + official.sum()))
            accuracy.append((estimated == official).mean())
    # Measured: Dice mean 0.9980 (min 0.9945), accuracy mean 0.9972 (min 0.9924).
    assert np.mean(dice) >= 0.995 and min(dice) >= 0.98
    assert np.mean(accuracy) >= 0.99


# --- prediction at the model's scale -------------------------------------------


def _photograph(diameter, frame=None):
    """A bright disc of the given diameter on black, with a few dark 'vessels'."""
    height, width = frame or (diameter + 20, diameter + 20)
    rows, cols = np.indices((height, width))
    disc = (rows - (height - 1) / 2) ** 2 + (cols - (width - 1) / 2) ** 2 <= (diameter / 2) ** 2
    image = np.where(disc[..., None], np.float32([0.7, 0.35, 0.15]), np.float32(0))
    image[:, :: max(2, diameter // 12)] *= 0.5
    return image.astype(np.float32), disc


def test_a_photograph_at_twice_the_scale_is_halved_predicted_and_restored(small):
    photo, _disc = _photograph(200)  # the model's scale is 100 px across the FOV
    result = inference.predict_photograph(small, photo)
    assert result.factor == pytest.approx(0.5, rel=0.02)
    assert result.photo_scale.fov_diameter == pytest.approx(200, abs=2)
    assert (
        result.probabilities.shape == photo.shape[:2] and result.probabilities.dtype == np.float32
    )
    assert not result.probabilities[~result.fov].any()
    by_hand = scale.resize_image(
        inference.predict(
            small, scale.resize_image(photo, scale.resized_shape(photo.shape, result.factor))
        ),
        photo.shape[:2],
    )
    np.testing.assert_allclose(result.probabilities, np.where(result.fov, by_hand, 0), atol=1e-6)
    assert "resized by 0.50" in result.describe()


def test_a_photograph_at_the_models_scale_is_not_resampled(small):
    photo, disc = _photograph(103)  # within 5 %: exactly what predict gives
    result = inference.predict_photograph(small, photo, fov=disc)
    assert result.factor == 1.0
    np.testing.assert_array_equal(
        result.probabilities, np.where(disc, inference.predict(small, photo), 0)
    )


def test_native_size_keeps_todays_behaviour(small):
    photo, disc = _photograph(200)
    result = inference.predict_photograph(small, photo, fov=disc, native_size=True)
    assert result.factor == 1.0 and result.photo_scale is None
    np.testing.assert_array_equal(
        result.probabilities, np.where(disc, inference.predict(small, photo), 0)
    )


def test_the_field_angle_and_an_explicit_diameter_set_the_factor(small):
    photo, _disc = _photograph(200)
    assert inference.predict_photograph(small, photo, field_degrees=30).factor == pytest.approx(
        1 / 3, rel=0.02
    )
    assert inference.predict_photograph(small, photo, fov_diameter=400).factor == pytest.approx(
        0.25
    )


@pytest.mark.filterwarnings(SAVING_WARNING)
def test_a_model_is_rescaled_to_its_own_training_scale_which_travels_in_its_file(small, tmp_path):
    path = model_files.save(small, tmp_path / "small.keras")
    assert model_files.read_info(path)["training_scale"]["fov_diameter"] == 100.0
    loaded = inference.load_model(path)
    assert scale.of_model(loaded) == scale.Scale(100.0)
    photo, _ = _photograph(200)
    assert inference.predict_photograph(loaded, photo).factor == pytest.approx(0.5, rel=0.02)
    # The same network saved by plain Keras has no scale: DRIVE's, with a warning.
    small.save(tmp_path / "plain.keras")
    plain = inference.load_model(tmp_path / "plain.keras")
    assert scale.recorded(plain) is None
    with pytest.warns(UserWarning, match=r"records no training scale.*DRIVE's \(FOV 539"):
        assert scale.of_model(plain) == scale.DRIVE


def test_predict_split_at_factor_one_is_exactly_predict(small):
    images = np.stack([_photograph(100)[0], _photograph(100)[0][::-1]])
    fov = images[..., 0] > 0.05
    split = data.Split(images, np.zeros_like(fov), fov, ("a", "b"))
    probabilities, factors = inference.predict_split(small, split, 45.0)
    assert factors == [1.0, 1.0]
    np.testing.assert_array_equal(probabilities, inference.predict(small, images))
    # A data set that states its scale is not measured: the same, exactly.
    stated, _ = inference.predict_split(small, split, 45.0, stated=scale.Scale(100.0))
    np.testing.assert_array_equal(stated, probabilities)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"fov_diameter": 0}, "FOV diameter must be a positive number"),
        ({"fov_diameter": 20}, "would need enlarging 5.0x"),
        ({"field_degrees": -1}, "field angle must lie in"),
        ({"fov": np.ones((5, 5), bool)}, "give the FOV mask of this photograph"),
    ],
)
def test_bad_scale_input_gets_a_clear_message(small, bad, message):
    photo, _ = _photograph(100)
    with pytest.raises(ValueError, match=message):
        inference.predict_photograph(small, photo, **bad)


def test_a_photograph_without_a_field_of_view_is_refused(small, tmp_path):
    Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(tmp_path / "dark.png")
    with pytest.raises(ValueError, match=r"dark\.png: image is uniformly dark"):
        inference.predict_file(small, tmp_path / "dark.png", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_large_photographs_fov_is_found_on_a_reduced_copy():
    photo, disc = _photograph(2100, frame=(2200, 2600))
    fov = inference.estimate_fov(photo)
    assert fov.shape == disc.shape
    assert 2 * (fov & disc).sum() / (fov.sum() + disc.sum()) > 0.995
    assert scale.fov_diameter(fov) == pytest.approx(2100, rel=0.005)
