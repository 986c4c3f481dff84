"""Image scale: how many pixels one degree of the camera's field spans.

Explained in ``book/06_going_further.ipynb``.

A vessel's width in pixels follows the *pixels per degree* of the camera's
field: the diameter of the field of view (FOV) in pixels divided by the
field angle. DRIVE's camera has a 45° field and its FOV is about 539 pixels
wide, so about 12 pixels per degree; a modern 45° camera with a FOV 2,200
pixels wide has 49, and its vessels are four times as wide in pixels as any
the DRIVE-trained network has seen. Predicting at the training scale means
resizing the photograph by ``model_scale / photo_scale`` first.

The diameter is measured as the FOV's *width* (and height, taking the
larger): many cameras cut the circle at the top and bottom, so its area
would underestimate it. Columns holding fewer than 2 % of the tallest
column's FOV pixels do not count, so a speck of noise beside the circle
does not widen it.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from PIL import Image

#: DRIVE's camera (Canon CR5 non-mydriatic 3CCD) field angle, degrees.
DRIVE_FIELD_DEGREES = 45.0
#: The most common field angle of fundus cameras; used when none is given.
DEFAULT_FIELD_DEGREES = 45.0
#: Median FOV width of DRIVE's 40 official masks, pixels (535 to 541).
DRIVE_FOV_DIAMETER = 539.0
#: Factors closer to 1 than this are not resampled: DRIVE's own images
#: (FOV widths 535 to 541 pixels) stay exactly as they are, and 5 % moves the
#: edges of a 6-pixel vessel by less than a fifth of a pixel.
SAME_SCALE_TOLERANCE = 0.05
#: Enlarging a photograph more than this invents detail it does not have.
MAX_ENLARGEMENT = 4.0
_COLUMN_SHARE = 0.02


@dataclasses.dataclass(frozen=True)
class Scale:
    """The scale of an image, or the one a model was trained at."""

    fov_diameter: float
    field_degrees: float = DEFAULT_FIELD_DEGREES

    def __post_init__(self):
        check_diameter(self.fov_diameter)
        check_field(self.field_degrees)

    @property
    def pixels_per_degree(self) -> float:
        return self.fov_diameter / self.field_degrees

    def to_dict(self) -> dict:
        return {
            "fov_diameter": float(self.fov_diameter),
            "field_degrees": float(self.field_degrees),
            "pixels_per_degree": round(self.pixels_per_degree, 4),
        }

    @classmethod
    def from_dict(cls, values: dict) -> Scale:
        return cls(float(values["fov_diameter"]), float(values["field_degrees"]))

    def __str__(self) -> str:
        return (
            f"FOV {self.fov_diameter:.0f} px wide at {self.field_degrees:g}°, "
            f"{self.pixels_per_degree:.1f} px/degree"
        )


def check_diameter(value) -> float:
    """``value`` as a float if it is a positive, finite number of pixels."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"FOV diameter must be a positive number of pixels, got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"FOV diameter must be a positive number of pixels, got {value!r}.")
    return float(value)


