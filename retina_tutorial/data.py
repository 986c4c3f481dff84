"""Load DRIVE (from its folder or its zip) or the synthetic stand-in.

Explained in ``book/01_data_preparation.ipynb``.

Everything stays at DRIVE's native resolution, 584 x 565 pixels: images are
RGB ``float32`` in [0, 1], vessel and field-of-view (FOV) masks are ``bool``.
The 20 training images are split as in the article: 17 to train on and the
3 in :data:`VALIDATION_IDS` to validate on. The 20 test images keep both
manual annotations; the 2nd observer is the human baseline.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from retina_tutorial import config

#: DRIVE training images kept aside for validation (the last three ids).
VALIDATION_IDS = ("38", "39", "40")
TRAINING_IDS = tuple(str(n) for n in range(21, 41))
TEST_IDS = tuple(f"{n:02d}" for n in range(1, 21))
IMAGE_SHAPE = (584, 565)

# A member bigger than this is no DRIVE file; refusing it stops zip bombs.
MAX_MEMBER_BYTES = 16 * 1024 * 1024

LAYOUT = {
    "training": {
        "images": "training/images/{id}_training.tif",
        "vessels": "training/1st_manual/{id}_manual1.gif",
        "fov": "training/mask/{id}_training_mask.gif",
    },
    "test": {
        "images": "test/images/{id}_test.tif",
        "vessels": "test/1st_manual/{id}_manual1.gif",
        "vessels_2nd": "test/2nd_manual/{id}_manual2.gif",
        "fov": "test/mask/{id}_test_mask.gif",
    },
}


class DataError(ValueError):
    """A data file or folder is missing, malformed or in the wrong place."""


@dataclasses.dataclass(frozen=True)
class Split:
    """Images and masks of one split.

    Attributes
    ----------
    images : (N, H, W, 3) float32 ndarray
        RGB in [0, 1].
    vessels : (N, H, W) bool ndarray
        1st manual annotation: True on vessels.
    fov : (N, H, W) bool ndarray
        Field of view: True inside the eye.
    ids : tuple of str
        DRIVE ids ("21" ... "40", "01" ... "20").
    vessels_2nd : (N, H, W) bool ndarray or None
        2nd manual annotation (test split only).
    """

    images: np.ndarray
    vessels: np.ndarray
    fov: np.ndarray
    ids: tuple
    vessels_2nd: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        second = "" if self.vessels_2nd is None else ", with 2nd manual"
        return f"Split({len(self)} images of {self.images.shape[1:3]}{second})"

    def select(self, ids) -> Split:
        """The sub-split holding only ``ids``, in that order."""
        index = [self.ids.index(i) for i in ids]
        second = None if self.vessels_2nd is None else self.vessels_2nd[index]
        return Split(self.images[index], self.vessels[index], self.fov[index], tuple(ids), second)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The three splits and a plain statement of where they came from.

    Attributes
    ----------
    train, validation, test : Split
        17, 3 and 20 images for DRIVE and for the synthetic set.
    source : {'drive', 'synthetic'}
        Which data this is.
    description : str
        One line for people: what the data is and where it was read.
    """

    train: Split
    validation: Split
    test: Split
    source: str
    description: str

    def __repr__(self) -> str:
        return (
            f"Dataset({self.description}: {len(self.train)} train, "
            f"{len(self.validation)} validation, {len(self.test)} test)"
        )

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


def load_dataset(
    path=None, *, synthetic: bool = False, seed: int = 0, verbose: bool = True
) -> Dataset:
    """Load DRIVE if it can be found, else make the synthetic set.

    Parameters
    ----------
    path : str or Path, optional
        DRIVE folder or zip. Defaults to ``RETINA_TUTORIAL_DATA``.
    synthetic : bool
        Use the synthetic set even when DRIVE is configured.
    seed : int
        Seed of the synthetic set.
    verbose : bool
        Print one line saying which data is in use.

    Raises
    ------
    DataError
        If a DRIVE location is given but cannot be read. A configured location
        that is wrong is an error, never a silent switch to synthetic data.
    """
    configured = config.data_location(path)
    location = None if synthetic else configured
    if location is None:
        from retina_tutorial import synthetic as synthetic_data

        reason = "DRIVE not configured" if configured is None else "asked for instead of DRIVE"
        dataset = synthetic_data.make_dataset(seed=seed, reason=reason)
    else:
        dataset = load_drive(location)
    if verbose:
        print(f"Data: {dataset.description}")
    return dataset


