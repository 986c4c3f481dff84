"""``.keras`` files that every Keras the package supports can read.

Described in ``book/intro.md`` (Versions).

A ``.keras`` file is a zip archive of ``config.json`` (the architecture, as
constructor arguments), ``model.weights.h5`` and ``metadata.json``. Newer
Keras versions write constructor arguments that older ones do not know: Keras
3.15 writes ``input_axes`` and ``output_axes`` into every ``HeNormal``
initializer, and Keras 3.14 refuses the whole file for it. Those arguments
are ``None`` unless set, which is what an older Keras does anyway, so:

* :func:`save` (used by ``train`` for ``best.keras`` and ``last.keras``)
  writes the file and then leaves out every such argument that is ``None``;
  the weights are copied byte for byte.
* The package's own facts about a model (the image scale it was trained at,
  :mod:`retina_tutorial.scale`) travel inside the file, in ``metadata.json``
  under ``"retina_tutorial"``, which Keras does not read: a file copied
  elsewhere still knows them. :func:`read_info` reads them; :func:`load`
  puts them on the model (:func:`attach_info`: the training scale through
  :func:`retina_tutorial.scale.attach`, the images it learned from through
  :func:`retina_tutorial.provenance.attach`). A file re-saved with plain
  ``model.save`` loses them: it is then taken to be at DRIVE's scale, with a
  warning that says so, and its training images are unknown.
* :func:`load` reads any ``.keras`` file in safe mode; when the running Keras
  rejects an argument it does not know, and that argument is ``None`` in the
  file, it is left out and the file read again (from a temporary copy: the
  file itself is never changed). An argument with a value the running Keras
  cannot honour is an error that names the file and the Keras to install.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path

import keras

# Imported for their registration with Keras, so that every file this module
# reads or writes may name the package's losses, metrics and layers.
import retina_tutorial.losses
import retina_tutorial.model  # noqa: F401
from retina_tutorial import provenance, scale

#: Where the package's own facts live in a file's ``metadata.json``.
PACKAGE_KEY = "retina_tutorial"
#: Constructor arguments that Keras versions newer than the oldest supported
#: one write, and that mean "as before" when they are None.
NEWER_ARGUMENTS = ("input_axes", "output_axes")
_UNKNOWN_ARGUMENT = re.compile(
    r"unexpected keyword argument '(\w+)'|Unrecognized keyword arguments[^\[{]*[\[{]'(\w+)'"
)


class ModelVersionError(ValueError):
    """A model file needs a newer Keras than the one running."""


def keras_version_of(path) -> str:
    """The Keras version that wrote ``path`` (from its ``metadata.json``), or ``'unknown'``."""
    with zipfile.ZipFile(path) as archive:
        try:
            metadata = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError):
            return "unknown"
    return str(metadata.get("keras_version", "unknown"))


def without_arguments(config, names) -> tuple[object, int]:
    """``config`` with every argument in ``names`` whose value is None left out.

    Returns the new config (the input is not changed) and how many arguments
    were left out.
    """
    dropped = 0

    def walk(node):
        nonlocal dropped
        if isinstance(node, dict):
            kept = {}
            for key, value in node.items():
                if key in names and value is None:
                    dropped += 1
                    continue
                kept[key] = walk(value)
            return kept
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(config), dropped


def read_info(path) -> dict:
    """The package's facts stored in a ``.keras`` file (``{}`` when there are none)."""
    with zipfile.ZipFile(path) as archive:
        try:
            metadata = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError):
            return {}
    return dict(metadata.get(PACKAGE_KEY, {}))


def _rewrite(source: Path, target: Path, names, info=None) -> int:
    """Copy the archive ``source`` to ``target`` with ``names`` dropped from its config
    and, when given, ``info`` stored in its metadata."""
    with zipfile.ZipFile(source) as archive:
        config, dropped = without_arguments(json.loads(archive.read("config.json")), names)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as copy:
            for member in archive.infolist():
                content = archive.read(member.filename)
                if member.filename == "config.json":
                    content = json.dumps(config).encode()
                elif member.filename == "metadata.json" and info is not None:
                    content = json.dumps({**json.loads(content), PACKAGE_KEY: info}).encode()
                copy.writestr(member, content)
    return dropped


