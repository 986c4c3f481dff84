"""An HDF5 cache of the three splits, at native resolution.

Explained in ``book/01_data_preparation.ipynb``.

The article resized every image to 512 x 512 before caching. We keep DRIVE's
584 x 565: a resize and back blurs the 1-2 pixel vessels away (the chapter
measures how many), and the DRIVE protocol evaluates on the original grid, so
a resized cache could not be compared with published results.

Layout of the file: groups ``train``, ``validation`` and ``test``, each with

``images``
    (N, 584, 565, 3) uint8: RGB, value = round(255 * intensity). Readers get
    float32 in [0, 1] back.
``vessels``, ``fov``
    (N, 584, 565) bool: 1st manual annotation and field of view.
``vessels_2nd``
    (N, 584, 565) bool, test only: 2nd manual annotation.
``ids``
    (N,) strings: DRIVE ids.

File attributes record the provenance: ``source``, ``description``,
``fingerprint`` (SHA-256 of the input files, or of the synthetic seed),
``package_version``, ``format_version`` and ``complete``, written last.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

import retina_tutorial
from retina_tutorial import config, data, public_sets
from retina_tutorial.datasets import shown_location

FORMAT_VERSION = 2  # 2: images of different sizes, field angle, FOV source
SPLITS = ("train", "validation", "test")
#: Files that make up a data set, for the fingerprint of a folder that is not DRIVE.
DATA_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".gif", ".ppm", ".gz", ".tar", ".tgz", ".zip", ".csv",
}  # fmt: skip


class CacheError(ValueError):
    """A cache file is truncated, stale or not one of ours."""


def fingerprint(location=None, *, synthetic_seed: int | None = None) -> str:
    """SHA-256 identifying the input a cache was made from.

    For DRIVE it hashes the zip as distributed, or in a folder the files of
    DRIVE's layout (:func:`retina_tutorial.data.layout_files`) by name and
    content: a changed or replaced image or mask makes the cache stale, while
    other files beside them (a cache written into the same folder, notes)
    do not.
    """
    digest = hashlib.sha256()
    if synthetic_seed is not None:
        from retina_tutorial import synthetic

        # The generator's version is part of the input: a new drawing is new data.
        digest.update(f"synthetic:v{synthetic.VERSION}:{synthetic_seed}".encode())
        return digest.hexdigest()
    location = Path(location)
    if location.is_file() and location.suffix.lower() != ".csv":
        digest.update(location.read_bytes())
        return digest.hexdigest()
    if location.is_dir() and public_sets.detect(location) == "drive":
        root = data.find_root(location)
        names = data.layout_files()
    else:
        # Other data sets and CSVs: every image, mask, archive and list in the
        # folder, by name and content (not caches or notes).
        root = location if location.is_dir() else location.parent
        names = sorted(
            str(file.relative_to(root))
            for file in root.rglob("*")
            if file.is_file() and file.suffix.lower() in DATA_SUFFIXES
        )
    for name in names:
        file = root / name
        digest.update(name.encode())
        digest.update(file.read_bytes() if file.is_file() else b"missing")
    return digest.hexdigest()


def write_cache(dataset: data.Dataset, path, *, input_fingerprint: str) -> Path:
    """Write ``dataset`` to ``path`` atomically.

    The file is written next to its destination under a temporary name and
    renamed only when complete, so an interrupted write never leaves a
    half-written cache under the real name, and an existing cache is only
    replaced by a complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".h5.part", dir=path.parent)
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as file:
            for name in SPLITS:
                _write_split(file.create_group(name), getattr(dataset, name))
            file.attrs.update(
                source=dataset.source,
                description=dataset.description,
                fingerprint=input_fingerprint,
                package_version=retina_tutorial.__version__,
                format_version=FORMAT_VERSION,
                validation_ids=",".join(dataset.validation.ids),
                field_degrees=dataset.field_degrees,
                fov_estimated=dataset.fov_estimated,
            )
            file.attrs["complete"] = True
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a cache is not
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _write_split(group, split: data.Split) -> None:
    images = np.round(split.images * 255.0).astype(np.uint8)
    group.create_dataset("images", data=images, chunks=(1, *images.shape[1:]))
    masks = {"vessels": split.vessels, "fov": split.fov}
    if split.vessels_2nd is not None:
        masks["vessels_2nd"] = split.vessels_2nd
    for key, mask in masks.items():
        group.create_dataset(key, data=mask, compression="gzip", compression_opts=4)
    group.create_dataset("ids", data=np.array(split.ids, dtype=h5py.string_dtype()))
    if split.shapes is not None:
        group.create_dataset("shapes", data=np.array(split.shapes, dtype=np.int64))