def load_drive(path) -> Dataset:
    """Read DRIVE from its folder or from the zip as distributed.

    Parameters
    ----------
    path : str or Path
        A folder holding ``training/`` and ``test/`` (or one level above such
        a folder), or a ``.zip`` file with that layout inside.

    Raises
    ------
    DataError
        Naming the missing or unreadable file and what to do about it.

    Examples
    --------
    >>> dataset = load_drive("../shared/data/DRIVE")  # doctest: +SKIP
    >>> dataset.train.images.shape  # doctest: +SKIP
    (17, 584, 565, 3)
    """
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"DRIVE not found at {path}: download DRIVE and set "
            f"{config.DATA_VARIABLE} (or pass --data) to its folder or zip file."
        )
    if path.is_file():
        if path.suffix.lower() != ".zip" and not zipfile.is_zipfile(path):
            raise DataError(
                f"{path} is neither a folder nor a zip file: point "
                f"{config.DATA_VARIABLE} at the DRIVE folder or DRIVE.zip."
            )
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(
                f"{path} cannot be opened as a zip file ({error}): it is damaged or "
                "truncated. Download DRIVE.zip again."
            ) from error
        with archive:
            return _load_drive_from(_ZipReader(archive, path), path)
    return _load_drive_from(_FolderReader(find_root(path)), path)


def _load_drive_from(reader, origin: Path) -> Dataset:
    training = _read_split(reader, "training", TRAINING_IDS)
    train_ids = tuple(i for i in TRAINING_IDS if i not in VALIDATION_IDS)
    return Dataset(
        train=training.select(train_ids),
        validation=training.select(VALIDATION_IDS),
        test=_read_split(reader, "test", TEST_IDS),
        source="drive",
        description=f"DRIVE from {origin}",
    )


def _read_split(reader, split: str, ids) -> Split:
    layout = LAYOUT[split]
    images, vessels, fov, second = [], [], [], []
    for image_id in ids:
        image_name = layout["images"].format(id=image_id)
        image = read_rgb(reader.open(image_name), image_name)
        if images and image.shape != images[0].shape:
            first = layout["images"].format(id=ids[0])
            raise DataError(
                f"{image_name}: size {image.shape[:2]} differs from {first} "
                f"{images[0].shape[:2]}. DRIVE's images are all 584 x 565: replace "
                "this file with the original."
            )
        images.append(image)
        for key, store in (("vessels", vessels), ("fov", fov), ("vessels_2nd", second)):
            if key in layout:
                name = layout[key].format(id=image_id)
                store.append(read_binary(reader.open(name), name, image.shape[:2]))
    return Split(
        images=np.stack(images),
        vessels=np.stack(vessels),
        fov=np.stack(fov),
        ids=tuple(ids),
        vessels_2nd=np.stack(second) if second else None,
    )


def read_rgb(source, name) -> np.ndarray:
    """Read an 8-bit RGB image as (H, W, 3) float32 in [0, 1].

    ``source`` is a path or a binary file object; ``name`` is what error
    messages call it.
    """
    with _open_image(source, name) as image:
        if image.mode not in ("RGB", "RGBA"):
            raise DataError(
                f"{name}: expected an RGB colour image, found mode {image.mode!r}. "
                "Use the original DRIVE .tif files."
            )
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    return rgb / np.float32(255.0)


