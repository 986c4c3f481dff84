"""Use a trained U-Net: load it, read a fundus photograph, predict vessels.

Explained in ``book/05_evaluation.ipynb``.

:func:`predict` takes images of any size. A U-Net with ``depth`` poolings
needs sides divisible by ``2 ** depth``, so the image is padded by
reflection up to the next multiple, predicted, and cropped back to exactly
its own pixels. Photographs much larger than DRIVE (a 3504 x 2336 fundus
camera image, say) are predicted in overlapping tiles whose predictions are
blended with a smooth window, so memory stays bounded and no seams show.
Test-time augmentation (TTA) averages the predictions for the four flips.

The padding and the tile layout are :mod:`retina_tutorial.grid`'s;
:func:`pad_to_multiple` and :func:`crop` are importable from here too. A
photograph without a FOV mask gets one from
:func:`retina_tutorial.field_of_view.estimate_fov`, also importable from here.

A model is a Keras U-Net or the same network exported to ONNX
(:class:`retina_tutorial.onnx_model.OnnxModel`): both go through the same
code, and predicting with an ONNX file imports neither Keras nor TensorFlow
(Keras is imported only when a Keras model is loaded or checked).
"""

from __future__ import annotations

import typing
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from retina_tutorial import data, datasets, field_of_view, grid, metrics, onnx_model, scale
from retina_tutorial.field_of_view import estimate_fov
from retina_tutorial.grid import CropBox, crop, pad_to_multiple  # noqa: F401  (the book's names)

if typing.TYPE_CHECKING:
    import keras

#: Images with more pixels than this are predicted in tiles unless told otherwise.
AUTO_TILE_PIXELS = 1500 * 1500
#: Side of the tiles used when tiling is automatic.
DEFAULT_TILE_SIZE = 1024

# Flips averaged by test-time augmentation, as (flip rows, flip columns).
_FLIPS = ((False, False), (False, True), (True, False), (True, True))


class ModelFileError(ValueError):
    """A model file is missing, is not a Keras model, or does not fit fundus images."""


def load_model(path) -> keras.Model | onnx_model.OnnxModel:
    """Load a trained U-Net saved as a ``.keras`` file, or exported to ``.onnx``.

    Explained in ``book/05_evaluation.ipynb``.

    A ``.keras`` file is loaded with ``safe_mode=True`` (no code inside the
    file is run) and ``compile=False``: predicting needs neither the
    optimizer nor the training losses and metrics. An ``.onnx`` file written
    by :func:`retina_tutorial.onnx_model.export` is opened with ONNX Runtime
    (:func:`retina_tutorial.onnx_model.load`), without Keras.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file, e.g. ``runs/full/best.keras``, or an ``.onnx`` file.

    Returns
    -------
    keras.Model or retina_tutorial.onnx_model.OnnxModel
        Taking (B, H, W, 3) images and giving (B, H, W, 1) probabilities.

    Raises
    ------
    ModelFileError
        If the file is missing, is not a model, or the model does not take
        3-channel images and give one probability channel. The message names
        the file and says what to do.
    """
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        try:
            return onnx_model.load(path)
        except onnx_model.OnnxFileError as error:
            raise ModelFileError(str(error)) from error
    if not path.exists():
        raise ModelFileError(
            f"{path}: no such model file. Give the path of a trained model, e.g. "
            "runs/<profile>/best.keras written by retina_tutorial.train."
        )
    if path.is_dir():
        raise ModelFileError(
            f"{path} is a folder, not a model file. Keras 3 loads .keras files: "
            "give the path of best.keras inside the run folder."
        )
    if path.suffix.lower() != ".keras":
        raise ModelFileError(
            f"{path}: expected a .keras file (Keras 3 format) or an .onnx file, found "
            f"{path.suffix!r}. "
            "Only .keras files can be loaded safely; re-save an old .h5 model with "
            "model.save('model.keras') where it was made."
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a Keras model: a .keras file is a zip archive and this "
            "one is not. The file is damaged or was renamed; train or download it again."
        )
    with zipfile.ZipFile(path) as archive:
        members = set(archive.namelist())
    if "config.json" not in members:
        raise ModelFileError(
            f"{path} is a zip archive but not a Keras model (no config.json inside). "
            "Give a file written by model.save('....keras')."
        )
    try:
        from retina_tutorial import model_files
    except ImportError as error:
        raise onnx_model.MissingExtraError(
            f"{path}: loading a .keras model needs Keras and TensorFlow ({error}): "
            'pip install "retina-tutorial[keras]". To predict without them, export the '
            "model to ONNX where Keras is installed (retina-tutorial export) and give "
            "the .onnx file."
        ) from error
    try:
        model = model_files.load(path)
    except model_files.ModelVersionError as error:
        raise ModelFileError(str(error)) from error
    except Exception as error:  # Keras raises many types; all mean "unusable file".
        raise ModelFileError(
            f"{path} could not be loaded as a Keras model "
            f"({type(error).__name__}: {error}). Check that it was saved by "
            "retina_tutorial (Keras 3) and is complete."
        ) from error
    check_model(model, name=str(path))
    return model