def check_field(value) -> float:
    """``value`` as a float if it is a field angle in (0, 200] degrees."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"field angle must be a number of degrees, got {value!r}.")
    if not np.isfinite(value) or not 0 < value <= 200:
        raise ValueError(
            f"field angle must lie in (0, 200] degrees, got {value!r}; fundus cameras "
            "have 30° to 60° (DRIVE and HRF 45°, STARE 35°, CHASE_DB1 30°)."
        )
    return float(value)


#: The scale of DRIVE's images, at which the shipped model was trained.
DRIVE = Scale(DRIVE_FOV_DIAMETER, DRIVE_FIELD_DEGREES)


#: Where a model in memory keeps the scale it was trained at. Only
#: :func:`attach` sets it; in a file it lives in the package's metadata
#: (:mod:`retina_tutorial.model_files`).
_ATTRIBUTE = "training_scale"


def attach(model, training_scale: Scale | None) -> None:
    """Record on ``model`` the scale it was trained at (None: unknown).

    :func:`retina_tutorial.model.build_unet` records the scale a new model
    is meant for, :func:`retina_tutorial.train.train` the one it trained at,
    and :func:`retina_tutorial.model_files.load` the one its file states.
    """
    if training_scale is not None and not isinstance(training_scale, Scale):
        raise ValueError(f"a training scale must be a scale.Scale, got {training_scale!r}.")
    setattr(model, _ATTRIBUTE, training_scale)


def recorded(model) -> Scale | None:
    """The scale recorded on ``model`` by :func:`attach`, or None when it has none."""
    found = getattr(model, _ATTRIBUTE, None)
    return found if isinstance(found, Scale) else None


def of_model(model) -> Scale:
    """The scale ``model`` was trained at, which prediction resizes photographs to.

    Explained in ``book/06_going_further.ipynb``. Models built, trained or
    loaded by the package carry it (:func:`recorded`). A model from anywhere
    else (a file saved or loaded with plain Keras) is taken to be at DRIVE's
    scale, with a warning that says so.
    """
    found = recorded(model)
    if found is not None:
        return found
    warnings.warn(
        f"{getattr(model, 'name', 'the model')} records no training scale, so DRIVE's "
        f"({DRIVE}) is assumed. Load .keras files with "
        "retina_tutorial.inference.load_model, which reads the scale from the file, or "
        "state it with retina_tutorial.scale.attach(model, scale.Scale(...)).",
        UserWarning,
        stacklevel=2,
    )
    return DRIVE


def of_masks(fov_masks, field_degrees: float = DRIVE_FIELD_DEGREES) -> Scale:
    """The scale of a set of images: the median FOV diameter of their masks."""
    diameters = [fov_diameter(mask) for mask in fov_masks]
    if not diameters:
        raise ValueError("no FOV masks to measure the scale from.")
    return Scale(float(np.median(diameters)), field_degrees)


def fov_diameter(fov: np.ndarray) -> float:
    """Diameter of the field of view in pixels: its width or height, whichever is larger.

    Parameters
    ----------
    fov : (H, W) bool ndarray
        True inside the field of view.

    Raises
    ------
    ValueError
        If the mask is not 2-D or holds no FOV pixel.
    """
    fov = np.asarray(fov)
    if fov.ndim != 2:
        raise ValueError(f"fov must be an (H, W) mask, got shape {fov.shape}.")
    fov = fov.astype(bool)
    if not fov.any():
        raise ValueError("the FOV mask is empty: no field of view to measure.")
    return float(max(_extent(fov.sum(axis=0)), _extent(fov.sum(axis=1))))


def _extent(counts: np.ndarray) -> int:
    kept = np.flatnonzero(counts >= _COLUMN_SHARE * counts.max())
    return int(kept[-1] - kept[0] + 1)


def resize_factor(photo: Scale, model: Scale) -> float:
    """How much to resize a photograph so that it matches the model's scale.

    ``model.pixels_per_degree / photo.pixels_per_degree``, except that a
    factor within :data:`SAME_SCALE_TOLERANCE` of 1 is 1 (no resampling).

    Raises
    ------
    ValueError
        If the photograph would have to be enlarged more than
        :data:`MAX_ENLARGEMENT` times; the message gives the measurement.
    """
    factor = model.pixels_per_degree / photo.pixels_per_degree
    if abs(factor - 1.0) <= SAME_SCALE_TOLERANCE:
        return 1.0
    if factor > MAX_ENLARGEMENT:
        raise ValueError(
            f"the photograph's {photo} would need enlarging {factor:.1f}x to reach the "
            f"model's {model.pixels_per_degree:.1f} px/degree (at most {MAX_ENLARGEMENT:g}x "
            "is sensible). If the FOV was measured wrong, give its diameter in pixels "
            "(--fov-diameter) or a FOV mask (--fov); if the field angle is not "
            f"{photo.field_degrees:g}°, give it (--field-of-view); to predict at the size "
            "given, use --native-size."
        )
    return factor


def factor_for(fov, field_degrees: float, target: Scale) -> float:
    """:func:`resize_factor` for an image with this FOV mask and camera field angle."""
    return rescale_for(fov, field_degrees, target).factor


@dataclasses.dataclass(frozen=True)
class Rescale:
    """How one image goes to a model's scale and its prediction comes back.

    Explained in ``book/06_going_further.ipynb``. Decided once, by
    :func:`rescale_for`, for training (:func:`retina_tutorial.datasets.at_scale`),
    evaluation and prediction (:func:`retina_tutorial.inference.predict_split`
    and :func:`~retina_tutorial.inference.predict_photograph`); a factor of 1
    leaves the pixels exactly as they are.
    """

    #: The image's own scale, as measured or given (None: taken as the model's).
    photo: Scale | None
    #: How much the image is resized (1: not at all).
    factor: float
    #: The image's own ``(height, width)``.
    shape: tuple

    @property
    def resized(self) -> tuple[int, int]:
        """``(height, width)`` at the model's scale."""
        return resized_shape(self.shape, self.factor)

    def to_model(self, image: np.ndarray) -> np.ndarray:
        """An image (or a float mask) at the model's scale; itself when the factor is 1."""
        return image if self.factor == 1.0 else resize_image(image, self.resized)

    def mask_to_model(self, mask: np.ndarray) -> np.ndarray:
        """A FOV mask at the model's scale (nearest neighbour)."""
        return mask if self.factor == 1.0 else resize_mask(mask, self.resized)

    def back(self, probabilities: np.ndarray) -> np.ndarray:
        """A prediction made at the model's scale, at the image's own size again."""
        return probabilities if self.factor == 1.0 else resize_image(probabilities, self.shape)