def read_binary(source, name, shape=None) -> np.ndarray:
    """Read a two-level mask or annotation as a (H, W) bool array.

    Any GIF/PNG mode is accepted (1-bit, greyscale, palette, RGB) as long as
    the picture holds at most two grey levels; the brighter one is True.

    Raises
    ------
    DataError
        If the file has more than two levels, or its shape is not ``shape``.
    """
    with _open_image(source, name) as image:
        grey = np.asarray(image.convert("L"))
    levels = np.unique(grey)
    if levels.size > 2:
        raise DataError(
            f"{name}: expected a binary mask (two levels), found {levels.size} "
            f"grey levels in mode {image.mode!r}. Use the original DRIVE "
            "annotation, or save yours with vessels white on black."
        )
    if shape is not None and grey.shape != tuple(shape):
        raise DataError(
            f"{name}: shape {grey.shape} does not match its image {tuple(shape)}. "
            "Each mask must be the same size as the image it annotates."
        )
    if levels.size == 1:
        return np.full(grey.shape, levels[0] > 127)
    return grey == levels[-1]


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
            "or truncated: download DRIVE again."
        ) from error
    return image


def layout_files() -> list[str]:
    """Every file DRIVE's official layout names, relative to its root folder.

    Examples
    --------
    >>> layout_files()[0], len(layout_files())
    ('training/images/21_training.tif', 140)
    """
    names = []
    for split, ids in (("training", TRAINING_IDS), ("test", TEST_IDS)):
        for pattern in LAYOUT[split].values():
            names.extend(pattern.format(id=image_id) for image_id in ids)
    return names


def find_root(folder) -> Path:
    """The folder holding ``training/`` and ``test/``: ``folder`` or one of its children.

    Raises
    ------
    DataError
        If neither looks like DRIVE.
    """
    folder = Path(folder)
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        if (candidate / "training" / "images").is_dir():
            return candidate
    raise DataError(
        f"{folder} does not look like DRIVE: expected training/images/ and "
        "test/images/ inside it (the layout of the official DRIVE.zip)."
    )


class _FolderReader:
    def __init__(self, root: Path):
        self.root = root

    def open(self, name: str):
        file = self.root / name
        if not file.is_file():
            raise DataError(
                f"{file} is missing: DRIVE's layout is incomplete. Download the "
                "full DRIVE dataset again and keep its folders as they are."
            )
        return file


class _ZipReader:
    """Reads members straight from the zip, in memory: nothing is extracted."""

    def __init__(self, archive: zipfile.ZipFile, origin: Path):
        self.origin = origin
        self.members = {}
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            if (
                info.filename.startswith(("/", "\\"))
                or ".." in member.parts
                or (member.parts and ":" in member.parts[0])
            ):
                raise DataError(
                    f"{origin}: member {info.filename!r} points outside the "
                    "archive; refusing to read this zip. Use the official DRIVE.zip."
                )
            self.members[info.filename] = info
        self.archive = archive
        self.prefix = self._find_prefix()

    def _find_prefix(self) -> str:
        marker = "training/images/"
        for name in sorted(self.members, key=len):
            if marker in name:
                return name[: name.index(marker)]
        raise DataError(
            f"{self.origin} does not contain DRIVE: no training/images/ inside. "
            "Use the official DRIVE.zip."
        )

    def open(self, name: str):
        info = self.members.get(self.prefix + name)
        if info is None:
            raise DataError(
                f"{self.origin}: {self.prefix + name} is missing from the zip. "
                "Download the full DRIVE.zip again."
            )
        if info.file_size > MAX_MEMBER_BYTES:
            raise DataError(
                f"{self.origin}: {info.filename} claims {info.file_size} bytes, "
                f"more than any DRIVE file ({MAX_MEMBER_BYTES} allowed); refusing it."
            )
        try:
            with self.archive.open(info) as member:
                payload = member.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise DataError(
                f"{self.origin}: {info.filename} cannot be unpacked ({error}): the zip "
                "is damaged or truncated. Download DRIVE.zip again."
            ) from error
        if len(payload) != info.file_size:
            raise DataError(
                f"{self.origin}: {info.filename} is damaged (read {len(payload)} "
                f"of {info.file_size} bytes). Download DRIVE.zip again."
            )
        return io.BytesIO(payload)
