"""STARE, CHASE_DB1, HRF and own data (CSV): read as distributed, then every stage on each."""

import dataclasses
import json
import subprocess
import sys
import zipfile

import fake_public_sets as fakes
import numpy as np
import pytest
from PIL import Image

from retina_tutorial import (
    cache,
    cli,
    config,
    data,
    datasets,
    evaluate,
    inference,
    public_sets,
    scale,
    train,
)
from retina_tutorial.report import write_report

pytestmark = pytest.mark.filterwarnings(
    # Keras 3 saving calls np.array() on TF variables; NumPy 2 warns. Not ours.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

TINY = dataclasses.replace(
    config.get_profile("quick"), steps_per_epoch=2, epochs=2, patch_size=32, batch_size=4
)
EXPECTED = {
    # kind: (train, validation, test, FOV estimated, field angle, first test id)
    "stare": (8, 2, 10, True, 35.0, "im0162"),
    "chase_db1": (18, 2, 8, True, 30.0, "11L"),
    "hrf": (12, 3, 30, False, 45.0, "06_h"),
    "csv": (1, 1, 2, True, 45.0, "eye3"),
}


@pytest.fixture(scope="module")
def fake_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    return {
        "stare": fakes.make_stare(root / "STARE"),
        "chase_db1": fakes.make_chase_db1(root / "CHASEDB1.zip"),
        "hrf": fakes.make_hrf(root / "HRF"),
        "csv": fakes.make_csv(root / "own"),
    }


@pytest.fixture(scope="module")
def loaded(fake_sets):
    return {kind: data.load_dataset(path, verbose=False) for kind, path in fake_sets.items()}


@pytest.mark.parametrize("kind", EXPECTED)
def test_each_layout_is_recognised_and_split_as_the_literature_does(loaded, fake_sets, kind):
    dataset = loaded[kind]
    train_count, validation_count, test_count, estimated, field, first = EXPECTED[kind]
    assert public_sets.detect(fake_sets[kind]) == kind
    assert dataset.source == kind
    assert (len(dataset.train), len(dataset.validation), len(dataset.test)) == (
        train_count,
        validation_count,
        test_count,
    )
    assert dataset.fov_estimated is estimated and dataset.field_degrees == field
    assert dataset.test.ids[0] == first
    # A wrong guess is impossible to miss: the printed line names all of it.
    name = datasets.display_name(kind).split(" ")[0]
    assert dataset.description.startswith(name)
    assert ("estimated" if estimated else "given") in dataset.description
    assert "split" in dataset.description and f"{field:g}° field" in dataset.description


def test_stare_reads_gzipped_ppm_in_tars_and_thresholds_its_noisy_labels(loaded):
    split = loaded["stare"].test
    photo, vessels, _ = fakes.fundus("im0162", (302, 350), 325)
    np.testing.assert_array_equal(split.vessels[0], vessels)
    assert split.vessels_2nd is not None
    np.testing.assert_allclose(split.images[0], photo / 255, atol=1e-6)


def test_stare_and_chase_fov_is_estimated_and_measures_the_cut_circle(loaded):
    fov = loaded["stare"].test.fov[0]
    _, _, truth = fakes.fundus("im0162", (302, 350), 325)
    assert 2 * (fov & truth).sum() / (fov.sum() + truth.sum()) > 0.98
    assert scale.fov_diameter(fov) == pytest.approx(325, abs=4)  # wider than the frame is high


def test_hrf_finds_mixed_case_extensions_and_reads_three_channel_masks(loaded, fake_sets):
    assert (fake_sets["hrf"] / "images" / "06_dr.JPG").exists()
    split = loaded["hrf"].test
    _, vessels, fov = fakes.fundus("06_dr", (292, 438), 407)
    index = split.ids.index("06_dr")
    np.testing.assert_array_equal(split.fov[index], fov)
    np.testing.assert_array_equal(split.vessels[index], vessels)


def test_csv_keeps_each_image_at_its_own_size(loaded):
    test = loaded["csv"].test
    assert test.shapes == ((310, 330), (280, 280))
    one = test.image(1)
    assert one.images.shape == (1, 280, 280, 3)
    assert not test.fov[1, 280:].any() and not test.images[1, :, 280:].any()


def test_unknown_layout_says_what_was_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(data.DataError, match=r"none of the data sets.*--dataset"):
        data.load_dataset(tmp_path, verbose=False)


def test_a_missing_member_names_it(tmp_path):
    archive = fakes.make_chase_db1(tmp_path / "CHASEDB1.zip")
    smaller = tmp_path / "smaller.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(smaller, "w") as target:
        for info in source.infolist():
            if info.filename != "Image_12R_2ndHO.png":
                target.writestr(info, source.read(info))
    with pytest.raises(data.DataError, match=r"Image_12R_2ndHO\.png is missing"):
        data.load_dataset(smaller, kind="chase_db1", verbose=False)


# --- own data: every row checked ---------------------------------------------


def _csv_with(tmp_path, row):
    csv_file = fakes.make_csv(tmp_path / "own")
    lines = csv_file.read_text().splitlines()
    csv_file.write_text("\n".join([*lines, row]) + "\n")
    return csv_file


@pytest.mark.parametrize(
    "row, message",
    [
        ("photos/absent.png,labels/eye1.png,,test", r"row 7: .*absent\.png is missing"),
        ("../outside.png,labels/eye1.png,,test", r"row 7: \.\./outside\.png points outside"),
        ("photos/eye1.png,labels/eye2.png,,test", r"does not match its image"),
        ("photos/eye1.png,photos/eye1.png,,test", r"row 7: .*eye1\.png: expected a binary mask"),
        ("photos/eye1.png,labels/eye1.png,,later", r"row 7: split 'later'"),
    ],
)
def test_a_bad_csv_row_is_named_with_its_file(tmp_path, row, message):
    with pytest.raises(data.DataError, match=message):
        data.load_dataset(_csv_with(tmp_path, row), verbose=False)


def test_csv_field_angle_is_read_once(tmp_path):
    csv_file = fakes.make_csv(tmp_path / "own", field_degrees=30)
    assert data.load_dataset(csv_file, verbose=False).field_degrees == 30.0


# --- every stage on every data set ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", EXPECTED)
def test_prepare_train_evaluate_predict(fake_sets, loaded, kind, tmp_path):
    dataset = loaded[kind]
    cached, status = cache.prepare(tmp_path / "cache.h5", fake_sets[kind], verbose=False)
    assert status == "written" and cached.source == kind
    assert cached.test.shapes == dataset.test.shapes
    np.testing.assert_array_equal(cached.test.fov, dataset.test.fov)
    assert cached.field_degrees == dataset.field_degrees

    run = train.train(TINY, dataset, tmp_path / "run", verbose=0)
    trained_at = scale.of_model(run.model).pixels_per_degree
    assert trained_at == pytest.approx(scale.DRIVE.pixels_per_degree, rel=0.06)
    config_json = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config_json["data"]["source"] == kind

    model = inference.load_model(tmp_path / "run" / "best.keras")
    report = evaluate.evaluate_model(model, dataset)
    assert 0.0 <= report.test_at_threshold["roc_auc"] <= 1.0
    assert report.resize_factors != [1.0]  # another camera: resized to the model's scale
    assert kind in report.protocol and (report.second_observer is not None) == (
        dataset.test.vessels_2nd is not None
    )
    write_report(report, tmp_path / "eval")
    first = dataset.test.ids[0]
    with Image.open(tmp_path / "eval" / "probabilities" / f"{first}_test.png") as png:
        assert png.size[::-1] == dataset.test.shape_of(0)  # native size
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["data"]["field_degrees"] == dataset.field_degrees

    photo = tmp_path / "photo.png"
    Image.fromarray(np.round(dataset.test.image(0).images[0] * 255).astype(np.uint8)).save(photo)
    written = inference.predict_file(
        model, photo, tmp_path / "pred", field_degrees=dataset.field_degrees
    )
    with Image.open(written[0]) as probability:
        assert float(probability.text["resize_factor"]) != 1.0


def test_the_cli_names_the_data_set_it_chose(fake_sets, tmp_path, capsys):
    arguments = ["prepare", "--data", str(fake_sets["chase_db1"]), "--out", str(tmp_path / "c.h5")]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr().out
    assert "Data: CHASE_DB1 from" in printed and "8 test images" in printed
    wrong = ["prepare", "--data", str(fake_sets["chase_db1"]), "--dataset", "hrf", "--out", "x.h5"]
    assert cli.main(wrong) == 2
    assert "01_h.jpg is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_fine_tuning_starts_from_the_given_weights_and_loads_with_plain_keras(loaded, tmp_path):
    dataset = loaded["chase_db1"]
    start = train.train(TINY, dataset, tmp_path / "start", verbose=0)
    tuned_profile = dataclasses.replace(TINY, epochs=1, steps_per_epoch=1, learning_rate=1e-9)
    start_file = tmp_path / "start" / "best.keras"
    tuned = train.train(tuned_profile, dataset, tmp_path / "tuned", init=start_file, verbose=0)
    # A learning rate of 1e-9 barely moves the trainable weights: the run began
    # from them (batch normalisation's moving statistics move regardless).
    for before, after in zip(start.model.trainable_weights, tuned.model.trainable_weights):
        np.testing.assert_allclose(np.asarray(after), np.asarray(before), atol=1e-4)
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["init"].endswith(
        "best.keras"
    )
    script = (
        "import keras, retina_tutorial.model_files, sys\n"
        "for safe in (True, False):\n"
        "    keras.saving.load_model(sys.argv[1], safe_mode=safe)\n"
        "print('loaded')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "tuned" / "best.keras")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr[-2000:]


def test_init_of_another_architecture_is_refused(loaded, tmp_path):
    with pytest.raises(ValueError, match=r"does not have the architecture.*'finetune'"):
        train.train(TINY, loaded["chase_db1"], tmp_path / "run", init="pretrained", verbose=0)
    assert not (tmp_path / "run").exists()


def test_the_stand_in_is_a_narrower_camera_in_stares_layout(synthetic_dataset, tmp_path):
    from retina_tutorial import stand_in

    folder = stand_in.write_stare(synthetic_dataset, tmp_path / "STARE")
    assert sorted(p.name for p in folder.iterdir()) == [
        public_sets.STAND_IN_FILE,
        "labels-ah.tar",
        "labels-vk.tar",
        "stare-images.tar",
    ]
    own = data.load_dataset(folder, verbose=False)
    assert own.source == "stare_stand_in" and own.test.images.shape[1:3] == stand_in.STARE_FRAME
    # What reads it says what it is, never plain "STARE".
    assert own.name == "STARE stand-in"
    assert own.description.startswith(
        "stand-in for STARE made from synthetic images (its training images from training "
        "images 21-30, its test images from test images 11-20; not STARE); "
    )
    # Each image knows what it was made from; no training image is a test image.
    assert own.made_from["im0001"] == ("synthetic 21",)
    assert own.made_from["im0324"] == ("synthetic 20",)
    assert own.train.vessels_2nd is None and own.test.vessels_2nd is not None
    (folder / public_sets.STAND_IN_FILE).unlink()  # without the marker: read as STARE
    assert data.load_dataset(folder, verbose=False).source == "stare"
    photo = scale.Scale(scale.fov_diameter(own.test.fov[0]), own.field_degrees)
    assert photo.fov_diameter == pytest.approx(stand_in.STARE_FOV_WIDTH, abs=6)
    fov = own.test.fov[0]
    assert fov[0].any() and fov[-1].any() and not fov[0, 0]  # the frame cuts the circle
    # The central 35° of a 45° photograph, at STARE's width: DRIVE's scale again.
    assert scale.resize_factor(photo, scale.DRIVE) == pytest.approx(12 / 18.5, rel=0.03)
    assert own.test.ids[0] == "im0162" and own.test.vessels_2nd is not None
    with pytest.raises(ValueError, match="needs 20 images"):
        stand_in.write_stare(synthetic_dataset.validation, tmp_path / "other")


def test_a_stand_in_made_from_test_images_says_so(synthetic_dataset, tmp_path):
    from retina_tutorial import provenance, stand_in

    folder = stand_in.write_stare(synthetic_dataset.test, tmp_path / "STARE", made_from="synthetic")
    own = data.load_dataset(folder, verbose=False)
    assert "its training images from test images 01-10" in own.description
    assert provenance.image_keys(own, "train") >= {"synthetic 01", "synthetic 08"}


def test_csv_keeps_a_patient_in_one_split_and_reads_a_second_annotation(tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = ["image,vessels,vessels_2nd,split,patient"]
    for index, (split, patient) in enumerate(
        [("train", "a"), ("train", "a"), ("train", "b"), ("train", "c"), ("train", "c"),
         ("test", "d"), ("test", "d")]
    ):  # fmt: skip
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(folder / f"{index}.png")
        for name in (f"{index}_v.png", f"{index}_w.png"):
            Image.fromarray((rng.random((40, 40)) > 0.8).astype(np.uint8) * 255).save(folder / name)
        rows.append(f"{index}.png,{index}_v.png,{index}_w.png,{split},{patient}")
    (folder / "own.csv").write_text("\n".join(rows) + "\n")
    fov = np.ones((40, 40), bool)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(public_sets, "_estimated_fov", lambda image, shown: fov)
        own = public_sets.load_csv(folder / "own.csv")
        assert own.test.vessels_2nd is not None and own.test.vessels_2nd.shape == (2, 40, 40)
        # No validation rows: patient c's two images validate, together.
        assert own.validation.ids == ("3", "4") and own.train.ids == ("0", "1", "2")
        (folder / "own.csv").write_text("\n".join([*rows[:-1], "6.png,6_v.png,,test,a"]) + "\n")
        with pytest.raises(data.DataError, match=r"row 8: patient 'a' is in test, but row 2"):
            public_sets.load_csv(folder / "own.csv")


@pytest.mark.parametrize("kind", EXPECTED)
def test_evaluation_reads_only_validation_and_test_in_eight_bits(loaded, fake_sets, kind):
    whole = loaded[kind]
    dataset = data.load_dataset(
        fake_sets[kind], splits=("validation", "test"), eight_bit=True, verbose=False
    )
    assert len(dataset.train) == 0
    for name in ("validation", "test"):
        part, expected = getattr(dataset, name), getattr(whole, name)
        assert part.ids == expected.ids and part.images.dtype == np.uint8
        # The model sees the very float32 values a full load gives.
        assert np.array_equal(datasets.as_float(part.images), expected.images)
        np.testing.assert_array_equal(part.vessels, expected.vessels)
        np.testing.assert_array_equal(part.fov, expected.fov)


def test_training_rows_left_out_are_checked_but_not_read(tmp_path):
    csv_file = fakes.make_csv(tmp_path / "own")
    lines = csv_file.read_text().splitlines()
    lines[3] = lines[3].replace(",train", ",validation")  # eye2 validates
    (tmp_path / "own" / "photos" / "eye1.png").write_bytes(b"not a picture")
    csv_file.write_text("\n".join(lines) + "\n")
    dataset = data.load_dataset(csv_file, splits=("validation", "test"), verbose=False)
    assert len(dataset.train) == 0 and dataset.validation.ids == ("eye2",)
    with pytest.raises(data.DataError, match=r"row 3: .*eye1\.png: cannot be read"):
        data.load_dataset(csv_file, verbose=False)
    (tmp_path / "own" / "photos" / "eye1.png").unlink()
    with pytest.raises(data.DataError, match=r"row 3: .*eye1\.png is missing"):
        data.load_dataset(csv_file, splits=("validation", "test"), verbose=False)
