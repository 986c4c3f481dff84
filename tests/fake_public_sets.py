"""Tiny fakes of STARE, CHASE_DB1, HRF and the CSV format, with their names and quirks.

Each photograph is an orange disc (the FOV, cut by the frame where the real
camera cuts it) crossed by dark lines (the vessels), at about half (STARE,
CHASE_DB1) or an eighth (HRF) of the real size, so the scale factors stay
sensible. The quirks are the real ones: STARE's gzipped PPMs in three tar
files and labels that are not all 0 or 255; CHASE_DB1's flat archive of
``Image_NNX.jpg`` with ``_1stHO`` / ``_2ndHO`` PNGs; HRF's mixed-case
extensions (``01_dr.JPG``) and three-channel masks.
"""

import gzip
import io
import tarfile
import zipfile
import zlib

import numpy as np
from PIL import Image

from retina_tutorial import public_sets


def fundus(name, shape, diameter):
    """(photograph uint8 RGB, vessels bool, fov bool) for a seed taken from ``name``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    rows, cols = np.indices(shape)
    fov = np.hypot(rows - (shape[0] - 1) / 2, cols - (shape[1] - 1) / 2) <= diameter / 2
    vessels = np.zeros(shape, bool)
    for _ in range(6):
        angle, offset = rng.uniform(0, np.pi), rng.uniform(-0.3, 0.3) * diameter
        distance = np.abs(
            (rows - shape[0] / 2) * np.cos(angle) - (cols - shape[1] / 2) * np.sin(angle) - offset
        )
        vessels |= distance < rng.uniform(1.0, 3.0)
    vessels &= fov
    photo = np.zeros((*shape, 3), np.float32)
    photo[fov] = (0.75, 0.4, 0.15)
    photo[vessels] *= 0.45
    photo += rng.normal(0, 0.02, photo.shape) * fov[..., None]
    return np.clip(photo * 255, 0, 255).astype(np.uint8), vessels, fov


def _encode(array, fmt) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def _label(mask, noisy=False):
    levels = np.where(mask, 255, 0).astype(np.uint8)
    if noisy:  # STARE: a few label pixels are neither 0 nor 255
        levels[::7, ::5] = np.where(mask[::7, ::5], 201, 40)
    return levels


def _add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def make_stare(root):
    """STARE as distributed: three tar files of gzipped PPMs in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    with (
        tarfile.open(root / "stare-images.tar", "w") as images,
        tarfile.open(root / "labels-ah.tar", "w") as ah,
        tarfile.open(root / "labels-vk.tar", "w") as vk,
    ):
        for image_id in public_sets.STARE_IDS:
            photo, vessels, _ = fundus(image_id, (302, 350), 325)  # cut at top and bottom
            second = vessels ^ np.roll(vessels, 1, axis=1)
            _add(images, f"{image_id}.ppm.gz", gzip.compress(_encode(photo, "PPM")))
            _add(ah, f"{image_id}.ah.ppm.gz", gzip.compress(_encode(_label(vessels, True), "PPM")))
            _add(vk, f"{image_id}.vk.ppm.gz", gzip.compress(_encode(_label(second, True), "PPM")))
    return root


def make_chase_db1(path):
    """CHASE_DB1 as distributed: one flat zip of 84 files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for image_id in public_sets.CHASE_IDS:
            photo, vessels, _ = fundus(image_id, (240, 250), 230)
            archive.writestr(f"Image_{image_id}.jpg", _encode(photo, "JPEG"))
            archive.writestr(f"Image_{image_id}_1stHO.png", _encode(_label(vessels), "PNG"))
            second = vessels | np.roll(vessels, 1, axis=0)
            archive.writestr(f"Image_{image_id}_2ndHO.png", _encode(_label(second), "PNG"))
    return path


def make_hrf(root):
    """HRF as distributed: images/, manual1/, mask/ with mixed-case extensions."""
    for folder in ("images", "manual1", "mask"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for image_id in public_sets.HRF_IDS:
        photo, vessels, fov = fundus(image_id, (292, 438), 407)
        extension = "JPG" if image_id.endswith("_dr") else "jpg"
        (root / "images" / f"{image_id}.{extension}").write_bytes(_encode(photo, "JPEG"))
        Image.fromarray(_label(vessels)).save(root / "manual1" / f"{image_id}.tif")
        three_channels = np.repeat(_label(fov)[..., None], 3, axis=-1)
        Image.fromarray(three_channels).save(root / "mask" / f"{image_id}_mask.tif")
    return root


def make_csv(root, *, field_degrees=45, sizes=((300, 320), (260, 300), (310, 330), (280, 280))):
    """Own data: a CSV, photographs of different sizes, some FOV masks missing."""
    (root / "photos").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    lines = [f"# field_degrees: {field_degrees}", "image,vessels,fov,split"]
    splits = ("train", "train", "test", "test")
    for index, (shape, split) in enumerate(zip(sizes, splits)):
        name = f"eye{index + 1}"
        photo, vessels, fov = fundus(name, shape, min(shape) - 10)
        Image.fromarray(photo).save(root / "photos" / f"{name}.png")
        Image.fromarray(_label(vessels)).save(root / "labels" / f"{name}.png")
        fov_column = ""
        if index % 2 == 0:
            Image.fromarray(_label(fov)).save(root / "labels" / f"{name}_fov.png")
            fov_column = f"labels/{name}_fov.png"
        lines.append(f"photos/{name}.png,labels/{name}.png,{fov_column},{split}")
    (root / "eyes.csv").write_text("\n".join(lines) + "\n")
    return root / "eyes.csv"
