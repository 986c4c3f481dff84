"""Load the data: DRIVE, another public data set, your own, or the synthetic stand-in.

Explained in ``book/01_data_preparation.ipynb`` and ``book/07_your_own_data.ipynb``.

:func:`load_dataset` is the one entry point: it reads what
``RETINA_TUTORIAL_DATA`` (or ``path``) points at, recognising DRIVE, STARE,
CHASE_DB1, HRF and the CSV format for your own data by their layout, and
makes the synthetic set when nothing is configured. The containers
(:class:`Split`, :class:`Dataset`) and the image readers live in
:mod:`retina_tutorial.datasets`, DRIVE's layout in :mod:`retina_tutorial.drive`;
both are importable from here too.
"""

from __future__ import annotations

import dataclasses
import textwrap

from retina_tutorial import config, grading, public_sets
from retina_tutorial import synthetic as synthetic_data
from retina_tutorial.datasets import DataError, Dataset, Split, read_binary, read_rgb, stack
from retina_tutorial.drive import (
    IMAGE_SHAPE,
    LAYOUT,
    TEST_IDS,
    TRAINING_IDS,
    VALIDATION_IDS,
    find_root,
    layout_files,
    load_drive,
)

__all__ = [
    "IMAGE_SHAPE",
    "LAYOUT",
    "TEST_IDS",
    "TRAINING_IDS",
    "VALIDATION_IDS",
    "DataError",
    "Dataset",
    "Split",
    "configured_source",
    "data_line",
    "find_root",
    "layout_files",
    "load_dataset",
    "load_drive",
    "load_own_dataset",
    "read_binary",
    "read_rgb",
]


def load_dataset(
    path=None,
    *,
    kind: str | None = None,
    synthetic: bool = False,
    seed: int = 0,
    verbose: bool = True,
    splits=public_sets.SPLITS,
    eight_bit: bool = False,
) -> Dataset:
    """Load the configured data set, or make the synthetic one when none is configured.

    Parameters
    ----------
    path : str or Path, optional
        A data set's folder or archive, or a CSV of your own. Defaults to
        ``RETINA_TUTORIAL_DATA``.
    kind : {'drive', 'stare', 'chase_db1', 'hrf', 'csv'}, optional
        Which data set ``path`` holds; recognised from its layout when
        omitted (:func:`retina_tutorial.public_sets.detect`).
    synthetic : bool
        Use the synthetic set even when a data set is configured.
    seed : int
        Seed of the synthetic set.
    verbose : bool
        Print one line saying which data is in use (its description names the
        data set, the split and where the FOV masks come from).
    splits : sequence of str
        The splits to keep (of ``"train"``, ``"validation"``, ``"test"``); the
        others are empty, and another camera's photographs of them are not
        even read. ``retina-tutorial evaluate`` needs only validation and test.
    eight_bit : bool
        Keep the photographs of STARE, CHASE_DB1, HRF or a CSV as 8-bit
        pixels (``uint8``, a quarter of the memory;
        :func:`retina_tutorial.datasets.as_float` gives the ``float32`` values).
        DRIVE's and the synthetic set's small images are ``float32`` either way.

    While a course is graded (:func:`retina_tutorial.grading.variant`), each
    split keeps a subset of its images, and the description says so.

    Raises
    ------
    DataError
        If a location is given but cannot be read. A configured location that
        is wrong is an error, never a silent switch to synthetic data.
    """
    configured = config.data_location(path)
    location = None if synthetic else configured
    if location is None:
        reason = "DRIVE not configured" if configured is None else "asked for instead of DRIVE"
        dataset = synthetic_data.make_dataset(seed=seed, reason=reason)
    else:
        location = _existing(location)
        kind = kind or public_sets.detect(location)
        if kind == "drive":
            dataset = load_drive(location)
        else:
            dataset = public_sets.load(location, kind, splits=splits, eight_bit=eight_bit)
    left_out = {name: stack([]) for name in public_sets.SPLITS if name not in splits}
    dataset = grading.variant_of(dataclasses.replace(dataset, **left_out))
    if verbose:
        print(data_line(dataset))
    return dataset


def load_own_dataset(path=None, *, stand_in_from: Dataset, folder, verbose: bool = True):
    """Chapter 07's other camera: the configured data set, or a stand-in made for it.

    Parameters
    ----------
    path : str or Path, optional
        STARE, CHASE_DB1 or HRF as distributed, or your own CSV. Defaults to
        ``RETINA_TUTORIAL_OWN_DATA``.
    stand_in_from : Dataset
        When nothing is configured, the data set the stand-in is made from
        (:func:`retina_tutorial.stand_in.write_stare`): its training images
        for the stand-in's training images, its test images for its test
        images.
    folder : str or Path
        Where a stand-in is written.
    verbose : bool
        Print one line naming the data (a stand-in says what it was made from).

    Raises
    ------
    DataError
        If a location is given but missing or unreadable: never a silent
        switch to the stand-in.
    """
    location = config.own_data_location(path)
    if location is None:
        from retina_tutorial import stand_in

        location = stand_in.write_stare(stand_in_from, folder)
    elif not location.exists():
        raise DataError(
            f"{config.OWN_DATA_VARIABLE}: nothing at {location}. Point it at a STARE, "
            "CHASE_DB1 or HRF folder as distributed or at a CSV of your own images, or unset "
            "it to use a stand-in made from the main data set."
        )
    kind = public_sets.detect(location)
    if kind == "drive":
        raise DataError(
            f"{config.OWN_DATA_VARIABLE}={location} holds DRIVE, the data set the book "
            "already uses: point it at another camera's data set (STARE, CHASE_DB1, HRF or "
            "your own CSV), or unset it to use the stand-in."
        )
    dataset = grading.variant_of(public_sets.load(location, kind))
    if verbose:
        print(data_line(dataset))
    return dataset


def configured_source(path=None) -> str:
    """Which data :func:`load_dataset` would use, without loading it.

    ``"synthetic"`` when no data set is configured, else the configured
    one's kind (``"drive"``, ``"stare"``, ...). The book's build uses it to
    say on every page which data its numbers come from.

    Raises
    ------
    DataError
        If a location is configured but missing or unrecognised, as
        :func:`load_dataset` would.
    """
    location = config.data_location(path)
    return "synthetic" if location is None else public_sets.detect(_existing(location))


def _existing(location):
    """``location``, if it exists; a configured location that does not is an error."""
    if not location.exists():
        raise DataError(
            f"DRIVE not found at {location}, nor any other data set: set "
            f"{config.DATA_VARIABLE} (or pass --data) to the folder or archive of DRIVE, "
            "STARE, CHASE_DB1 or HRF, or to a CSV listing your own images."
        )
    return location


def data_line(dataset: Dataset, note: str = "") -> str:
    """``Data: <description><note>``, wrapped so it reads on a book page and in a terminal."""
    line = f"Data: {dataset.description}{note}"
    return textwrap.fill(
        line, 76, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False
    )
