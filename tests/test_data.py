"""DRIVE loader: the real data when present, and every bad input on tiny files."""

import zipfile

import numpy as np
import pytest
from fake_drive import SHAPE
from fake_drive import write_image as _write_image
from PIL import Image

from retina_tutorial import config, data, datasets, drive


def _zip_folder(folder, archive_path, prefix="DRIVE/"):
    with zipfile.ZipFile(archive_path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, prefix + file.relative_to(folder).as_posix())
    return archive_path


@pytest.mark.drive
def test_real_drive_counts(drive_dataset):
    assert drive_dataset.source == "drive"
    assert (len(drive_dataset.train), len(drive_dataset.validation), len(drive_dataset.test)) == (
        17,
        3,
        20,
    )
    for split in (drive_dataset.train, drive_dataset.validation, drive_dataset.test):
        assert split.images.shape[1:] == (584, 565, 3)
        assert split.images.dtype == np.float32
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        assert split.vessels.dtype == bool and split.fov.dtype == bool
    assert int(drive_dataset.test.fov.sum()) == 4_538_143
    assert drive_dataset.test.vessels_2nd.shape == (20, 584, 565)
    assert drive_dataset.test.vessels_2nd.any(axis=(1, 2)).all()
    assert drive_dataset.validation.ids == data.VALIDATION_IDS
    assert not set(drive_dataset.train.ids) & set(data.VALIDATION_IDS)


def test_fake_layout_loads(fake_drive):
    dataset = data.load_drive(fake_drive)
    assert (len(dataset.train), len(dataset.validation), len(dataset.test)) == (17, 3, 20)
    assert dataset.train.images.shape == (17, *SHAPE, 3)
    assert dataset.test.vessels_2nd.dtype == bool
    assert dataset.train.vessels_2nd is None
    assert dataset.validation.ids == ("38", "39", "40")


def test_parent_folder_is_accepted(fake_drive):
    assert len(data.load_drive(fake_drive.parent).test) == 20


def test_zip_gives_the_same_arrays_as_the_folder(fake_drive, tmp_path):
    archive = _zip_folder(fake_drive, tmp_path / "DRIVE.zip")
    from_zip, from_folder = data.load_drive(archive), data.load_drive(fake_drive)
    np.testing.assert_array_equal(from_zip.test.images, from_folder.test.images)
    np.testing.assert_array_equal(from_zip.train.vessels, from_folder.train.vessels)
    assert from_zip.description.endswith("'DRIVE.zip'")


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "DRIVE/../../evil.txt"])
def test_zip_with_escaping_path_is_refused(fake_drive, tmp_path, member):
    archive = _zip_folder(fake_drive, tmp_path / "DRIVE.zip")
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr(member, "x")
    with pytest.raises(data.DataError, match="outside the archive"):
        data.load_drive(archive)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_zip_member_too_large_is_refused(fake_drive, tmp_path, monkeypatch):
    archive = _zip_folder(fake_drive, tmp_path / "DRIVE.zip")
    monkeypatch.setattr(drive, "MAX_MEMBER_BYTES", 100)
    with pytest.raises(data.DataError, match=r"claims .* bytes"):
        data.load_drive(archive)