def rescale_for(
    fov,
    field_degrees: float,
    target: Scale,
    *,
    diameter: float | None = None,
    stated: Scale | None = None,
) -> Rescale:
    """The :class:`Rescale` of an image with this FOV mask and camera field angle.

    Explained in ``book/06_going_further.ipynb``. ``diameter``, when given,
    replaces the FOV diameter measured from ``fov``; ``stated``, when given,
    is the image's whole scale (a data set that states it:
    :attr:`retina_tutorial.datasets.Dataset.stated_scale`), and nothing is
    measured.

    Raises
    ------
    ValueError
        As :func:`resize_factor`, or for a diameter or field angle that is
        not a sensible number.
    """
    fov = np.asarray(fov)
    if stated is not None:
        photo = stated
    else:
        measured = fov_diameter(fov) if diameter is None else check_diameter(diameter)
        photo = Scale(measured, check_field(field_degrees))
    shape = tuple(int(side) for side in fov.shape[:2])
    return Rescale(photo, resize_factor(photo, target), shape)


def resized_shape(shape, factor: float) -> tuple[int, int]:
    """``(height, width)`` scaled by ``factor``, rounded, at least 1 pixel each."""
    return tuple(max(1, round(side * factor)) for side in shape[:2])


def resize_image(image: np.ndarray, shape) -> np.ndarray:
    """An (H, W, C) or (H, W) float image resampled to ``(height, width)``.

    Shrinking averages the pixels each new one covers (no aliasing of thin
    vessels into noise); enlarging interpolates bicubically. Values stay in
    the input's range.
    """
    image = np.asarray(image, dtype=np.float32)
    height, width = int(shape[0]), int(shape[1])
    if image.shape[:2] == (height, width):
        return image.copy()
    shrinking = height * width < image.shape[0] * image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    channels = image[..., None] if image.ndim == 2 else image
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(channels[..., c])).resize(
                    (width, height), method
                )
            )
            for c in range(channels.shape[-1])
        ],
        axis=-1,
    )
    resized = np.clip(resized, float(image.min()), float(image.max()))
    return resized[..., 0] if image.ndim == 2 else resized


def resize_mask(mask: np.ndarray, shape) -> np.ndarray:
    """A boolean mask resampled to ``(height, width)`` (nearest neighbour)."""
    picture = Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255)
    return (
        np.asarray(picture.resize((int(shape[1]), int(shape[0])), Image.Resampling.NEAREST)) > 127
    )
