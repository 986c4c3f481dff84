"""retina_tutorial: the package behind the retina-unet book.

Modules come in layers, each importing (at import time) only from its own
layer and the ones above it; ``tests/test_structure.py`` reads this list
and checks it. One idea lives in one module:

- foundations, importing nothing of the package: ``checks`` (what an
  integer or a number is), ``deprecated`` (old names, for one release),
  ``config``, ``environment``, ``grading`` (the grading variant, which
  ``data`` reads; the grader imports the rest only while it grades),
  ``scale`` (pixels per degree, the one rescale decision), ``provenance``,
  ``run_history`` (a run's history, the epoch training keeps),
  ``bootstrap``, ``calibration``, ``topology``
- measuring, pure NumPy: ``metrics`` (pixel metrics, curves, thresholds,
  the 2nd observer), ``closeups``, ``published``
- data: ``grid`` (padding, tiles), ``datasets`` (the containers and
  readers), ``splits`` (the old name of ``datasets``, for one release),
  ``field_of_view``, ``drive``, ``synthetic``, ``public_sets``,
  ``stand_in``, ``data``, ``cache``
- model, where Keras and TensorFlow come in: ``augment``, ``pipeline``,
  ``model``, ``losses``, ``model_files``, ``train``, ``onnx_model`` (the
  model exported to ONNX, run without Keras), ``inference``
- results: ``evaluate`` (the protocol), ``comparison``, ``plotting``,
  ``report``, ``pretrained``, ``prose``, ``widgets``
- teaching: ``exercises``, ``audit``, ``course``
- ``cli``

``provenance`` records which images a model learned from; ``comparison``
trains a recipe with several seeds and compares it with another model,
paired; ``prose`` writes the chapters' data-dependent sentences from their
own results; ``course``, ``grading`` and ``audit`` make the chapters an
nbgrader course and grade it outside the students' kernels.

Importing the package imports neither Keras nor TensorFlow: the data,
scale and metrics modules work without them, ``retina-tutorial --help``
starts at once, and :mod:`~retina_tutorial.inference` predicts with an ONNX
file where TensorFlow is not installed (``pip install
"retina-tutorial[onnx]"``). The modules that load or save models
(:mod:`retina_tutorial.model_files`, and :mod:`~retina_tutorial.inference`
and :mod:`~retina_tutorial.train`, which use it) register the package's
losses, metrics and layers with Keras when they are imported. A checkpoint
it wrote (``runs/.../best.keras``) loads with
``retina_tutorial.inference.load_model(path)``, which also reads the scale
it was trained at; plain ``keras.saving.load_model`` works once
``retina_tutorial.model_files`` is imported.
"""

__version__ = "0.8.2"