def test_zip_without_drive_inside(tmp_path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("readme.txt", "hello")
    with pytest.raises(data.DataError, match="no training/images/"):
        data.load_drive(archive)


def test_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(data.DataError, match=f"DRIVE not found.*{config.DATA_VARIABLE}"):
        data.load_drive(tmp_path / "nowhere")


def test_wrong_layout(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(data.DataError, match="does not look like DRIVE"):
        data.load_drive(tmp_path)


def test_not_a_zip_file(tmp_path):
    file = tmp_path / "DRIVE.tar"
    file.write_text("not a zip")
    with pytest.raises(data.DataError, match="neither a folder nor a zip"):
        data.load_drive(file)


def test_missing_file_is_named(fake_drive):
    (fake_drive / "test/2nd_manual/07_manual2.gif").unlink()
    with pytest.raises(data.DataError, match=r"07_manual2.gif is missing"):
        data.load_drive(fake_drive)


def test_corrupt_image_is_named(fake_drive):
    (fake_drive / "training/images/25_training.tif").write_bytes(b"garbage" * 10)
    with pytest.raises(data.DataError, match=r"25_training.tif: cannot be read"):
        data.load_drive(fake_drive)


def test_truncated_image_is_named(fake_drive):
    file = fake_drive / "test/images/03_test.tif"
    file.write_bytes(file.read_bytes()[:200])
    with pytest.raises(data.DataError, match=r"03_test.tif: cannot be read.*corrupt or truncated"):
        data.load_drive(fake_drive)


def test_mask_with_wrong_shape(fake_drive):
    _write_image(fake_drive / "training/mask/30_training_mask.gif", "P", shape=(5, 5))
    with pytest.raises(data.DataError, match=r"30_training_mask.gif: shape .* does not match"):
        data.load_drive(fake_drive)


def test_annotation_with_many_grey_levels(fake_drive):
    noisy = np.arange(SHAPE[0] * SHAPE[1], dtype=np.uint8).reshape(SHAPE)
    Image.fromarray(noisy).save(fake_drive / "test/1st_manual/05_manual1.gif")
    with pytest.raises(data.DataError, match=r"05_manual1.gif: expected a binary mask"):
        data.load_drive(fake_drive)


def test_greyscale_image_is_refused(fake_drive):
    _write_image(fake_drive / "test/images/04_test.tif", "L")
    with pytest.raises(data.DataError, match=r"04_test.tif: expected an RGB"):
        data.load_drive(fake_drive)


@pytest.mark.parametrize(
    "mode, levels",
    [("1", (0, 255)), ("L", (0, 255)), ("L", (0, 1)), ("P", (0, 255)), ("RGB", None)],
)
def test_binary_masks_in_any_mode(tmp_path, mode, levels):
    truth = np.zeros(SHAPE, dtype=bool)
    truth[3:7, 2:5] = True
    if mode == "RGB":
        pixels = np.zeros((*SHAPE, 3), np.uint8)
        pixels[truth] = (255, 255, 255)
        image = Image.fromarray(pixels)
    else:
        image = Image.fromarray(np.where(truth, levels[1], levels[0]).astype(np.uint8))
        image = image.convert(mode) if mode != "L" else image
    file = tmp_path / "mask.png"
    image.save(file)
    np.testing.assert_array_equal(data.read_binary(file, "mask.png", SHAPE), truth)


def test_configured_but_wrong_location_is_an_error_not_a_silent_switch(monkeypatch, tmp_path):
    monkeypatch.setenv(config.DATA_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(data.DataError, match="DRIVE not found"):
        data.load_dataset(verbose=False)


def test_load_dataset_says_which_data(fake_drive, capsys):
    data.load_dataset(fake_drive)
    # Wrapped at 76 columns for the book page; unwrapped it is the one line.
    printed = " ".join(capsys.readouterr().out.split())
    assert printed == "Data: DRIVE from the folder 'DRIVE'"  # its name, not its path


def test_select_keeps_order(fake_drive):
    dataset = data.load_drive(fake_drive)
    subset = dataset.test.select(("05", "01"))
    assert subset.ids == ("05", "01")
    np.testing.assert_array_equal(subset.images[1], dataset.test.images[0])


def test_truncated_zip_is_named(fake_drive, tmp_path):
    archive = _zip_folder(fake_drive, tmp_path / "DRIVE.zip")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(data.DataError, match=r"DRIVE\.zip cannot be opened as a zip.*truncated"):
        data.load_drive(archive)


def test_damaged_zip_member_is_named(fake_drive, tmp_path):
    archive = _zip_folder(fake_drive, tmp_path / "DRIVE.zip")
    with zipfile.ZipFile(archive) as handle:
        info = handle.getinfo(next(n for n in handle.namelist() if n.endswith("22_training.tif")))
    content = bytearray(archive.read_bytes())
    # The member's data starts after its 30-byte local header, name and extra field.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    content[start + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(content))
    with pytest.raises(
        data.DataError, match=r"22_training\.tif cannot be unpacked.*Download DRIVE\.zip"
    ):
        data.load_drive(archive)


def test_image_of_another_size_is_named(fake_drive):
    _write_image(fake_drive / "training/images/25_training.tif", "RGB", shape=(6, 6))
    with pytest.raises(
        data.DataError,
        match=r"25_training\.tif: size \(6, 6\) differs from training/images/21_training\.tif",
    ):
        data.load_drive(fake_drive)


def test_eight_bit_pixels_give_exactly_the_float_image(tmp_path):
    # All 256 levels in each channel: as_float must give read_rgb's float32, bit for bit.
    levels = np.arange(256, dtype=np.uint8)
    pixels = np.stack([levels, levels[::-1], np.roll(levels, 7)], axis=-1).reshape(16, 16, 3)
    file = tmp_path / "photo.png"
    Image.fromarray(pixels).save(file)
    eight_bit = data.read_rgb(file, "photo.png", eight_bit=True)
    assert eight_bit.dtype == np.uint8
    np.testing.assert_array_equal(eight_bit, pixels)
    as_float = datasets.as_float(eight_bit)
    expected = data.read_rgb(file, "photo.png")
    assert as_float.dtype == expected.dtype == np.float32
    assert np.array_equal(as_float.view(np.uint32), expected.view(np.uint32))


def test_a_stack_of_eight_bit_images_stays_eight_bit_and_a_mixed_one_is_float():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    large = rng.integers(0, 256, (6, 3, 3), dtype=np.uint8)
    masks = [np.ones(image.shape[:2], bool) for image in (small, large)]
    parts = [
        datasets.one_image(image, m, m, str(i))
        for i, (image, m) in enumerate(zip((small, large), masks))
    ]
    stacked = datasets.stack(parts)
    assert stacked.images.dtype == np.uint8 and stacked.images.shape == (2, 6, 5, 3)
    np.testing.assert_array_equal(stacked.image(1).images[0], large)
    mixed = datasets.stack(
        [parts[0], datasets.one_image(datasets.as_float(large), *masks[1:] * 2, "1")]
    )
    assert mixed.images.dtype == np.float32
    np.testing.assert_array_equal(mixed.image(0).images[0], datasets.as_float(small))


@pytest.mark.parametrize("levels, expected", [((0, 200), None), ((90,), False), ((200,), True)])
def test_a_mask_of_one_or_two_levels_is_read(tmp_path, levels, expected):
    truth = np.zeros(SHAPE, bool)
    truth[3:7, 2:5] = len(levels) == 2
    file = tmp_path / "mask.png"
    Image.fromarray(np.where(truth, levels[-1], levels[0]).astype(np.uint8)).save(file)
    read = data.read_binary(file, "mask.png", SHAPE)
    np.testing.assert_array_equal(read, truth if expected is None else np.full(SHAPE, expected))


def test_a_mask_of_three_levels_is_refused_naming_them(tmp_path):
    grey = np.zeros(SHAPE, np.uint8)
    grey[1, 1], grey[2, 2] = 128, 255
    file = tmp_path / "mask.png"
    Image.fromarray(grey).save(file)
    with pytest.raises(data.DataError, match=r"mask.png: expected a binary mask .* found 3 grey"):
        data.read_binary(file, "mask.png", SHAPE)


def test_load_dataset_keeps_only_the_splits_asked_for(fake_drive):
    dataset = data.load_dataset(fake_drive, splits=("validation", "test"), verbose=False)
    whole = data.load_dataset(fake_drive, verbose=False)
    assert len(dataset.train) == 0 and dataset.test.ids == whole.test.ids
    np.testing.assert_array_equal(dataset.validation.images, whole.validation.images)