def read_fundus(path) -> np.ndarray:
    """Read a colour fundus photograph as (H, W, 3) float32 in [0, 1].

    Explained in ``book/05_evaluation.ipynb``.

    RGBA images lose their alpha channel, palette and CMYK images are
    converted to RGB, and the EXIF orientation of camera JPEGs is applied.
    16-bit colour images are scaled to [0, 1] like 8-bit ones (Pillow keeps
    their top 8 bits, as fine as the 8-bit DRIVE images the models learn from).

    Parameters
    ----------
    path : str or Path
        PNG, JPEG, TIFF or any other format Pillow reads.

    Raises
    ------
    ValueError
        If the file is missing or unreadable, or the image is greyscale: the
        models are trained on colour photographs (the green channel carries
        most vessel contrast, but all three are used), so a greyscale image
        would give meaningless predictions.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such image file.")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(
            f"{path} cannot be read as an image ({error}). Give a PNG, JPEG or TIFF "
            "colour fundus photograph."
        ) from error
    mode = image.mode
    if mode in ("1", "L", "LA", "I", "F") or mode.startswith("I;16"):
        raise ValueError(
            f"{path} is a greyscale image (mode {mode!r}). The models need a colour "
            "(RGB) fundus photograph; use the original colour image, or convert it "
            "to RGB yourself if you accept that predictions on it are unreliable."
        )
    if mode == "RGB":
        pixels = np.asarray(image)
    elif mode in ("RGBA", "RGBX", "RGBa"):
        pixels = np.asarray(image)[..., :3]
    else:  # P, PA, CMYK, YCbCr, LAB, HSV: Pillow knows how to make RGB of them.
        pixels = np.asarray(image.convert("RGB"))
    # Should a reader ever hand back 16-bit values, scale them by their own range.
    scale = np.float32(65535.0 if pixels.dtype == np.uint16 else 255.0)
    return np.ascontiguousarray(pixels, dtype=np.float32) / scale


def predict(
    model: keras.Model,
    image: np.ndarray,
    *,
    tta: bool = False,
    tile_size: int | None = None,
    overlap: int | None = None,
    batch_size: int = 1,
) -> np.ndarray:
    """Vessel probabilities for one image or a stack, at the images' own size.

    Explained in ``book/05_evaluation.ipynb``.

    Parameters
    ----------
    model : keras.Model or retina_tutorial.onnx_model.OnnxModel
        A U-Net from :func:`retina_tutorial.model.build_unet` or :func:`load_model`.
    image : (H, W, 3) or (N, H, W, 3) float ndarray
        RGB scaled to [0, 1] (see :func:`read_fundus`).
    tta : bool
        Average the predictions for the identity, horizontal, vertical and
        both flips (each un-flipped before averaging); four times slower.
    tile_size : int, optional
        Predict in square tiles of this side (rounded up to the model's
        multiple). By default images larger than ``AUTO_TILE_PIXELS`` are
        tiled with ``DEFAULT_TILE_SIZE`` and smaller ones are predicted whole.
        A model built for a fixed input size is always tiled at that size.
    overlap : int, optional
        Pixels shared by neighbouring tiles. Their outer quarter is discarded
        (the U-Net sees zero padding there) and the middle half is blended
        with a raised-cosine ramp. By default :func:`tile_overlap`, which
        discards at least the model's receptive radius, so tiled and whole
        predictions agree (to float rounding); a smaller overlap is faster
        and leaves small differences near the tile edges.
    batch_size : int
        Images, or tiles, per forward pass.

    Returns
    -------
    (H, W) or (N, H, W) float32 ndarray
        Probabilities in [0, 1], pixel for pixel aligned with ``image``.

    Raises
    ------
    ValueError
        If ``image`` is not (H, W, 3) or (N, H, W, 3), holds values outside
        [0, 1] (for example 0-255 integers), or the arguments are out of range.
    """
    check_model(model, name="model")
    images, single = field_of_view.as_rgb_stack(image)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    multiple = required_multiple_of(model)
    fixed = _fixed_input_size(model)
    height, width = images.shape[1:3]
    if fixed is not None:
        if tile_size is not None and (tile_size, tile_size) != fixed:
            raise ValueError(
                f"tile_size={tile_size} but the model only takes {fixed[0]}x{fixed[1]} "
                "inputs; leave tile_size out to tile at the model's size."
            )
        tiles = fixed
    elif tile_size is not None or height * width > AUTO_TILE_PIXELS:
        size = DEFAULT_TILE_SIZE if tile_size is None else tile_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}.")
        size = grid.round_up(size, multiple)
        tiles = (size, size)
    else:
        tiles = None
    if tiles is None:
        padded, box = pad_to_multiple(images, multiple)
        result = _predict_batch(model, padded, tta, batch_size)
        result = result[:, box.top : box.top + box.height, box.left : box.left + box.width]
    else:
        if overlap is None:
            overlap = tile_overlap(model)
            if overlap > min(tiles) - multiple:
                if fixed is None:
                    raise ValueError(
                        f"tile_size={tiles[0]} is too small for this U-Net: exact tiling needs "
                        f"{overlap} pixels of overlap (tile_overlap), so use tile_size >= "
                        f"{overlap + multiple}, or pass a smaller overlap and accept small "
                        "differences near the tile edges."
                    )
                # A model of fixed input size cannot see more: use the most it allows.
                overlap = min(tiles) - multiple
        if (
            isinstance(overlap, bool)
            or not isinstance(overlap, (int, np.integer))
            or not (0 <= overlap <= min(tiles) - multiple)
        ):
            raise ValueError(
                f"overlap must be an integer from 0 to tile size - {multiple} "
                f"(= {min(tiles) - multiple}) for tiles of {tiles[0]}x{tiles[1]}, got {overlap!r}."
            )
        result = np.stack(
            [
                _predict_tiled(
                    model, one, tiles, int(overlap), multiple, tta, batch_size, fixed is not None
                )
                for one in images
            ]
        )
    result = np.clip(result, 0.0, 1.0).astype(np.float32, copy=False)
    return result[0] if single else result


def predict_flips(model: keras.Model, image: np.ndarray, *, batch_size: int = 1) -> np.ndarray:
    """The predictions for the four flips of each image, each flipped back.

    Explained in ``book/05_evaluation.ipynb``. Their mean is what
    :func:`predict` gives with ``tta=True``; their spread (standard
    deviation) shows where the model is unsure: a vessel it has really
    seen does not depend on which way up the photograph is.

    Parameters
    ----------
    model : keras.Model or retina_tutorial.onnx_model.OnnxModel
    image : (H, W, 3) or (N, H, W, 3) float ndarray
        Predicted whole, as DRIVE-sized images are (no tiling).
    batch_size : int

    Returns
    -------
    (4, H, W) or (4, N, H, W) float32 ndarray
        Identity, columns flipped, rows flipped, both.
    """
    check_model(model, name="model")
    images, single = field_of_view.as_rgb_stack(image)
    padded, box = pad_to_multiple(images, required_multiple_of(model))
    flips = []
    for flip in _FLIPS:
        output = _forward_flipped(model, padded, flip, batch_size)
        output = output[:, box.top : box.top + box.height, box.left : box.left + box.width]
        flips.append(np.clip(output, 0.0, 1.0))
    result = np.stack(flips).astype(np.float32, copy=False)
    return result[:, 0] if single else result


def tile_overlap(model: keras.Model) -> int:
    """The tile overlap at which tiled prediction matches whole-image prediction.

    Explained in ``book/06_going_further.ipynb``. An output pixel depends on
    input pixels up to half the receptive field
    (:func:`retina_tutorial.model.receptive_field`) away, plus the reach
    of local contrast normalisation where the model has it
    (:func:`retina_tutorial.model.contrast_radius`), so a pixel that close
    to a tile edge sees the tile's zero padding instead of the eye.
    :func:`predict` discards the outer quarter of the overlap, so four times
    that radius (plus one pixel) discards every such pixel.

    Examples
    --------
    >>> from retina_tutorial.model import build_unet
    >>> tile_overlap(build_unet(preset="compact"))
    204
    >>> tile_overlap(build_unet(preset="compact", contrast_sigma=10.0))
    444
    """
    if isinstance(model, onnx_model.OnnxModel):
        return model.tile_overlap  # computed so at export, from the Keras model
    from retina_tutorial.model import contrast_radius, model_depth, receptive_field

    radius = receptive_field(model_depth(model)) // 2 + 1 + contrast_radius(model)
    return 4 * radius


def tile_grid(shape, model: keras.Model, *, tile_size: int = DEFAULT_TILE_SIZE, overlap=None):
    """Where :func:`predict` cuts its tiles in an image of this ``(height, width)``.

    Explained in ``book/06_going_further.ipynb``.

    Returns
    -------
    (list of int, list of int)
        The first row of each row of tiles and the first column of each
        column of tiles, in the image padded to the model's multiple.
    """
    multiple = required_multiple_of(model)
    overlap = tile_overlap(model) if overlap is None else overlap
    size = grid.round_up(tile_size, multiple)
    padded = [grid.round_up(side, multiple) for side in shape[:2]]
    return tuple(starts for _, starts in grid.tile_layout(padded, (size, size), overlap, multiple))


class PhotographPrediction(typing.NamedTuple):
    """What :func:`predict_photograph` found and did."""

    #: (H, W) float32 probabilities at the photograph's own size, 0 outside the FOV.
    probabilities: np.ndarray
    #: (H, W) bool field of view used (given or estimated).
    fov: np.ndarray
    #: The photograph's scale as measured (None with ``native_size``).
    photo_scale: scale.Scale | None
    #: The scale the model was trained at.
    model_scale: scale.Scale
    #: How much the photograph was resized before the U-Net saw it (1: not at all).
    factor: float

    def describe(self) -> str:
        """One line: what was measured and what was done about it."""
        if self.photo_scale is None:
            return "predicted at the size given (native_size): not resized"
        done = "not resized (within 5 %)" if self.factor == 1.0 else f"resized by {self.factor:.3f}"
        return (
            f"{self.photo_scale};\n{done} for the model's "
            f"{self.model_scale.pixels_per_degree:.1f} px/degree"
        )


def predict_photograph(
    model: keras.Model,
    image: np.ndarray,
    *,
    fov: np.ndarray | None = None,
    field_degrees: float = scale.DEFAULT_FIELD_DEGREES,
    fov_diameter: float | None = None,
    native_size: bool = False,
    tta: bool = False,
) -> PhotographPrediction:
    """Vessel probabilities for a fundus photograph, predicted at the model's scale.

    Explained in ``book/06_going_further.ipynb``.

    The photograph is resized so that its pixels per degree of the camera's
    field match those the model was trained at
    (:func:`retina_tutorial.scale.of_model`), predicted (in tiles if still
    large), and the probabilities are resized back to the photograph's own
    size and set to 0 outside the FOV. A factor within 5 % of 1 is not
    resampled, so DRIVE's own images give exactly what :func:`predict` gives.

    Parameters
    ----------
    model : keras.Model or retina_tutorial.onnx_model.OnnxModel
    image : (H, W, 3) float ndarray
        RGB in [0, 1] (see :func:`read_fundus`).
    fov : (H, W) bool ndarray, optional
        The field of view; :func:`estimate_fov` when omitted.
    field_degrees : float
        The camera's field angle (45° by default, the most common; DRIVE and
        HRF 45°, STARE 35°, CHASE_DB1 30°).
    fov_diameter : float, optional
        The FOV's diameter in pixels, when known better than measured from
        the mask (:func:`retina_tutorial.scale.fov_diameter`).
    native_size : bool
        Predict at the size given (for images already at the model's scale).
    tta : bool
        Average over the four flips.

    Raises
    ------
    ValueError
        If no FOV can be found, the FOV is so small that the photograph would
        have to be enlarged more than 4 times, or ``fov_diameter`` or
        ``field_degrees`` is not a sensible number. Each message says what
        was measured and what to do.
    """
    images, single = field_of_view.as_rgb_stack(image)
    if not single:
        raise ValueError(f"image must be one (H, W, 3) photograph, got shape {np.shape(image)}.")
    image = images[0]
    model_scale = scale.of_model(model)
    if fov is None:
        fov = estimate_fov(image)
    else:
        fov = np.asarray(fov, dtype=bool)
        if fov.shape != image.shape[:2]:
            raise ValueError(
                f"fov has shape {fov.shape} but the image is {image.shape[:2]}: give the "
                "FOV mask of this photograph."
            )
    if native_size:
        rescale = scale.Rescale(None, 1.0, image.shape[:2])
    else:
        rescale = scale.rescale_for(fov, field_degrees, model_scale, diameter=fov_diameter)
    probabilities = _at_model_scale(model, image, fov, rescale, tta)
    return PhotographPrediction(probabilities, fov, rescale.photo, model_scale, rescale.factor)


def _at_model_scale(model, image, fov, rescale: scale.Rescale, tta: bool) -> np.ndarray:
    """Predict one image resized as ``rescale`` says, back at its own size, 0 outside the FOV."""
    probabilities = rescale.back(predict(model, rescale.to_model(image), tta=tta))
    return np.where(fov, np.clip(probabilities, 0.0, 1.0), np.float32(0.0)).astype(np.float32)


def predict_split(
    model: keras.Model,
    split: data.Split,
    field_degrees: float = scale.DEFAULT_FIELD_DEGREES,
    *,
    tta: bool = False,
    batch_size: int = 1,
    stated: scale.Scale | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Probabilities for every image of a split, each at its own size and the model's scale.

    Explained in ``book/07_your_own_data.ipynb``. The one entry for
    evaluation, on every data set: each image's resizing is decided once
    from its own FOV mask (:func:`retina_tutorial.scale.rescale_for`), so
    images of another camera are predicted at the model's scale and resized
    back, 0 outside the FOV, as :func:`predict_photograph` does. When every
    image is already at the model's scale (DRIVE, the synthetic set) and of
    one size, the stack is predicted as :func:`predict` does, unchanged.

    Parameters
    ----------
    model : keras.Model or retina_tutorial.onnx_model.OnnxModel
    split : retina_tutorial.datasets.Split
    field_degrees : float
        The camera's field angle.
    tta : bool
    batch_size : int
    stated : retina_tutorial.scale.Scale, optional
        The images' scale where the data set states it
        (:attr:`retina_tutorial.datasets.Dataset.stated_scale`: DRIVE's for
        DRIVE and the synthetic set); measured from each FOV mask otherwise.

    Returns
    -------
    ((N, H, W) float32 ndarray, list of float)
        The probabilities, laid out as ``split.images`` (0 in the padding of
        smaller images), and the factor each image was resized by.
    """
    model_scale = scale.of_model(model)
    images = [split.image(index) for index in range(len(split))]
    rescales = [
        scale.rescale_for(one.fov[0], field_degrees, model_scale, stated=stated) for one in images
    ]
    factors = [rescale.factor for rescale in rescales]
    if split.shapes is None and all(factor == 1.0 for factor in factors):
        # Exactly what predict gives for the stack: DRIVE's images are never resampled.
        return predict(
            model, datasets.as_float(split.images), tta=tta, batch_size=batch_size
        ), factors
    canvas = np.zeros(split.fov.shape, np.float32)
    for index, (one, rescale) in enumerate(zip(images, rescales)):
        height, width = one.fov.shape[1:]
        # One image at a time in float32: a split may keep its photographs in 8 bits.
        canvas[index, :height, :width] = _at_model_scale(
            model, datasets.as_float(one.images[0]), one.fov[0], rescale, tta
        )
    return canvas, factors


def predict_file(
    model: keras.Model,
    image_path,
    out_dir,
    *,
    fov_path=None,
    threshold: float = 0.5,
    tta: bool = False,
    field_degrees: float = scale.DEFAULT_FIELD_DEGREES,
    fov_diameter: float | None = None,
    native_size: bool = False,
    verbose: bool = False,
) -> list[Path]:
    """Segment one fundus photograph file and write the results as PNGs.

    Explained in ``book/05_evaluation.ipynb``. The photograph is predicted at
    the model's scale (:func:`predict_photograph`); the factor used is stored
    in the probability PNG's text (``resize_factor``) and, with ``verbose``,
    printed.

    Written to ``out_dir`` (created if needed), named after the image:

    ``<name>_probability.png``
        16-bit greyscale, value = round(65535 x probability), 0 outside the FOV.
    ``<name>_vessels.png``
        8-bit, 255 where probability >= ``threshold`` inside the FOV, else 0.
    ``<name>_fov.png``
        8-bit, 255 inside the field of view used (given or estimated).

    Parameters
    ----------
    model : keras.Model or retina_tutorial.onnx_model.OnnxModel
    image_path : str or Path
        A colour fundus photograph (see :func:`read_fundus`).
    out_dir : str or Path
    fov_path : str or Path, optional
        FOV mask of the same size; estimated with :func:`estimate_fov` when omitted.
    threshold : float
        In [0, 1].
    tta : bool
        Average over the four flips.
    field_degrees, fov_diameter, native_size
        As for :func:`predict_photograph`.
    verbose : bool
        Print one line naming the scale measured and the factor used.

    Returns
    -------
    list of Path
        The three files written.
    """
    threshold = metrics.check_threshold(threshold)
    image_path = Path(image_path)
    image = read_fundus(image_path)
    fov = (
        None
        if fov_path is None
        else data.read_binary(Path(fov_path), str(fov_path), image.shape[:2])
    )
    try:
        prediction = predict_photograph(
            model,
            image,
            fov=fov,
            field_degrees=field_degrees,
            fov_diameter=fov_diameter,
            native_size=native_size,
            tta=tta,
        )
    except ValueError as error:
        raise ValueError(f"{image_path}: {error}") from error
    probabilities, fov = prediction.probabilities, prediction.fov
    if verbose:
        print(f"{image_path.name}: {prediction.describe()}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        out_dir / f"{image_path.stem}_probability.png",
        out_dir / f"{image_path.stem}_vessels.png",
        out_dir / f"{image_path.stem}_fov.png",
    ]
    write_probabilities(
        written[0], probabilities, fov, text={"resize_factor": f"{prediction.factor:.6f}"}
    )
    Image.fromarray(((probabilities >= threshold) & fov).astype(np.uint8) * 255).save(written[1])
    Image.fromarray(fov.astype(np.uint8) * 255).save(written[2])
    return written


def write_probabilities(path, probabilities: np.ndarray, fov: np.ndarray, *, text=None) -> Path:
    """Write a probability map as a 16-bit greyscale PNG: round(65535 x p), 0 outside the FOV.

    Explained in ``book/05_evaluation.ipynb``. :func:`predict_file` and
    :func:`retina_tutorial.report.write_report` write their maps with it;
    the network never learned the black surround, and no metric counts it.

    Parameters
    ----------
    path : str or Path
    probabilities : (H, W) float ndarray
        Clipped to [0, 1] first.
    fov : (H, W) bool ndarray
    text : dict of str to str, optional
        Stored in the PNG's text chunks (``predict_file`` stores the
        ``resize_factor``).
    """
    inside = np.where(np.asarray(fov, bool), np.clip(probabilities, 0.0, 1.0), 0.0)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, str(value))
    path = Path(path)
    # The fastest zlib level: a third of the time of the default, 12 % larger on
    # a 3504 x 2336 photograph's map.
    picture = Image.fromarray(np.round(inside * 65535.0).astype(np.uint16))
    picture.save(path, pnginfo=info, compress_level=1)
    return path


