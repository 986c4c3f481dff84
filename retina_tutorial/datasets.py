"""The containers every stage takes: a split of images with their masks, and a data set.

Explained in ``book/01_data_preparation.ipynb`` (DRIVE) and
``book/07_your_own_data.ipynb`` (other data sets).

Images are RGB ``float32`` in [0, 1], or, for photographs read to be
evaluated, their 8-bit pixels (``uint8``, a quarter of the memory:
:func:`as_float` gives the very ``float32`` values :func:`read_rgb` would);
vessel and field-of-view (FOV) masks are ``bool``. A split's images are
stacked into one array. Images of different sizes (a user's own photographs,
say) are stacked top-left in an array as large as the largest, and
:attr:`Split.shapes` keeps each one's own size: the padding is black, outside
every mask and outside the FOV, so metrics, which count FOV pixels only, and
patches, which are centred inside the FOV, never use it. :meth:`Split.image`
gives one image back at its own size.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from retina_tutorial import scale


class DataError(ValueError):
    """A data file or folder is missing, malformed or in the wrong place."""


@dataclasses.dataclass(frozen=True)
class Split:
    """Images and masks of one split.

    Attributes
    ----------
    images : (N, H, W, 3) float32 or uint8 ndarray
        RGB in [0, 1], or 0-255 when read with ``eight_bit`` (see
        :func:`as_float`).
    vessels : (N, H, W) bool ndarray
        1st manual annotation: True on vessels.
    fov : (N, H, W) bool ndarray
        Field of view: True inside the eye.
    ids : tuple of str
        Image ids ("21" ... "40", "01" ... "20" for DRIVE).
    vessels_2nd : (N, H, W) bool ndarray or None
        2nd manual annotation, where the data set has one.
    shapes : tuple of (int, int), optional
        Each image's own (height, width) when they differ; None when every
        image fills the array.
    """

    images: np.ndarray
    vessels: np.ndarray
    fov: np.ndarray
    ids: tuple
    vessels_2nd: np.ndarray | None = None
    shapes: tuple | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        second = "" if self.vessels_2nd is None else ", with 2nd manual"
        if self.shapes is None:
            size = f"{self.images.shape[1:3]}"
        else:
            size = f"sizes {min(self.shapes)} to {max(self.shapes)}"
        return f"Split({len(self)} images of {size}{second})"

    def shape_of(self, index: int) -> tuple[int, int]:
        """The (height, width) of image ``index`` itself."""
        return tuple(self.images.shape[1:3]) if self.shapes is None else tuple(self.shapes[index])

    def image(self, index: int) -> Split:
        """Image ``index`` alone, at its own size, as a one-image split."""
        height, width = self.shape_of(index)
        crop = np.s_[index : index + 1, :height, :width]
        second = None if self.vessels_2nd is None else self.vessels_2nd[crop]
        return Split(
            self.images[crop], self.vessels[crop], self.fov[crop], (self.ids[index],), second
        )

    def select(self, ids) -> Split:
        """The sub-split holding only ``ids``, in that order."""
        index = [self.ids.index(i) for i in ids]
        if self.shapes is not None:
            return stack([self.image(i) for i in index])
        second = None if self.vessels_2nd is None else self.vessels_2nd[index]
        return Split(self.images[index], self.vessels[index], self.fov[index], tuple(ids), second)


def stack(parts) -> Split:
    """One split from one-image splits of any sizes (see the module's note on padding)."""
    parts = list(parts)
    if not parts:  # a data set without, say, training images
        return Split(np.zeros((0, 1, 1, 3), np.float32), *np.zeros((2, 0, 1, 1), bool), ())
    shapes = tuple(tuple(part.images.shape[1:3]) for part in parts)
    height, width = max(s[0] for s in shapes), max(s[1] for s in shapes)
    # 8-bit images stay 8-bit when all are; a mixed stack is float32.
    eight_bit = all(part.images.dtype == np.uint8 for part in parts)
    with_second = all(part.vessels_2nd is not None for part in parts)

    def canvas(name, dtype, channels=()):
        out = np.zeros((len(parts), height, width, *channels), dtype)
        for i, part in enumerate(parts):
            h, w = shapes[i]
            pixels = getattr(part, name)[0]
            out[i, :h, :w] = as_float(pixels) if name == "images" and not eight_bit else pixels
        return out

    return Split(
        images=canvas("images", np.uint8 if eight_bit else np.float32, (3,)),
        vessels=canvas("vessels", bool),
        fov=canvas("fov", bool),
        ids=tuple(i for part in parts for i in part.ids),
        vessels_2nd=canvas("vessels_2nd", bool) if with_second else None,
        shapes=None if len(set(shapes)) == 1 else shapes,
    )


def one_image(image, vessels, fov, image_id, vessels_2nd=None) -> Split:
    """A one-image split from (H, W, 3) and (H, W) arrays (8-bit images stay 8-bit)."""
    second = None if vessels_2nd is None else np.asarray(vessels_2nd, bool)[None]
    image = np.asarray(image)
    return Split(
        (image if image.dtype == np.uint8 else image.astype(np.float32, copy=False))[None],
        np.asarray(vessels, bool)[None],
        np.asarray(fov, bool)[None],
        (str(image_id),),
        second,
    )


#: How reports name each data set.
DISPLAY_NAMES = {
    "drive": "DRIVE",
    "stare": "STARE",
    "stare_stand_in": "STARE stand-in",
    "chase_db1": "CHASE_DB1",
    "hrf": "HRF",
}


def display_name(source: str) -> str:
    """``'chase_db1'`` -> ``'CHASE_DB1'``; ``'csv'`` -> ``'own data'``."""
    return DISPLAY_NAMES.get(source, {"csv": "own data"}.get(source, source))


def shown_location(location) -> str:
    """Where data came from, as a report may say it: the folder or file's name only.

    Descriptions end up on book pages and in shipped reports, which must not
    carry the paths of the machine that made them; the name tells a reader
    which copy was used.

    >>> shown_location("/home/ana/data/DRIVE"), shown_location("/tmp/DRIVE.zip")
    ("the folder 'DRIVE'", "'DRIVE.zip'")
    """
    location = Path(location)
    name = location.name or str(location)
    return f"'{name}'" if location.is_file() or location.suffix else f"the folder '{name}'"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The three splits and a plain statement of where they came from.

    Attributes
    ----------
    train, validation, test : Split
        17, 3 and 20 images for DRIVE and for the synthetic set.
    source : str
        Which data this is: ``'drive'``, ``'synthetic'``, ``'stare'``,
        ``'chase_db1'``, ``'hrf'`` or ``'csv'``; ``'stare_stand_in'`` for
        the stand-in that :mod:`retina_tutorial.stand_in` writes in STARE's
        layout.
    description : str
        One line for people: what the data is, where it was read, which
        split, and whether the FOV masks were given or estimated.
    field_degrees : float
        The camera's field angle, which sets the images' scale
        (:mod:`retina_tutorial.scale`).
    fov_estimated : bool
        True when the data set ships no FOV masks and they were estimated.
    made_from : dict of str to tuple of str, optional
        For images made from other images (the STARE stand-in's): image id
        -> the keys (``"DRIVE 21"``) of the images it was made from, so that
        :mod:`retina_tutorial.provenance` knows what a model trained on it
        has seen.
    """

    train: Split
    validation: Split
    test: Split
    source: str
    description: str
    field_degrees: float = 45.0
    fov_estimated: bool = False
    made_from: dict | None = None

    def __repr__(self) -> str:
        return (
            f"Dataset({self.description}: {len(self.train)} train, "
            f"{len(self.validation)} validation, {len(self.test)} test)"
        )

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"

    @property
    def name(self) -> str:
        """The data set's name as reports write it: DRIVE, STARE, CHASE_DB1, HRF, ..."""
        return display_name(self.source)

    @property
    def stated_scale(self) -> scale.Scale | None:
        """The images' scale when the data set's camera fixes it, else None (measured).

        DRIVE's images, and the synthetic set drawn after them, are at
        DRIVE's scale by definition (:data:`retina_tutorial.scale.DRIVE`),
        whatever size a copy or a test double has; the images of any other
        data set are measured one by one from their FOV masks. Either way the
        factor is decided by :func:`retina_tutorial.scale.rescale_for`.
        """
        return scale.DRIVE if self.source in ("drive", "synthetic") else None

    @property
    def at_drive_scale(self) -> bool:
        """Whether the data set states DRIVE's scale (:attr:`stated_scale`): never resized."""
        stated = self.stated_scale
        return stated is not None and scale.resize_factor(stated, scale.DRIVE) == 1.0


def read_rgb(source, name, *, eight_bit: bool = False) -> np.ndarray:
    """Read an 8-bit RGB image as (H, W, 3) float32 in [0, 1].

    ``source`` is a path or a binary file object; ``name`` is what error
    messages call it. With ``eight_bit``, the pixels are returned as they are
    stored, (H, W, 3) ``uint8``; :func:`as_float` turns them into what this
    function returns without it, bit for bit.
    """
    with _open_image(source, name) as image:
        if image.mode not in ("RGB", "RGBA"):
            raise DataError(
                f"{name}: expected an RGB colour image, found mode {image.mode!r}. "
                "Use the data set's original colour photographs."
            )
        rgb = np.asarray(image.convert("RGB"))
    return rgb if eight_bit else as_float(rgb)


def as_float(images) -> np.ndarray:
    """Images as ``float32`` in [0, 1]: 8-bit (``uint8``) pixels divided by 255, others as they are.

    Explained in ``book/07_your_own_data.ipynb``. A split read with
    ``eight_bit`` keeps its photographs' 8-bit pixels (a quarter of the memory
    of ``float32``); whatever needs numbers, the model above all, takes them
    through this function, which gives exactly what :func:`read_rgb` gives.

    >>> as_float(np.array([0, 51, 255], np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images


def read_binary(source, name, shape=None, *, threshold: int | None = None) -> np.ndarray:
    """Read a two-level mask or annotation as a (H, W) bool array.

    Any GIF/PNG/TIFF/PPM mode is accepted (1-bit, greyscale, palette, RGB) as
    long as the picture holds at most two grey levels; the brighter one is
    True. With ``threshold``, grey levels at or above it are True and any
    number of levels is accepted (STARE's labels are not all 0 or 255).

    Raises
    ------
    DataError
        If the file has more than two levels (without ``threshold``), or its
        shape is not ``shape``.
    """
    with _open_image(source, name) as image:
        grey = np.asarray(image.convert("L"))
    if threshold is not None:
        _check_shape(grey, shape, name)
        return grey >= threshold
    # Which of the 256 grey levels occur: a count, not np.unique's sort of every pixel.
    levels = np.flatnonzero(np.bincount(grey.ravel(), minlength=256)).astype(grey.dtype)
    if levels.size > 2:
        raise DataError(
            f"{name}: expected a binary mask (two levels), found {levels.size} "
            f"grey levels in mode {image.mode!r}. Use the data set's original "
            "annotation, or save yours with vessels white on black."
        )
    _check_shape(grey, shape, name)
    if levels.size == 1:
        return np.full(grey.shape, levels[0] > 127)
    return grey == levels[-1]


def _check_shape(grey, shape, name) -> None:
    if shape is not None and grey.shape != tuple(shape):
        raise DataError(
            f"{name}: shape {grey.shape} does not match its image {tuple(shape)}. "
            "Each mask must be the same size as the image it annotates."
        )


def _open_image(source, name):
    image = None
    try:
        image = Image.open(source)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if image is not None:
            image.close()
        raise DataError(
            f"{name}: cannot be read as an image ({error}). The file is corrupt "
            "or truncated: download or export it again."
        ) from error
    return image


def at_scale(
    split: Split, field_degrees: float, target, *, stated: scale.Scale | None = None
) -> tuple[Split, list[float]]:
    """``split`` with each image resized to the scale ``target``, a :class:`~.scale.Scale`.

    Each image's own scale is its FOV's diameter over ``field_degrees``; the
    factor follows :func:`retina_tutorial.scale.resize_factor`, so images
    already within 5 % of ``target`` are not touched (DRIVE trained at
    DRIVE's scale is the very same data). Images are averaged down or
    interpolated up; annotations are resized as fractions and thresholded at
    a half, which keeps thin vessels that nearest-neighbour sampling would
    break; FOV masks by nearest neighbour.

    ``stated``, when given (:attr:`Dataset.stated_scale`), is every image's
    scale instead of the one measured from its FOV mask.

    Returns
    -------
    (Split, list of float)
        The resized split and the factor used for each image.
    """
    parts, factors = [], []
    for index in range(len(split)):
        one = split.image(index)
        rescale = scale.rescale_for(one.fov[0], field_degrees, target, stated=stated)
        factors.append(rescale.factor)
        if rescale.factor == 1.0:
            parts.append(one)
            continue
        second = None if one.vessels_2nd is None else _annotation(rescale, one.vessels_2nd[0])
        parts.append(
            one_image(
                rescale.to_model(as_float(one.images[0])),
                _annotation(rescale, one.vessels[0]),
                rescale.mask_to_model(one.fov[0]),
                one.ids[0],
                second,
            )
        )
    if all(factor == 1.0 for factor in factors):
        return split, factors
    return stack(parts), factors


def _annotation(rescale: scale.Rescale, mask) -> np.ndarray:
    return rescale.to_model(mask.astype(np.float32)) >= 0.5
