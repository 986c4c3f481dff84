"""The U-Net outside Keras: export it to ONNX, run it with ONNX Runtime.

Explained in ``book/06_going_further.ipynb``.

ONNX is the file format every inference runtime reads (ONNX Runtime on
servers, phones and in browsers, TensorRT, OpenVINO...). An exported file
holds the network's graph and weights and nothing of Keras or TensorFlow, so
predicting with it needs only ``onnxruntime`` (``pip install
"retina-tutorial[onnx]"``, no TensorFlow).

A file written by :func:`export`:

* opset :data:`OPSET`; one input named ``image``, float32 (N, H, W, 3), RGB
  in [0, 1]; one output named ``probability``, float32 (N, H, W, 1); batch,
  height and width are open.
* in its metadata, under ``retina_tutorial``, what the ``.keras`` file
  carries (the training scale and which images the model learned from,
  :mod:`retina_tutorial.model_files`), plus what prediction needs to know
  without Keras: the side multiple, the tile overlap and the parameter count,
  and the precision (and, for int8, the images it was calibrated on).

Three precisions:

``fp32``
    The network as Keras runs it; probabilities agree to about 1e-6.
``fp16``
    Weights stored in half precision and widened to float32 when the file is
    loaded: half the file, computed exactly as fp32 from rounded weights.
``int8``
    Static quantization (QDQ): weights and activations in 8-bit integers
    (all but the first and last convolutions), scaled by ranges measured on
    training images of the data set in use (never validation or test
    images). Faster on CPUs, and the map changes a little.

:func:`load` gives an :class:`OnnxModel`, which
:mod:`retina_tutorial.inference` predicts with exactly as with a Keras
model: the same FOV, resizing, tiles and flips.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from retina_tutorial import provenance, scale

#: The ONNX operator set the export writes (ONNX Runtime 1.13 and newer read it).
OPSET = 17
#: The file's input and output names.
INPUT_NAME = "image"
OUTPUT_NAME = "probability"
PRECISIONS = ("fp32", "fp16", "int8")
#: The metadata key holding the package's facts about the model.
METADATA_KEY = "retina_tutorial"
#: Training images the int8 file is calibrated on unless told otherwise.
CALIBRATION_IMAGES = 4
#: What to install when onnxruntime, onnx or tf2onnx is missing.
EXTRA_HINT = 'pip install "retina-tutorial[onnx]"'


class OnnxFileError(ValueError):
    """An ONNX file is missing, damaged, too new, or not a vessel U-Net of this package."""


class MissingExtraError(ImportError):
    """The ONNX extra is not installed."""


def _import(name: str, purpose: str):
    try:
        return __import__(name)
    except ImportError as error:
        raise MissingExtraError(
            f"{purpose} needs the '{name}' package, which is not installed: {EXTRA_HINT}."
        ) from error


class OnnxModel:
    """A U-Net exported by :func:`export`, run by ONNX Runtime.

    It offers what :mod:`retina_tutorial.inference` asks of a model:
    :meth:`predict_on_batch`, ``name``, :meth:`count_params`, its side
    multiple and tile overlap, and the training scale and provenance
    (:func:`retina_tutorial.scale.of_model`,
    :func:`retina_tutorial.provenance.of_model`) read from the file.
    """

    def __init__(self, session, path: Path, info: dict):
        self._session = session
        self.path = path
        self.name = path.stem
        self.info = info
        self.precision = str(info.get("precision", "fp32"))
        self.required_multiple = int(info["required_multiple"])
        self.tile_overlap = int(info["tile_overlap"])
        height, width = session.get_inputs()[0].shape[1:3]
        fixed = isinstance(height, int) and isinstance(width, int)
        #: (height, width) for a model exported with a fixed input size, else None.
        self.input_size = (height, width) if fixed else None
        stated = info.get("training_scale")
        scale.attach(self, None if stated is None else scale.Scale.from_dict(stated))
        record = info.get("provenance")
        provenance.attach(self, record if isinstance(record, dict) else None)

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) float images in [0, 1] -> (N, H, W, 1) float32 probabilities."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def count_params(self) -> int:
        """The Keras model's parameter count, as recorded at export."""
        return int(self.info.get("parameters", 0))

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, precision={self.precision!r})"