def check_model(model, name: str) -> None:
    """Raise :class:`ModelFileError` unless ``model`` takes (B, H, W, 3) images and gives
    (B, H, W, 1) maps. An :class:`~retina_tutorial.onnx_model.OnnxModel` was checked
    when its file was opened."""
    if isinstance(model, onnx_model.OnnxModel):
        return
    import keras

    if not isinstance(model, keras.Model):
        raise ModelFileError(
            f"{name} is a {type(model).__name__}, not a keras.Model or an ONNX model "
            "(retina_tutorial.onnx_model.load)."
        )
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        shapes = [tuple(x.shape) for x in model.inputs]
        raise ModelFileError(
            f"{name} takes inputs of shape {shapes}; a vessel U-Net takes one "
            "(batch, height, width, 3) image."
        )
    channels = model.inputs[0].shape[-1]
    if channels != 3:
        raise ModelFileError(
            f"{name} takes images with {channels} channel(s), not 3: it was not "
            "trained on RGB fundus photographs. Use a model from retina_tutorial.train."
        )
    outputs = model.outputs
    if len(outputs) != 1 or len(outputs[0].shape) != 4 or outputs[0].shape[-1] != 1:
        raise ModelFileError(
            f"{name} gives outputs of shape {[tuple(y.shape) for y in outputs]}; a vessel "
            "U-Net gives one (batch, height, width, 1) probability map."
        )


