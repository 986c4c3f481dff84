"""Shared fixtures: the real DRIVE (skipped when absent) and the synthetic set."""

import functools

import pytest
from fake_drive import make_fake_drive

from retina_tutorial import config, data


@functools.cache
def _drive():
    location = config.data_location()
    if location is None:
        return None
    if not location.exists():
        # A wrong setting must fail, not quietly skip the DRIVE tests.
        raise FileNotFoundError(
            f"{config.DATA_VARIABLE}={location} does not exist: point it at the DRIVE "
            "folder or DRIVE.zip, or unset it to test on the synthetic set only."
        )
    return data.load_drive(location)


@functools.cache
def _synthetic():
    return data.load_dataset(synthetic=True, verbose=False)


@pytest.fixture
def drive_dataset():
    """The real DRIVE, read once per session; skips when it is not configured."""
    dataset = _drive()
    if dataset is None:
        pytest.skip(f"DRIVE not available: set {config.DATA_VARIABLE} to run this test")
    return dataset


@pytest.fixture
def synthetic_dataset():
    """The synthetic stand-in for DRIVE (seed 0), made once per session."""
    return _synthetic()


@pytest.fixture
def fake_drive(tmp_path):
    """A complete DRIVE layout of tiny random images in ``tmp_path``."""
    return make_fake_drive(tmp_path / "DRIVE")


#: Tests only: a folder holding the real CHASEDB1/ and STARE/ as distributed
#: (CI points it at ../shared/data); their tests skip without it.
PUBLIC_SETS_VARIABLE = "RETINA_TUTORIAL_PUBLIC_SETS"


@functools.cache
def _public_set(folder_name):
    import os
    from pathlib import Path

    root = os.environ.get(PUBLIC_SETS_VARIABLE, "").strip()
    if not root:
        return None
    location = Path(root) / folder_name
    if not location.exists():
        raise FileNotFoundError(
            f"{PUBLIC_SETS_VARIABLE}={root} holds no {folder_name}/: put the data set there "
            "as distributed, or unset the variable to skip the tests that need it."
        )
    return data.load_dataset(location, verbose=False)


@pytest.fixture(params=["CHASEDB1", "STARE"])
def public_set(request):
    """The real CHASE_DB1 and STARE, read once each; skips when they are not configured."""
    dataset = _public_set(request.param)
    if dataset is None:
        pytest.skip(f"{request.param} not available: set {PUBLIC_SETS_VARIABLE} to run this test")
    return dataset


@pytest.fixture
def chase_db1():
    """The real CHASE_DB1; skips when it is not configured."""
    dataset = _public_set("CHASEDB1")
    if dataset is None:
        pytest.skip(f"CHASE_DB1 not available: set {PUBLIC_SETS_VARIABLE} to run this test")
    return dataset
