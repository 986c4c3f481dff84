"""HDF5 cache: exact round trip, provenance, atomic writes, stale and broken files."""

import h5py
import numpy as np
import pytest

import retina_tutorial
from retina_tutorial import cache, cli, data


@pytest.fixture
def fake_cache(fake_drive, tmp_path):
    out = tmp_path / "drive.h5"
    dataset, status = cache.prepare(out, fake_drive, verbose=False)
    assert status == "written"
    return out, dataset


def test_round_trip_is_exact(fake_cache):
    out, written = fake_cache
    read = cache.read_cache(out)
    for name in cache.SPLITS:
        before, after = getattr(written, name), getattr(read, name)
        # Images are stored as uint8: exact for 8-bit sources such as DRIVE.
        np.testing.assert_array_equal(after.images, before.images)
        np.testing.assert_array_equal(after.vessels, before.vessels)
        np.testing.assert_array_equal(after.fov, before.fov)
        assert after.ids == before.ids
    np.testing.assert_array_equal(read.test.vessels_2nd, written.test.vessels_2nd)
    assert read.train.vessels_2nd is None
    assert read.source == "drive"


def test_layout_and_provenance(fake_cache, fake_drive):
    out, _ = fake_cache
    with h5py.File(out) as file:
        assert set(file) == {"train", "validation", "test"}
        assert file["train/images"].dtype == np.uint8
        assert file["train/vessels"].dtype == bool
        assert file["test/vessels_2nd"].shape[0] == 20
        assert "vessels_2nd" not in file["train"]
        assert file.attrs["fingerprint"] == cache.fingerprint(fake_drive)
        assert file.attrs["package_version"] == retina_tutorial.__version__
        assert file.attrs["validation_ids"] == "38,39,40"
        assert file.attrs["complete"]


def test_up_to_date_cache_is_reused(fake_cache, fake_drive):
    out, _ = fake_cache
    assert cache.prepare(out, fake_drive, verbose=False)[1] == "up to date"


def test_changed_input_makes_the_cache_stale(fake_cache, fake_drive):
    out, _ = fake_cache
    changed = fake_drive / "test/images/01_test.tif"
    changed.write_bytes(changed.read_bytes() + b"\0")
    with pytest.raises(cache.CacheError, match="stale"):
        cache.read_cache(out, expected_fingerprint=cache.fingerprint(fake_drive))
    assert cache.prepare(out, fake_drive, verbose=False)[1] == "rebuilt"


def test_a_cache_inside_the_drive_folder_stays_up_to_date(fake_drive):
    # Only DRIVE's own files count: the cache itself and notes beside them do not.
    out = fake_drive / "drive.h5"
    assert cache.prepare(out, fake_drive, verbose=False)[1] == "written"
    (fake_drive / "notes.txt").write_text("downloaded in 2026")
    assert cache.prepare(out, fake_drive, verbose=False)[1] == "up to date"


def test_truncated_cache_is_refused_then_rebuilt(fake_cache, fake_drive):
    out, _ = fake_cache
    out.write_bytes(out.read_bytes()[:5000])
    with pytest.raises(cache.CacheError, match="truncated or not a retina_tutorial cache"):
        cache.read_cache(out)
    assert cache.prepare(out, fake_drive, verbose=False)[1] == "rebuilt"
    assert len(cache.read_cache(out).test) == 20


def test_incomplete_cache_is_refused(fake_cache):
    out, _ = fake_cache
    with h5py.File(out, "a") as file:
        file.attrs["complete"] = False
    with pytest.raises(cache.CacheError, match="incomplete"):
        cache.read_cache(out)


def test_missing_cache_says_how_to_make_it(tmp_path):
    with pytest.raises(cache.CacheError, match="retina-tutorial prepare"):
        cache.read_cache(tmp_path / "none.h5")


def test_failed_write_keeps_the_old_cache(fake_cache, monkeypatch):
    out, dataset = fake_cache
    before = out.read_bytes()

    def explode(group, split):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cache, "_write_split", explode)
    with pytest.raises(RuntimeError):
        cache.write_cache(dataset, out, input_fingerprint="other")
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir() if p.suffix == ".part"] == []


def test_prepare_from_a_bad_folder_writes_nothing(tmp_path):
    out = tmp_path / "drive.h5"
    with pytest.raises(data.DataError):
        cache.prepare(out, tmp_path / "missing", verbose=False)
    assert not out.exists()


def test_cli_prepare_synthetic(tmp_path, capsys):
    out = tmp_path / "synthetic.h5"
    assert cli.main(["prepare", "--synthetic", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Data: synthetic" in printed
    assert "17 train + 3 validation + 20 test" in printed
    dataset = cache.read_cache(out, expected_fingerprint=cache.fingerprint(synthetic_seed=0))
    assert dataset.is_synthetic
    assert dataset.test.images.shape == (20, 584, 565, 3)
    assert dataset.test.vessels_2nd.shape == (20, 584, 565)


def test_cli_prepare_reports_bad_data_without_traceback(tmp_path, capsys):
    assert (
        cli.main(["prepare", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "x.h5")])
        == 2
    )
    assert "DRIVE not found" in capsys.readouterr().err


@pytest.mark.drive
def test_cli_prepare_real_drive(drive_dataset, tmp_path, capsys):
    from retina_tutorial import config

    out = tmp_path / "drive.h5"
    assert cli.main(["prepare", "--data", str(config.data_location()), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "17 train + 3 validation + 20 test images of 584 x 565" in printed
    assert "4,538,143 test FOV pixels" in printed
    assert "2nd manual for 20 test images" in printed