def read_cache(path, *, expected_fingerprint: str | None = None) -> data.Dataset:
    """Read a cache written by :func:`write_cache`.

    Raises
    ------
    CacheError
        If the file is missing, truncated, incomplete, of another format
        version, or (when ``expected_fingerprint`` is given) made from other
        input files. Without ``expected_fingerprint`` the inputs are not
        compared; :func:`prepare` always passes it, so it never uses a stale
        cache.
    """
    path = Path(path)
    if not path.is_file():
        raise CacheError(
            f"{path} does not exist: create it with `retina-tutorial prepare --out {path}`."
        )
    try:
        with h5py.File(path, "r") as file:
            attrs = dict(file.attrs)
            _check_attributes(path, attrs, expected_fingerprint)
            splits = {name: _read_split(file[name]) for name in SPLITS}
    except (OSError, KeyError) as error:
        raise CacheError(
            f"{path} is truncated or not a retina_tutorial cache ({error}). "
            "Delete it and run `retina-tutorial prepare` again."
        ) from error
    return data.Dataset(
        **splits,
        source=str(attrs["source"]),
        description=f"{attrs['description']} (cached in {shown_location(path)})",
        field_degrees=float(attrs["field_degrees"]),
        fov_estimated=bool(attrs["fov_estimated"]),
    )


def _check_attributes(path, attrs, expected_fingerprint) -> None:
    if not attrs.get("complete", False):
        raise CacheError(
            f"{path} is incomplete: delete it and run `retina-tutorial prepare` again."
        )
    if attrs.get("format_version") != FORMAT_VERSION:
        raise CacheError(
            f"{path} has cache format {attrs.get('format_version')}, this package "
            f"writes {FORMAT_VERSION}: run `retina-tutorial prepare` again."
        )
    if expected_fingerprint is not None and attrs.get("fingerprint") != expected_fingerprint:
        raise CacheError(
            f"{path} is stale: it was made from other input files. "
            "Run `retina-tutorial prepare` again to rebuild it."
        )


def _read_split(group) -> data.Split:
    second = group["vessels_2nd"][()] if "vessels_2nd" in group else None
    return data.Split(
        images=group["images"][()].astype(np.float32) / np.float32(255.0),
        vessels=group["vessels"][()],
        fov=group["fov"][()],
        ids=tuple(i.decode() if isinstance(i, bytes) else str(i) for i in group["ids"][()]),
        vessels_2nd=second,
        shapes=tuple(map(tuple, group["shapes"][()].tolist())) if "shapes" in group else None,
    )


def prepare(
    out,
    data_path=None,
    *,
    kind: str | None = None,
    synthetic: bool = False,
    seed: int = 0,
    verbose: bool = True,
):
    """Build (or confirm) the cache at ``out`` from a data set or the synthetic set.

    ``kind`` names the data set (see :func:`retina_tutorial.data.load_dataset`);
    it is recognised from the layout when omitted. Images of different sizes
    are kept at their own sizes (:class:`retina_tutorial.datasets.Split`).

    An existing cache made from the same input is kept; a stale, truncated
    or incomplete one is rebuilt. Returns ``(dataset, status)`` where
    ``status`` is ``"written"``, ``"rebuilt"`` or ``"up to date"``.
    """
    out = Path(out)
    location = None if synthetic else config.data_location(data_path)
    expected = (
        fingerprint(synthetic_seed=seed) if location is None else fingerprint(_checked(location))
    )
    status = "written"
    if out.exists():
        try:
            dataset = read_cache(out, expected_fingerprint=expected)
        except CacheError as problem:
            if verbose:
                print(f"Rebuilding: {problem}")
            status = "rebuilt"
        else:
            if verbose:
                print(data.data_line(dataset, ", up to date."))
            return dataset, "up to date"
    dataset = data.load_dataset(
        location, kind=kind, synthetic=location is None, seed=seed, verbose=verbose
    )
    write_cache(dataset, out, input_fingerprint=expected)
    return dataset, status


def _checked(location: Path) -> Path:
    if not location.exists():
        raise data.DataError(
            f"DRIVE not found at {location}: set {config.DATA_VARIABLE} or --data "
            "to the DRIVE folder or zip file."
        )
    return location
