"""retina_tutorial: the package behind the retina-unet book.

Modules follow the pipeline, each importing only from earlier stages:
``config`` / ``environment`` -> ``scale`` -> ``field_of_view`` -> ``splits``
-> ``provenance`` -> ``drive`` / ``synthetic`` / ``public_sets`` ->
``stand_in`` -> ``data`` -> ``cache`` -> ``augment`` -> ``pipeline`` ->
``model`` -> ``model_files`` -> ``losses`` -> ``train`` -> ``inference`` ->
``evaluate`` -> ``comparison`` -> ``plotting`` -> ``report`` -> ``prose`` /
``widgets`` / ``exercises`` -> ``audit`` / ``course`` -> ``cli``; ``grading``
imports none of them at import time, so ``data`` and ``exercises`` use its
grading variant. ``provenance`` records which images a model learned from;
``comparison`` trains a recipe with several seeds and compares it with
another model, paired; ``prose`` writes the chapters'
data-dependent sentences from their own results; ``course``, ``grading`` and
``audit`` make the chapters an nbgrader course and grade it outside the
students' kernels.

Importing the package registers its losses, metrics and layers with Keras, so
a checkpoint it wrote (``runs/.../best.keras``) loads with plain
``keras.saving.load_model`` once ``retina_tutorial`` is imported.
"""

__version__ = "0.6.0"


def _register_with_keras() -> None:
    # Not while the installed Keras or TensorFlow is older than the package
    # needs: the chapters' Colab cell imports the package to upgrade them,
    # and importing the old ones first would force a restart.
    from retina_tutorial import environment

    try:
        if environment.unmet():
            return
    except environment.metadata.PackageNotFoundError:  # run from a source tree
        pass
    from retina_tutorial import losses, model  # noqa: F401  (registration on import)


_register_with_keras()
