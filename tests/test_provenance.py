"""A model's training images travel in its file, and evaluate refuses test images it has seen."""

import dataclasses

import pytest

from retina_tutorial import (
    config,
    data,
    evaluate,
    model_files,
    pretrained,
    provenance,
    stand_in,
    train,
)

# Keras saving a TensorFlow variable (Keras' issue, as in test_cli.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
ONE_STEP = dataclasses.replace(config.get_profile("quick"), epochs=1, steps_per_epoch=1)


def _as_drive(dataset):
    """The synthetic set under DRIVE's name: the same ids, the keys DRIVE's images have."""
    return dataclasses.replace(dataset, source="drive", description="DRIVE (test stand-in)")


@pytest.mark.skipif(not pretrained.available(), reason="this installation ships no model")
def test_the_shipped_model_knows_it_learned_from_drives_training_images(synthetic_dataset):
    record = provenance.of_model(pretrained.load())
    assert record["trained_on"] == [f"DRIVE {n}" for n in range(21, 38)]
    assert record["validated_on"] == ["DRIVE 38", "DRIVE 39", "DRIVE 40"]
    provenance.check_unseen(pretrained.load(), _as_drive(synthetic_dataset))  # 01-20: unseen
    with pytest.raises(provenance.SeenImagesError, match="trained on 17 images"):
        provenance.check_unseen(pretrained.load(), _as_drive(synthetic_dataset), "train")


def test_a_model_tuned_on_a_stand_in_of_test_images_is_refused_there(synthetic_dataset, tmp_path):
    drive = _as_drive(synthetic_dataset)
    # The older stand-in: all twenty made from the test images.
    folder = stand_in.write_stare(drive.test, tmp_path / "STARE", made_from="DRIVE")
    own = data.load_dataset(folder, verbose=False)
    run = train.train(ONE_STEP, own, tmp_path / "run", verbose=0)
    saved = model_files.load(tmp_path / "run" / "best.keras")  # the record is in the file
    assert "DRIVE 01" in provenance.of_model(saved)["trained_on"]
    assert "DRIVE 09" in provenance.of_model(saved)["validated_on"]
    with pytest.raises(provenance.SeenImagesError, match=r"trained on 8 images \(DRIVE 01,"):
        evaluate.evaluate_model(saved, drive)
    provenance.check_unseen(run.model, own)  # its own test images it never saw
    # Fine-tuning carries the record of the model it started from.
    again = train.train(ONE_STEP, drive, tmp_path / "again", init=saved, verbose=0)
    assert "STARE stand-in im0001" in provenance.of_model(again.model)["trained_on"]


def test_the_stand_in_the_book_uses_never_trains_on_test_images(
    synthetic_dataset, tmp_path, monkeypatch
):
    monkeypatch.delenv(config.OWN_DATA_VARIABLE, raising=False)  # CI sets it to CHASE_DB1
    drive = _as_drive(synthetic_dataset)
    own = data.load_own_dataset(None, stand_in_from=drive, folder=tmp_path / "STARE")
    run = train.train(ONE_STEP, own, tmp_path / "run", verbose=0)
    record = provenance.of_model(run.model)
    assert not any(key in record["trained_on"] for key in provenance.image_keys(drive, "test"))
    provenance.check_unseen(run.model, drive)
    assert provenance.describe(record) == (
        "trained on 8 DRIVE images, 8 STARE stand-in images; "
        "validated on 2 DRIVE images, 2 STARE stand-in images"
    )


def test_a_model_without_a_record_is_described_as_unknown():
    assert provenance.of_model(object()) is None
    assert provenance.describe(None).startswith("unknown")
    record = provenance.after_training(object(), _Named())
    assert provenance.UNKNOWN_INIT in record["trained_on"]
    assert "the unrecorded images" in provenance.describe(record)


class _Named:
    """The least a data set needs for a record: a name, splits with ids."""

    name = "X"
    made_from = None
    train = validation = type("S", (), {"ids": ("1",)})()


def test_own_data_is_a_setting_with_a_clear_error(monkeypatch, tmp_path, synthetic_dataset):
    monkeypatch.setenv(config.OWN_DATA_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(data.DataError, match="RETINA_TUTORIAL_OWN_DATA: nothing at"):
        data.load_own_dataset(stand_in_from=synthetic_dataset, folder=tmp_path / "s")
