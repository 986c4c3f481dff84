"""DRIVE: its layout, its split, and reading it from its folder or its zip.

Explained in ``book/01_data_preparation.ipynb``.

Everything stays at DRIVE's native resolution, 584 x 565 pixels: images are
RGB ``float32`` in [0, 1], vessel and field-of-view (FOV) masks are ``bool``.
The 20 training images are split as in the article: 17 to train on and the
3 in :data:`VALIDATION_IDS` to validate on. The 20 test images keep both
manual annotations; the 2nd observer is the human baseline.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from retina_tutorial import config
from retina_tutorial.datasets import (
    DataError,
    Dataset,
    Split,
    read_binary,
    read_rgb,
    shown_location,
)

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
        description=f"DRIVE from {shown_location(origin)}",
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