def required_multiple_of(model) -> int:
    """The multiple the model's input sides must be (``2 ** depth``), Keras or ONNX."""
    if isinstance(model, onnx_model.OnnxModel):
        return model.required_multiple
    from retina_tutorial.model import required_multiple

    return int(required_multiple(model))


def _fixed_input_size(model) -> tuple[int, int] | None:
    if isinstance(model, onnx_model.OnnxModel):
        return model.input_size
    height, width = model.inputs[0].shape[1:3]
    if height is None and width is None:
        return None
    if height is None or width is None:
        raise ModelFileError(
            f"model input shape {tuple(model.inputs[0].shape)} fixes only one side; "
            "build the U-Net with input_shape=(None, None, 3)."
        )
    return int(height), int(width)


def _forward(model, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """(N, H, W, 3) -> (N, H, W) probabilities, ``batch_size`` images per call."""
    parts = []
    for start in range(0, len(batch), batch_size):
        # A compiled predict step: faster than an eager call (~0.19 s vs ~0.27 s
        # for a DRIVE image on 2 CPU cores) and it is not retraced per shape.
        output = model.predict_on_batch(batch[start : start + batch_size])
        parts.append(np.asarray(output)[..., 0])
    return np.concatenate(parts).astype(np.float32, copy=False)


def _predict_batch(model, batch: np.ndarray, tta: bool, batch_size: int) -> np.ndarray:
    """Predict padded images; with TTA, average the four un-flipped flips."""
    if not tta:
        return _forward(model, batch, batch_size)
    total = np.zeros(batch.shape[:3], dtype=np.float32)
    for flip in _FLIPS:
        total += _forward_flipped(model, batch, flip, batch_size)
    return total / np.float32(len(_FLIPS))


def _forward_flipped(model, batch: np.ndarray, flip, batch_size: int) -> np.ndarray:
    """Predict the flipped images and flip the result back."""
    axes = tuple(axis for axis, flipped in zip((1, 2), flip) if flipped)
    if not axes:
        return _forward(model, batch, batch_size)
    output = _forward(model, np.ascontiguousarray(np.flip(batch, axes)), batch_size)
    return np.flip(output, axes)


def _predict_tiled(model, image, tiles, overlap, multiple, tta, batch_size, exact_tiles):
    """Predict one (H, W, 3) image in overlapping tiles, blended smoothly."""
    padded, box = pad_to_multiple(image, multiple)
    if exact_tiles:
        # The model takes only its own size: pad small images up to it.
        need_h, need_w = max(0, tiles[0] - padded.shape[0]), max(0, tiles[1] - padded.shape[1])
        if need_h or need_w:
            padded = np.pad(padded, ((0, need_h), (0, need_w), (0, 0)), mode="reflect")
    height, width = padded.shape[:2]
    (tile_h, starts_r), (tile_w, starts_c) = grid.tile_layout(
        (height, width), tiles, overlap, multiple
    )
    total = np.zeros((height, width), dtype=np.float32)
    weight = np.zeros((height, width), dtype=np.float32)
    corners = [(r, c) for r in starts_r for c in starts_c]
    for first in range(0, len(corners), batch_size):
        group = corners[first : first + batch_size]
        batch = np.stack([padded[r : r + tile_h, c : c + tile_w] for r, c in group])
        output = _predict_batch(model, batch, tta, batch_size)
        for (r, c), probabilities in zip(group, output):
            window = np.outer(
                grid.tile_weights(r, tile_h, height, overlap),
                grid.tile_weights(c, tile_w, width, overlap),
            )
            total[r : r + tile_h, c : c + tile_w] += window * probabilities
            weight[r : r + tile_h, c : c + tile_w] += window
    # Every pixel has positive weight: overlaps are >= overlap, so one tile is far enough in.
    result = total / weight
    return result[box.top : box.top + box.height, box.left : box.left + box.width]