def load(path, *, threads: int | None = None) -> OnnxModel:
    """Open an ONNX file written by :func:`export` with ONNX Runtime.

    Parameters
    ----------
    path : str or Path
        A ``.onnx`` file.
    threads : int, optional
        Threads for each operator; by default one for each core this process
        may run on.

    Raises
    ------
    MissingExtraError
        If ``onnxruntime`` is not installed (the message says what to install).
    OnnxFileError
        If the file is missing, damaged or truncated, needs a newer ONNX
        Runtime, does not take one (N, H, W, 3) image and give one (N, H, W, 1)
        map, or lacks the package's metadata. The message names the file.
    """
    path = Path(path)
    ort = _import("onnxruntime", "Running an ONNX model")
    if not path.is_file():
        raise OnnxFileError(
            f"{path}: no such ONNX file. Write one with "
            "`retina-tutorial export --model pretrained --out model.onnx`."
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the runtime's warnings are not the reader's
    # One thread a core this process may use, as TensorFlow takes (ONNX
    # Runtime's own default counted one on a 2-core machine here).
    options.intra_op_num_threads = int(threads) if threads is not None else _usable_cores()
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # ONNX Runtime raises its own types for every failure
        raise OnnxFileError(_unreadable(path, error, ort.__version__)) from error
    _check_signature(session, path)
    metadata = session.get_modelmeta().custom_metadata_map
    try:
        return OnnxModel(session, path, json.loads(metadata[METADATA_KEY]))
    except (KeyError, ValueError, TypeError) as error:
        raise OnnxFileError(
            f"{path} is an ONNX model but carries no readable '{METADATA_KEY}' metadata "
            f"(its side multiple, tile overlap and training scale: {error!r}), so it was "
            "not written by this package. Export the .keras model with "
            "`retina-tutorial export`."
        ) from error


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _unreadable(path: Path, error: Exception, runtime_version: str) -> str:
    message = str(error)
    opset = _declared_opset(path)
    if "opset" in message.lower() or "ir_version" in message.lower() or "IR version" in message:
        return (
            f"{path} needs a newer ONNX Runtime than {runtime_version} (installed): the file "
            f"declares opset {opset if opset is not None else '?'}. Upgrade with "
            f"`pip install -U onnxruntime`, or export again with opset {OPSET} "
            f"(`retina-tutorial export`). ONNX Runtime said: {message.strip()[:300]}"
        )
    return (
        f"{path} could not be read as an ONNX model ({message.strip()[:300]}). The file is "
        "damaged, truncated or not an ONNX file: export it again with "
        "`retina-tutorial export --model ... --out ...`."
    )


def _declared_opset(path: Path) -> int | None:
    """The default-domain opset a file declares, when the ``onnx`` package can tell."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # a damaged file, or no onnx package: the runtime's words suffice
        return None
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def _check_signature(session, path: Path) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shapes = [(one.name, one.shape) for one in inputs]
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise OnnxFileError(
            f"{path} takes inputs {shapes}; a vessel U-Net takes one (batch, height, "
            "width, 3) image."
        )
    if inputs[0].shape[-1] != 3 or inputs[0].type != "tensor(float)":
        raise OnnxFileError(
            f"{path} takes {inputs[0].type} images of shape {inputs[0].shape}, not "
            "float32 RGB (last axis 3): it is not a model of this package."
        )
    given = [(one.name, one.shape) for one in outputs]
    if len(outputs) != 1 or len(outputs[0].shape) != 4 or outputs[0].shape[-1] != 1:
        raise OnnxFileError(
            f"{path} gives outputs {given}; a vessel U-Net gives one (batch, height, "
            "width, 1) probability map."
        )
    if inputs[0].name != INPUT_NAME or outputs[0].name != OUTPUT_NAME:
        raise OnnxFileError(
            f"{path} names its input {inputs[0].name!r} and output {outputs[0].name!r}, "
            f"not {INPUT_NAME!r} and {OUTPUT_NAME!r}: export it with `retina-tutorial export`."
        )


def export(
    model,
    path,
    *,
    precision: str = "fp32",
    calibration_images=None,
    calibrated_on: list | None = None,
) -> Path:
    """Write a Keras U-Net to the ONNX file ``path``.

    Explained in ``book/06_going_further.ipynb``.

    Parameters
    ----------
    model : keras.Model
        A U-Net of this package, e.g. :func:`retina_tutorial.pretrained.load`.
    path : str or Path
        The ``.onnx`` file to write. It is written beside itself first and
        moved into place at the end, so a failure leaves no half file.
    precision : {"fp32", "fp16", "int8"}
    calibration_images : sequence of (H, W, 3) float ndarray, optional
        For int8: training images in [0, 1], at the model's scale, whose
        activations set the 8-bit ranges (:func:`calibration_images` gives
        them). Never give validation or test images of a set the model is
        then measured on.
    calibrated_on : list of str, optional
        Names of those images, stored in the file's metadata.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    MissingExtraError
        If ``onnx``, ``onnxruntime`` or ``tf2onnx`` is missing.
    ValueError
        For an unknown precision, or int8 without calibration images.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "int8" and (calibration_images is None or len(calibration_images) == 0):
        raise ValueError(
            "int8 needs calibration_images: a few training images of the data set in use "
            "(retina-tutorial export reads them from --data)."
        )
    onnx = _import("onnx", "Exporting to ONNX")
    _import("onnxruntime", "Exporting to ONNX")
    _import("tf2onnx", "Exporting to ONNX")
    from retina_tutorial import inference, model_files

    inference.check_model(model, name="model")
    multiple = inference.required_multiple_of(model)
    info = {
        **model_files.info_of(model),
        "precision": precision,
        "required_multiple": multiple,
        "tile_overlap": inference.tile_overlap(model),
        "parameters": int(model.count_params()),
        "exported_from": getattr(model, "name", "model"),
    }
    if precision == "int8":
        info["calibrated_on"] = list(calibrated_on or [f"{len(calibration_images)} images"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        fp32 = Path(folder) / "fp32.onnx"
        _export_fp32(model, fp32, multiple)
        graph = onnx.load(str(fp32))
        _rename_ends(graph)
        if precision == "fp16":
            _store_weights_as_fp16(graph)
        if precision == "int8":
            onnx.save(graph, str(fp32))
            quantized = Path(folder) / "int8.onnx"
            _quantize(fp32, quantized, calibration_images, multiple)
            graph = onnx.load(str(quantized))
        del graph.metadata_props[:]
        entry = graph.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(info)
        graph.producer_name = "retina_tutorial"
        written = Path(folder) / "model.onnx"
        onnx.save(graph, str(written))
        os.replace(written, path)
    return path


def calibration_images(dataset, model, count: int = CALIBRATION_IMAGES):
    """The first ``count`` training images of ``dataset`` at ``model``'s scale, and their ids.

    What :func:`export` calibrates int8 on: training images only, so the
    validation and test images stay unseen; each resized to the model's
    training scale as prediction will resize photographs
    (:func:`retina_tutorial.datasets.at_scale`), each at its own size.

    Returns
    -------
    (list of (H, W, 3) float32 ndarray, list of str)
    """
    from retina_tutorial import datasets

    count = min(int(count), len(dataset.train))
    chosen = dataset.train.select(list(dataset.train.ids[:count]))
    resized, _ = datasets.at_scale(
        chosen, dataset.field_degrees, scale.of_model(model), stated=dataset.stated_scale
    )
    images = [resized.image(index).images[0] for index in range(len(resized))]
    return images, [f"{dataset.source} train {one}" for one in resized.ids]


def _export_fp32(model, path: Path, multiple: int) -> None:
    """Keras' own ONNX export (tf2onnx on TensorFlow), of a model called once."""
    # A model loaded from a .keras file has never been called, and export refuses it.
    model(np.zeros((1, multiple, multiple, 3), np.float32))
    with warnings.catch_warnings():
        # Keras' patch of tf2onnx for NumPy 2 asks for np.object, which NumPy 2 warns of.
        warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
        model.export(str(path), format="onnx", opset_version=OPSET, verbose=False)


def _rename_ends(graph) -> None:
    """Name the one input ``image`` and the one output ``probability``."""
    renames = {
        graph.graph.input[0].name: INPUT_NAME,
        graph.graph.output[0].name: OUTPUT_NAME,
    }
    for node in graph.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    graph.graph.input[0].name = INPUT_NAME
    graph.graph.output[0].name = OUTPUT_NAME


def _store_weights_as_fp16(graph) -> None:
    """Keep each float32 weight as float16, cast back to float32 where it is used."""
    import onnx
    from onnx import numpy_helper

    casts = []
    for initializer in graph.graph.initializer:
        if initializer.data_type != onnx.TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(initializer)
        half_name = f"{initializer.name}__fp16"
        casts.append(
            onnx.helper.make_node(
                "Cast", [half_name], [initializer.name], to=onnx.TensorProto.FLOAT
            )
        )
        initializer.CopyFrom(numpy_helper.from_array(values.astype(np.float16), half_name))
    # The casts come first: a graph's nodes are listed in the order they run.
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)


def _quantize(source: Path, target: Path, images, multiple: int) -> None:
    """Static int8 quantization (QDQ), ranges measured on ``images``."""
    from onnxruntime import quantization

    from retina_tutorial import grid

    class Images(quantization.CalibrationDataReader):
        def __init__(self):
            self._left = iter(images)

        def get_next(self):
            image = next(self._left, None)
            if image is None:
                return None
            padded, _ = grid.pad_to_multiple(np.asarray(image, np.float32)[np.newaxis], multiple)
            return {INPUT_NAME: padded}

    # Shape inference and graph optimisation first, as ONNX Runtime advises.
    prepared = target.with_name("prepared.onnx")
    quantization.quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantization.quantize_static(
        str(prepared),
        str(target),
        Images(),
        quant_format=quantization.QuantFormat.QDQ,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
        per_channel=True,
        # The first and last convolutions stay float (under 1 % of the
        # work): the first reads the photograph's fine contrasts, and the
        # last, quantized, would give the sigmoid 256 levels whose ties cost
        # AUC. On DRIVE's test images, quantizing every operator gave AUC
        # 0.9793 and F1 0.8140; this, 0.9799 and 0.8160 (fp32: 0.9806, 0.8180).
        nodes_to_exclude=_end_convolutions(prepared),
    )


def _end_convolutions(path: Path) -> list:
    """The names of the convolution that reads the image and the one that makes the logits."""
    import onnx

    graph = onnx.load(str(path)).graph
    convolutions = [node.name for node in graph.node if node.op_type == "Conv"]
    made_by = {output: node for node in graph.node for output in node.output}
    node = made_by[graph.output[0].name]
    while node.op_type != "Conv":
        node = made_by[node.input[0]]
    return sorted({convolutions[0], node.name})
