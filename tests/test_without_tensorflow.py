"""Prediction with an ONNX file where neither TensorFlow nor Keras is installed.

Runs in `make test-without-tensorflow`: an environment made from
``pip install -e ".[onnx]"`` alone, given the shipped model exported by the
full environment (``RETINA_TUTORIAL_ONNX_MODEL``). In an environment with
TensorFlow the whole file skips, saying why: what it checks is its absence.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODEL_VARIABLE = "RETINA_TUTORIAL_ONNX_MODEL"

if importlib.util.find_spec("tensorflow") or importlib.util.find_spec("keras"):
    pytest.skip(
        "TensorFlow or Keras is installed here; `make test-without-tensorflow` runs this "
        "file in an environment without them",
        allow_module_level=True,
    )
if not os.environ.get(MODEL_VARIABLE):
    pytest.skip(
        f"{MODEL_VARIABLE} is unset: `make test-without-tensorflow` exports the shipped "
        "model and names the file",
        allow_module_level=True,
    )

from retina_tutorial import inference, onnx_model, scale  # noqa: E402
from retina_tutorial.synthetic import make_fundus  # noqa: E402


@pytest.fixture(scope="module")
def model_file():
    path = Path(os.environ[MODEL_VARIABLE])
    assert path.is_file(), f"{MODEL_VARIABLE}={path}: no such file"
    return path


def test_neither_tensorflow_nor_keras_can_be_imported():
    for name in ("tensorflow", "keras"):
        with pytest.raises(ImportError):
            __import__(name)


def test_predict_photograph_runs_on_onnx_runtime(model_file):
    model = inference.load_model(model_file)
    assert isinstance(model, onnx_model.OnnxModel)
    assert scale.of_model(model) == scale.DRIVE  # read from the file's metadata
    image, vessels, _, fov = make_fundus(0)
    prediction = inference.predict_photograph(model, image)
    inside = prediction.fov & fov
    assert prediction.factor == 1.0  # drawn at DRIVE's scale
    probabilities = prediction.probabilities[inside]
    truth = vessels[inside]
    # The shipped model finds the drawn vessels: they score far above the background.
    assert probabilities[truth].mean() > probabilities[~truth].mean() + 0.3
    assert "keras" not in sys.modules and "tensorflow" not in sys.modules


def test_the_command_line_predicts_with_the_onnx_file(model_file, tmp_path):
    photograph = tmp_path / "eye.png"
    Image.fromarray(np.round(make_fundus(1)[0] * 255).astype(np.uint8)).save(photograph)
    command = [sys.executable, "-m", "retina_tutorial.cli", "predict", str(photograph)]
    done = subprocess.run(
        [*command, "--model", str(model_file), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["eye_fov.png", "eye_probability.png", "eye_vessels.png"]


def test_a_keras_file_names_the_extra_to_install(tmp_path):
    command = [sys.executable, "-m", "retina_tutorial.cli", "predict", "eye.png"]
    done = subprocess.run(
        [*command, "--model", "pretrained", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert 'pip install "retina-tutorial[keras]"' in done.stderr
    assert "Traceback" not in done.stderr
