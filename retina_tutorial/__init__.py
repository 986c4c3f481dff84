"""retina_tutorial: the package behind the retina-unet book.

Modules follow the pipeline, each importing only from earlier stages:
``config`` -> ``data`` / ``synthetic`` -> ``cache`` -> ``augment`` ->
``model`` -> ``model_files`` -> ``losses`` -> ``train`` -> ``inference`` -> ``evaluate`` ->
``plotting`` -> ``widgets`` / ``exercises`` -> ``cli``.
"""

__version__ = "0.2.0"
