"""Model files every supported Keras reads: written portable, read tolerantly, never changed."""

import json
import zipfile

import keras
import numpy as np
import pytest

from retina_tutorial import inference, model_files, pretrained
from retina_tutorial import model as unet

pytestmark = pytest.mark.filterwarnings(
    # Keras 3 saving calls np.array() on TF variables; NumPy 2 warns. Not ours.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _config(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _member(path, name) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def _with_initializer_argument(source, target, name, value):
    """A copy of ``source`` whose HeNormal initializers carry one more argument."""
    config = _config(source)

    def add(node):
        if isinstance(node, dict):
            if node.get("class_name") == "HeNormal":
                node["config"][name] = value
            for child in node.values():
                add(child)
        elif isinstance(node, list):
            for child in node:
                add(child)

    add(config)
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as copy:
        for member in archive.infolist():
            content = (
                json.dumps(config).encode()
                if member.filename == "config.json"
                else archive.read(member)
            )
            copy.writestr(member, content)
    return target


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return unet.build_unet(depth=1, base_filters=4)


@pytest.fixture
def saved(small_model, tmp_path):
    return model_files.save(small_model, tmp_path / "small.keras")


def test_saved_file_has_no_newer_arguments_and_the_same_predictions(small_model, saved):
    text = json.dumps(_config(saved))
    assert '"HeNormal"' in text and '"input_axes"' not in text and '"output_axes"' not in text
    loaded = keras.saving.load_model(saved, safe_mode=True, compile=False)
    image = np.random.default_rng(1).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(small_model(image)))


def test_make_portable_drops_only_unset_newer_arguments_and_keeps_the_weights(saved, tmp_path):
    newer = _with_initializer_argument(saved, tmp_path / "newer.keras", "input_axes", None)
    weights = _member(newer, "model.weights.h5")
    initializers = json.dumps(_config(newer)).count('"HeNormal"')
    assert model_files.make_portable(newer) == initializers > 0
    assert "input_axes" not in json.dumps(_config(newer))
    assert _member(newer, "model.weights.h5") == weights
    assert model_files.make_portable(newer) == 0  # already portable: untouched


def test_an_argument_this_keras_does_not_know_is_left_out_when_unset(saved, tmp_path):
    # What a file from a newer Keras looks like to an older one.
    newer = _with_initializer_argument(saved, tmp_path / "newer.keras", "future_axes", None)
    with pytest.raises(Exception, match="future_axes"):
        keras.saving.load_model(newer, safe_mode=True, compile=False)
    before = newer.read_bytes()
    model = model_files.load(newer)
    assert model.count_params() == keras.saving.load_model(saved, compile=False).count_params()
    assert newer.read_bytes() == before  # the file itself is never changed


def test_an_argument_this_keras_cannot_honour_names_the_file_and_the_upgrade(saved, tmp_path):
    newer = _with_initializer_argument(saved, tmp_path / "newer.keras", "future_axes", [0, 1])
    with pytest.raises(inference.ModelFileError) as error:
        inference.load_model(newer)
    message = str(error.value)
    assert str(newer) in message and "future_axes" in message
    assert f"keras>={keras.__version__}" in message and "restart" in message


def test_save_replaces_a_file_in_one_step_and_leaves_no_temporary(small_model, tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"an older model")
    model_files.save(small_model, target)
    assert zipfile.is_zipfile(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_a_failed_save_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"an older model")

    class Broken:
        def save(self, path):
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        model_files.save(Broken(), target)
    assert target.read_bytes() == b"an older model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_the_shipped_model_is_written_for_the_oldest_supported_keras():
    text = json.dumps(_config(pretrained.MODEL_FILE))
    assert '"input_axes"' not in text and '"output_axes"' not in text
    assert model_files.keras_version_of(pretrained.MODEL_FILE) == "3.15.1"
