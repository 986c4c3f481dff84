"""Importing the package, or a module that needs no network, imports no Keras or TensorFlow."""

import subprocess
import sys

import pytest

#: Modules that work on arrays and files only; each must import without Keras.
PURE_MODULES = (
    "retina_tutorial",
    "retina_tutorial.config",
    "retina_tutorial.scale",
    "retina_tutorial.grid",
    "retina_tutorial.metrics",
    "retina_tutorial.field_of_view",
    "retina_tutorial.datasets",
    "retina_tutorial.splits",  # the old name, forwarding to datasets
    "retina_tutorial.drive",
    "retina_tutorial.synthetic",
    "retina_tutorial.public_sets",
    "retina_tutorial.data",
    "retina_tutorial.provenance",
    "retina_tutorial.prose",
    # Predicting with an ONNX file needs no Keras: it is imported for a Keras model only.
    "retina_tutorial.onnx_model",
    "retina_tutorial.inference",
    "retina_tutorial.report",
    # The checkers: chapter 01 and each graded run of it need no model.
    "retina_tutorial.exercises",
)

_PROBE = (
    "import importlib, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(sorted(name for name in ('keras', 'tensorflow') if name in sys.modules))\n"
)


@pytest.mark.parametrize("module", PURE_MODULES)
def test_a_pure_module_imports_neither_keras_nor_tensorflow(module):
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"{module} imported {done.stdout.strip()}"


def test_the_command_lines_help_starts_without_tensorflow():
    # TensorFlow prints its start-up lines on stderr; --help must not wait for them.
    script = (
        "import sys\n"
        "from retina_tutorial import cli\n"
        "try:\n"
        "    cli.main(['course', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('tensorflow' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "usage: retina-tutorial course" in done.stdout
    assert done.stderr.strip() == "False", done.stderr[-2000:]


# Keras 3.15 itself calls np.array(variable, copy=False) while saving, which
# numpy 2 flags as deprecated; nothing in our code can avoid it.
@pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)
def test_a_saved_model_loads_with_plain_keras_once_model_files_is_imported(tmp_path):
    from retina_tutorial import model, model_files

    path = model_files.save(model.build_unet(contrast_sigma=2.0), tmp_path / "m.keras")
    script = (
        "import sys, keras\n"
        "import retina_tutorial.model_files\n"
        "keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "print('loaded')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "loaded", done.stderr[-2000:]
