"""STARE, CHASE_DB1, HRF and your own data (a CSV), read as distributed.

Explained in ``book/07_your_own_data.ipynb``.

Each loader takes the data set's folder or its archive exactly as its authors
distribute it (a folder of archives too: STARE comes as three tar files) and
returns a :class:`~retina_tutorial.datasets.Dataset` with the split most papers
use, the camera's field angle (which sets the scale, see
:mod:`retina_tutorial.scale`), and FOV masks: given where the data set has
them, estimated otherwise (:func:`retina_tutorial.field_of_view.estimate_fov`).
The description names all three, so every report says what it measured.

========== ========================== ======================= ===== ==========
data set   split (train / test)       validation              field FOV masks
========== ========================== ======================= ===== ==========
STARE      im0001-im0139 / the last 10 im0082, im0139 of train 35°   estimated
CHASE_DB1  01L-10R / 11L-14R (20 / 8) 10L, 10R of train       30°   estimated
HRF        01-05 / 06-15 of each group 05 of each group        45°   given
CSV        the ``split`` column       the ``split`` column     given given or
                                                                     estimated
========== ========================== ======================= ===== ==========

Other splits exist (leave-one-out for STARE; 8 / 20 for CHASE_DB1 in
bob.ip.binseg): compare a result only with results on the same split.

Your own data is a CSV file, paths relative to it, one row per image::

    # field_degrees: 45
    image,vessels,fov,split
    photos/eye1.jpg,labels/eye1.png,masks/eye1.png,train
    photos/eye2.jpg,labels/eye2.png,,test

``fov`` and ``split`` may be left empty (or the columns left out): a missing
FOV mask is estimated, a missing split is ``test``. The ``# field_degrees``
line gives the camera's field angle once; without it, 45°. Two more
columns are optional: ``vessels_2nd``, a second annotator's map (scored as
the 2nd observer when every test image has one), and ``patient``, which
keeps all images of one person in one split (a patient in two splits is an
error naming both rows).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from retina_tutorial import field_of_view
from retina_tutorial.datasets import (
    DataError,
    Dataset,
    as_float,
    display_name,
    one_image,
    read_binary,
    read_rgb,
    shown_location,
    stack,
)

#: The file :mod:`retina_tutorial.stand_in` leaves in a stand-in's folder:
#: its first line says what the stand-in was made from.
STAND_IN_FILE = "STAND_IN.txt"
#: The layouts :func:`load` reads; reports name them with
#: :func:`retina_tutorial.datasets.display_name`.
KINDS = ("stare", "chase_db1", "hrf", "csv")
#: Every split a loader reads unless told which (``splits=``).
SPLITS = ("train", "validation", "test")
FIELD_DEGREES = {"stare": 35.0, "chase_db1": 30.0, "hrf": 45.0}
STARE_IDS = (
    "im0001", "im0002", "im0003", "im0004", "im0005", "im0044", "im0077", "im0081", "im0082",
    "im0139", "im0162", "im0163", "im0235", "im0236", "im0239", "im0240", "im0255", "im0291",
    "im0319", "im0324",
)  # fmt: skip
#: The ten STARE photographs Hoover et al. (2000) describe as pathological;
#: the other ten are normal.
STARE_PATHOLOGICAL = (
    "im0001", "im0002", "im0003", "im0004", "im0005", "im0044", "im0139", "im0291", "im0319",
    "im0324",
)  # fmt: skip
CHASE_IDS = tuple(f"{n:02d}{eye}" for n in range(1, 15) for eye in "LR")
HRF_GROUPS = ("h", "dr", "g")
HRF_IDS = tuple(f"{n:02d}_{group}" for group in HRF_GROUPS for n in range(1, 16))
# Archive members larger than this are no fundus photograph; refusing them
# stops zip bombs.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_ARCHIVE = re.compile(r"\.(zip|tar|tar\.gz|tgz)$", re.IGNORECASE)


class _Files:
    """Every file under a folder or inside an archive, found by name, case ignored.

    Archives inside the folder are read too (STARE ships as three tar files).
    Nothing is extracted: members are read into memory, and ``.gz`` files
    (STARE's PPMs) are unpacked on the way.
    """

    def __init__(self, location: Path):
        self.location = location
        self.openers: dict[str, tuple[str, object]] = {}
        self.archives: list = []
        if location.is_dir():
            for path in sorted(location.rglob("*")):
                if path.is_file() and _ARCHIVE.search(path.name):
                    self._index_archive(path)
                elif path.is_file():
                    self._add(path.name, str(path), path.read_bytes)
        elif _ARCHIVE.search(location.name):
            self._index_archive(location)
        else:
            raise DataError(
                f"{location} is neither a folder nor a .zip or .tar archive: point the "
                "data setting at the data set's folder or its archive as distributed."
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for archive in self.archives:
            archive.close()

    def _add(self, name: str, shown: str, read) -> None:
        self.openers.setdefault(name.lower(), (shown, read))

    def _index_archive(self, path: Path) -> None:
        try:
            if path.name.lower().endswith(".zip"):
                archive = zipfile.ZipFile(path)
                self.archives.append(archive)
                for info in archive.infolist():
                    if not info.is_dir():
                        self._add_member(path, info.filename, info.file_size, archive.read, info)
            else:
                archive = tarfile.open(path)
                self.archives.append(archive)
                for info in archive.getmembers():
                    if info.isfile():
                        self._add_member(
                            path, info.name, info.size,
                            lambda member: archive.extractfile(member).read(), info,
                        )  # fmt: skip
        except (zipfile.BadZipFile, tarfile.TarError, OSError) as error:
            raise DataError(
                f"{path} cannot be opened as an archive ({error}): it is damaged or "
                "truncated. Download it again."
            ) from error

    def _add_member(self, archive_path, name, size, read, info) -> None:
        shown = f"{archive_path}:{name}"
        if size > MAX_MEMBER_BYTES:
            raise DataError(
                f"{shown} claims {size} bytes, more than any fundus image; refusing it."
            )
        self._add(Path(name).name, shown, lambda: read(info))

    def names(self) -> list[str]:
        return list(self.openers)

    def find(self, *candidates: str, required: bool = True):
        """The first of ``candidates`` (file names, any case) that exists, as (shown, bytes)."""
        for candidate in candidates:
            found = self.openers.get(candidate.lower())
            if found is not None:
                shown, read = found
                content = read()
                if shown.lower().endswith(".gz"):
                    try:
                        content = gzip.decompress(content)
                    except (OSError, EOFError) as error:
                        raise DataError(f"{shown}: cannot be unpacked ({error}).") from error
                return shown, io.BytesIO(content)
        if required:
            raise DataError(
                f"{self.location}: {candidates[0]} is missing. The data set's layout is "
                "incomplete: download it again and keep its files as distributed."
            )
        return None


def detect(location) -> str:
    """Which data set ``location`` holds: drive, stare, chase_db1, hrf or csv.

    Raises
    ------
    DataError
        If it looks like none of them; the message lists what was looked for.
    """
    location = Path(location)
    if location.suffix.lower() == ".csv" or (
        location.is_dir() and len(list(location.glob("*.csv"))) == 1
    ):
        return "csv"
    if _looks_like_drive(location):
        return "drive"
    with _Files(location) as files:
        names = files.names()
    patterns = {
        "drive": r"\d\d_training\.tif",
        "stare": r"im\d{4}\.ppm(\.gz)?",
        "chase_db1": r"image_\d\d[lr]\.jpg",
        "hrf": r"\d\d_(h|dr|g)\.jpe?g",
    }
    for kind, pattern in patterns.items():
        if any(re.fullmatch(pattern, name) for name in names):
            return kind
    raise DataError(
        f"{location} holds none of the data sets the package reads: DRIVE "
        "(training/images/NN_training.tif), STARE (im0001.ppm.gz ...), CHASE_DB1 "
        "(Image_01L.jpg ...), HRF (images/01_h.jpg ...) or a CSV of your own. Check the "
        "path, or give the data set explicitly (--dataset)."
    )


def _looks_like_drive(location: Path) -> bool:
    """DRIVE's folders (``training/images/``), in the folder, one below it, or in a zip."""
    if location.is_dir():
        candidates = [location, *(child for child in location.iterdir() if child.is_dir())]
        return any((candidate / "training" / "images").is_dir() for candidate in candidates)
    if zipfile.is_zipfile(location):
        with zipfile.ZipFile(location) as archive:
            return any("training/images/" in name for name in archive.namelist())
    return False


def load(location, kind: str, *, splits=SPLITS, eight_bit: bool = False) -> Dataset:
    """Read the data set ``kind`` (see :data:`KINDS`) from ``location``.

    Parameters
    ----------
    location : str or Path
    kind : str
    splits : sequence of str
        The splits whose images are read (of :data:`SPLITS`); the others are
        empty. Evaluation needs only ``("validation", "test")``.
    eight_bit : bool
        Keep the photographs' 8-bit pixels (``uint8``, a quarter of the
        memory; :func:`retina_tutorial.datasets.as_float` gives the
        ``float32`` values otherwise read).
    """
    loaders = {"stare": load_stare, "chase_db1": load_chase_db1, "hrf": load_hrf, "csv": load_csv}
    if kind not in loaders:
        raise DataError(f"Unknown data set {kind!r}: choose one of {', '.join(loaders)}.")
    return loaders[kind](location, splits=splits, eight_bit=eight_bit)


def load_stare(location, *, splits=SPLITS, eight_bit: bool = False) -> Dataset:
    """STARE: 20 photographs (gzipped PPM), two annotators (``ah``, ``vk``), no FOV masks.

    Split as most papers do: the first 10 to train on (the last two of them,
    im0082 and im0139, to validate on), the last 10 to test. Some label
    pixels are neither 0 nor 255; they are thresholded at 128. A folder
    that :func:`retina_tutorial.stand_in.write_stare` wrote (it holds
    :data:`STAND_IN_FILE`) is read as what it is: source
    ``'stare_stand_in'``, described with what it was made from, and each
    image's origin in ``made_from``.

    Hoover et al. (2000) label ten of the twenty photographs normal and ten
    pathological (:data:`STARE_PATHOLOGICAL`); this split puts seven of the
    pathological ones in training and three in the test images.
    ``splits`` and ``eight_bit`` are :func:`load`'s.
    """
    dataset = _two_annotators(
        "stare",
        location,
        lambda i: ((f"{i}.ppm.gz", f"{i}.ppm"), (f"{i}.ah.ppm.gz", f"{i}.ah.ppm"),
                   (f"{i}.vk.ppm.gz", f"{i}.vk.ppm")),
        (STARE_IDS[:8], STARE_IDS[8:10], STARE_IDS[10:]),
        "split: im0001-im0139 train (im0082, im0139 validation), last 10 test",
        splits, eight_bit,
    )  # fmt: skip
    marker = Path(location) / STAND_IN_FILE
    if not marker.is_file():
        return dataset
    first, *lines = marker.read_text().strip().splitlines()
    made_from = {}
    for line in lines:
        image_id, arrow, source = line.partition(" <- ")
        if arrow:
            made_from[image_id.strip()] = (source.strip(),)
    return dataclasses.replace(
        dataset,
        source="stare_stand_in",
        description=f"{first}; {dataset.description.removeprefix('STARE ')}",
        made_from=made_from,
    )


def load_chase_db1(location, *, splits=SPLITS, eight_bit: bool = False) -> Dataset:
    """CHASE_DB1: 28 photographs of 14 children, two annotators, no FOV masks.

    The common 20 / 8 split: 01L-10R to train on (10L and 10R to validate
    on), 11L-14R to test. bob.ip.binseg uses the reverse (8 / 20).
    ``splits`` and ``eight_bit`` are :func:`load`'s.
    """
    return _two_annotators(
        "chase_db1",
        location,
        lambda i: ((f"Image_{i}.jpg",), (f"Image_{i}_1stHO.png",), (f"Image_{i}_2ndHO.png",)),
        (CHASE_IDS[:18], CHASE_IDS[18:20], CHASE_IDS[20:]),
        "split 20 / 8: 01L-10R train (10L, 10R validation), 11L-14R test",
        splits,
        eight_bit,
    )


def _two_annotators(kind, location, names, split_ids, split_note, splits, eight_bit) -> Dataset:
    """A data set of photographs with no FOV masks and two annotations of each test image.

    A training or validation image may lack its 2nd annotation (only the
    test images' is ever used).
    """
    test_ids = set(split_ids[2])
    with _files(location, display_name(kind)) as files:

        def read(image_id):
            photo_names, first_names, second_names = names(image_id)
            shown, content = files.find(*photo_names)
            image = read_rgb(content, shown, eight_bit=eight_bit)
            vessels = _read_label(files, first_names, image)
            second = _read_label(files, second_names, image, required=image_id in test_ids)
            return one_image(image, vessels, _estimated_fov(image, shown), image_id, second)

        return _dataset(
            kind, location, read, *split_ids, split_note, fov_estimated=True, splits=splits
        )


def load_hrf(location, *, splits=SPLITS, eight_bit: bool = False) -> Dataset:
    """HRF: 45 photographs (15 healthy, 15 diabetic retinopathy, 15 glaucoma), FOV masks given.

    Cases 01-05 of each group to train on (the 05s to validate on), 06-15 to
    test (30). Extensions are mixed in case (``01_dr.JPG``); names are found
    whatever their case. The masks have three channels; one is used.
    ``splits`` and ``eight_bit`` are :func:`load`'s.
    """
    with _files(location, "HRF") as files:

        def read(image_id):
            shown, content = files.find(f"{image_id}.jpg", f"{image_id}.jpeg", f"{image_id}.tif")
            image = read_rgb(content, shown, eight_bit=eight_bit)
            vessels = _read_label(
                files, (f"{image_id}.tif", f"{image_id}.png"), image, image_file=shown
            )
            fov_shown, fov_content = files.find(f"{image_id}_mask.tif", f"{image_id}_mask.png")
            fov = read_binary(fov_content, fov_shown, image.shape[:2], threshold=128)
            return one_image(image, vessels, fov, image_id)

        ids = {n: tuple(f"{n:02d}_{group}" for group in HRF_GROUPS) for n in range(1, 16)}
        train = tuple(i for n in range(1, 5) for i in ids[n])
        return _dataset(
            "hrf", location, read, train, ids[5], tuple(i for n in range(6, 16) for i in ids[n]),
            "split: cases 01-05 of each group train (the 05s validation), 06-15 test",
            fov_estimated=False, splits=splits,
        )  # fmt: skip


def load_csv(location, *, splits=SPLITS, eight_bit: bool = False) -> Dataset:
    """Your own data, listed in a CSV file (see the module's docstring for the format).

    Every row is checked: a missing file, a path outside the CSV's folder, an
    image and a mask of different sizes or a mask that is not binary is an
    error naming the row and the file. Without validation rows, the last
    training row (or the last 15 % of them) validates, and the description
    says which. ``splits`` and ``eight_bit`` are :func:`load`'s: the rows of
    the other splits are checked for their files but not read (training
    rows are read when they must validate).
    """
    splits = _check_splits(splits)
    location = Path(location)
    if location.is_dir():
        found = sorted(location.glob("*.csv"))
        if len(found) != 1:
            raise DataError(
                f"{location}: expected one .csv file listing your images, found {len(found)}."
            )
        location = found[0]
    folder = location.parent.resolve()
    text = location.read_text()
    field = 45.0
    match = re.match(r"\s*#\s*field_degrees\s*[:=]\s*([0-9.]+)", text)
    if match:
        field = float(match.group(1))
    rows = list(
        csv.DictReader(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    if not rows or not {"image", "vessels"} <= set(rows[0]):
        raise DataError(
            f"{location}: expected a header with at least the columns image,vessels "
            "(and optionally fov,split) and one row per image."
        )
    parts: dict[str, list] = {"train": [], "validation": [], "test": []}
    patients: dict[str, list] = {"train": [], "validation": [], "test": []}
    first_seen: dict = {}  # patient -> (split, row) where the patient first appeared
    any_estimated = False
    # Rows are named by their line in the file, as an editor shows it.
    comments = sum(1 for line in text.splitlines() if line.lstrip().startswith("#"))
    has_validation = any((row.get("split") or "").strip().lower() == "validation" for row in rows)
    wanted = set(splits) | ({"train"} if "validation" in splits and not has_validation else set())
    for number, row in enumerate(rows, start=comments + 2):
        where = f"{location}, row {number}"
        split = (row.get("split") or "test").strip().lower()
        if split not in parts:
            raise DataError(f"{where}: split {split!r} is not train, validation or test.")
        patient = (row.get("patient") or "").strip() or None
        if patient is not None:
            other_split, other_row = first_seen.setdefault(patient, (split, number))
            if other_split != split:
                raise DataError(
                    f"{where}: patient {patient!r} is in {split}, but row {other_row} puts "
                    f"them in {other_split}. Both eyes (every image) of one person belong "
                    "in one split, or a test score measures a person the model has seen."
                )
        image_path = _inside(folder, row["image"], where)
        if split not in wanted:
            for column in ("vessels", "fov", "vessels_2nd"):
                if (row.get(column) or "").strip():
                    _open(_inside(folder, row[column], where), where)
            _open(image_path, where)
            patients[split].append(patient or Path(row["image"]).stem)
            continue
        image = read_rgb(_open(image_path, where), f"{where}: {image_path}", eight_bit=eight_bit)

        def mask(column, row=row, rows_where=where, shape=image.shape[:2]):
            relative = (row.get(column) or "").strip()
            if not relative:
                return None
            path = _inside(folder, relative, rows_where)
            return read_binary(_open(path, rows_where), f"{rows_where}: {relative}", shape)

        vessels = mask("vessels")
        if vessels is None:
            raise DataError(f"{where}: the vessels column is empty; every image needs one.")
        fov = mask("fov")
        if fov is None:
            fov, any_estimated = _estimated_fov(image, f"{where}: {image_path}"), True
        image_id = Path(row["image"]).stem
        parts[split].append(one_image(image, vessels, fov, image_id, mask("vessels_2nd")))
        patients[split].append(patient or image_id)
    note = "split from the CSV's split column"
    if not parts["validation"] and parts["train"]:
        # About 15 % of the training rows, whole patients, from the end.
        wanted = max(1, round(0.15 * len(parts["train"])))
        chosen: list = []
        for patient in reversed(dict.fromkeys(patients["train"])):
            if sum(p in chosen for p in patients["train"]) >= wanted:
                break
            chosen.append(patient)
        validate = [p in chosen for p in patients["train"]]
        kept = [part for part, v in zip(parts["train"], validate) if not v]
        parts["validation"] = [part for part, v in zip(parts["train"], validate) if v]
        parts["train"] = kept or parts["validation"]
        names = ", ".join(p.ids[0] for p in parts["validation"])
        note += f"; no validation rows, so the last training rows validate: {names}"
    for name in SPLITS:
        if name not in splits:
            parts[name] = []
    fov_note = "FOV masks estimated where not given" if any_estimated else "FOV masks given"
    return Dataset(
        **{name: stack(parts.pop(name)) for name in SPLITS},
        source="csv",
        description=f"own data (CSV) from {shown_location(location)}; {note}; {fov_note}; "
        f"{field:g}° field",
        field_degrees=field,
        fov_estimated=any_estimated,
    )


def _files(location, name: str) -> _Files:
    """The data set's files; use it as a context manager, so archives are closed."""
    location = Path(location)
    if not location.exists():
        raise DataError(f"{name} not found at {location}: check the path (--data).")
    return _Files(location)


def _dataset(kind, location, read, train, validation, test, split_note, *, fov_estimated, splits):
    field = FIELD_DEGREES[kind]
    fov_note = "FOV masks estimated (none ship)" if fov_estimated else "FOV masks given"
    ids = dict(zip(SPLITS, (train, validation, test)))
    splits = _check_splits(splits)
    return Dataset(
        **{name: stack(read(i) for i in ids[name] if name in splits) for name in SPLITS},
        source=kind,
        description=f"{display_name(kind)} from {shown_location(location)}; {split_note}; "
        f"{fov_note}; {field:g}° field",
        field_degrees=field,
        fov_estimated=fov_estimated,
    )


def _read_label(files: _Files, candidates, image, image_file=None, *, required=True):
    """The annotation (bool array), or None when it is missing and not ``required``."""
    # HRF names a photograph and its annotation alike (01_h.jpg, 01_h.tif):
    # the annotation is the candidate that is not the photograph itself.
    for candidate in candidates:
        found = files.find(candidate, required=False)
        if found is not None and found[0] != image_file:
            shown, content = found
            return read_binary(content, shown, image.shape[:2], threshold=128)
    if not required:
        return None
    return read_binary(*files.find(*candidates), image.shape[:2], threshold=128)


def _check_splits(splits) -> tuple:
    splits = tuple(splits)
    unknown = [name for name in splits if name not in SPLITS]
    if unknown:
        raise ValueError(f"splits: {unknown} are not among {', '.join(SPLITS)}.")
    return splits


def _estimated_fov(image, shown) -> np.ndarray:
    try:
        return field_of_view.estimate_fov(as_float(image))
    except ValueError as error:
        raise DataError(f"{shown}: no field of view found ({error}).") from error


def _inside(folder: Path, relative: str, where: str) -> Path:
    relative = (relative or "").strip()
    if not relative:
        raise DataError(f"{where}: a path is empty.")
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise DataError(
            f"{where}: {relative} points outside the CSV's folder {folder}; give paths "
            "relative to the CSV, inside its folder."
        )
    return path


def _open(path: Path, where: str):
    if not path.is_file():
        raise DataError(f"{where}: {path} is missing. Fix the path in the CSV or add the file.")
    return path
