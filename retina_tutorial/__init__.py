"""retina_tutorial: the package behind the retina-unet book.

Modules follow the pipeline, each importing only from earlier stages:
``config`` / ``environment`` -> ``scale`` -> ``grid`` -> ``field_of_view`` ->
``splits`` -> ``provenance`` -> ``drive`` / ``synthetic`` / ``public_sets`` ->
``stand_in`` -> ``data`` -> ``cache`` -> ``augment`` -> ``pipeline`` ->
``model`` -> ``losses`` -> ``model_files`` -> ``train`` -> ``inference`` ->
``evaluate`` -> ``comparison`` -> ``plotting`` -> ``report`` -> ``prose`` /
``widgets`` / ``exercises`` -> ``audit`` / ``course`` -> ``cli``; ``grading``
imports none of them at import time, so ``data`` and ``exercises`` use its
grading variant. ``provenance`` records which images a model learned from;
``comparison`` trains a recipe with several seeds and compares it with
another model, paired; ``prose`` writes the chapters'
data-dependent sentences from their own results; ``course``, ``grading`` and
``audit`` make the chapters an nbgrader course and grade it outside the
students' kernels.

Importing the package imports neither Keras nor TensorFlow: the data,
scale and metrics modules work without them, and ``retina-tutorial --help``
starts at once. The modules that load or save models
(:mod:`retina_tutorial.model_files`, and :mod:`~retina_tutorial.inference`
and :mod:`~retina_tutorial.train`, which use it) register the package's
losses, metrics and layers with Keras when they are imported. A checkpoint
it wrote (``runs/.../best.keras``) loads with
``retina_tutorial.inference.load_model(path)``, which also reads the scale
it was trained at; plain ``keras.saving.load_model`` works once
``retina_tutorial.model_files`` is imported.
"""

__version__ = "0.6.0"
