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