def make_portable(path, info: dict | None = None) -> int:
    """Rewrite the ``.keras`` file ``path`` so that older Keras versions read it.

    Leaves out the :data:`NEWER_ARGUMENTS` that are None and, when ``info``
    is given, stores it as the package's facts about the model (see
    :func:`read_info`); the weights and everything else stay as they are. The
    file is replaced in one step, so an interruption leaves the old file or
    the new one, never half of one.

    Returns
    -------
    int
        How many arguments were left out.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        _, dropped = without_arguments(json.loads(archive.read("config.json")), NEWER_ARGUMENTS)
    if not dropped and (info is None or read_info(path) == info):
        return 0
    fd, temporary = tempfile.mkstemp(suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        _rewrite(path, Path(temporary), NEWER_ARGUMENTS, info)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return dropped


def info_of(model) -> dict:
    """The package's facts about an in-memory model, as stored by :func:`save`: its
    training scale and which images it learned from (``provenance``), each when known."""
    info = {}
    training_scale = scale.recorded(model)
    if training_scale is not None:
        info["training_scale"] = training_scale.to_dict()
    record = provenance.of_model(model)
    if record is not None:
        info["provenance"] = record
    return info


def attach_info(model, info: dict) -> None:
    """Put the facts :func:`info_of` gives (or a file holds) on ``model``.

    What is missing is recorded as unknown: a model without a training scale
    is then taken to be at DRIVE's, with a warning
    (:func:`retina_tutorial.scale.of_model`).
    """
    stated = info.get("training_scale")
    scale.attach(model, None if stated is None else scale.Scale.from_dict(stated))
    record = info.get("provenance")
    provenance.attach(model, record if isinstance(record, dict) else None)


def save(model: keras.Model, path) -> Path:
    """Save ``model`` to the ``.keras`` file ``path``, readable by every supported Keras.

    The file carries the model's training scale (:func:`info_of`). Written to
    a temporary file beside ``path`` first, so a failure never leaves a
    damaged file where a good one was.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(temporary)
        make_portable(temporary, info_of(model))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load(path) -> keras.Model:
    """Read a ``.keras`` file in safe mode, uncompiled, whichever supported Keras wrote it.

    Raises
    ------
    ModelVersionError
        If the file sets an argument the running Keras does not know: the
        message names the file, both Keras versions and the upgrade to make.
    Exception
        Whatever Keras raises for a file it cannot read for other reasons.
    """
    path = Path(path)
    dropped_names: set = set()
    with tempfile.TemporaryDirectory() as folder:
        source = path
        while True:
            try:
                model = keras.saving.load_model(source, safe_mode=True, compile=False)
            except (TypeError, ValueError) as error:
                name = _unknown_argument(error)
                if name is None or name in dropped_names:
                    raise
                with zipfile.ZipFile(path) as archive:
                    config = json.loads(archive.read("config.json"))
                if not without_arguments(config, {name})[1]:
                    written_by = keras_version_of(path)
                    raise ModelVersionError(
                        f"{path} was written by Keras {written_by} and sets '{name}', which "
                        f"Keras {keras.__version__} (running here) does not know. Upgrade: "
                        f"pip install -U 'keras>={written_by}', then restart Python."
                    ) from error
                dropped_names.add(name)
                source = Path(folder) / f"{len(dropped_names)}_{path.name}"
                _rewrite(path, source, dropped_names)
                continue
            attach_info(model, read_info(path))
            return model


def _unknown_argument(error: Exception) -> str | None:
    match = _UNKNOWN_ARGUMENT.search(str(error))
    return None if match is None else next(group for group in match.groups() if group)
