"""The book's "Try it" page in headless Chromium: seconds per photograph, bytes per visit.

Explained in ``book/try_it.md``. Builds the page's files as ``make book``
does (``book/_ext/try_it.py``), serves them with a plain static server, and
drives the system's Chromium (Selenium and chromedriver, as
``tests/test_browser_page.py``) restricted to ``--cores`` CPU cores (default
2, as a reader's laptop and CI), the page's model running on one thread as
on GitHub Pages. Prints:

* for DRIVE test photographs (``--images``, default 01), at native size (b)
  and enlarged 2x as JPEG (c), and with ``--bar`` also enlarged 2x as JPEG
  and shrunk to 0.75x (photographs no test uses): the page's own time (from
  the file to the map), the wall time from choosing the file to the drawn
  result, the FOV and factor the page found against
  :func:`retina_tutorial.inference.predict_photograph`'s, and ROC AUC
  against the 1st manual inside DRIVE's FOV (each map resized back to
  584 x 565, as ``bench_scale.py`` scores) for the page and the package,
  with F1 at 0.5 of one map against the other;
* the bytes a first visit downloads (page, scripts, runtime, model), raw and
  gzip-compressed (what a server that compresses sends), file by file.

Targets (issue 28): <= 6 s for (b), <= 10 s for any, <= 10 MB on first
visit, AUC >= 0.975 and within 0.002 of the package's. Needs DRIVE, Chromium,
chromedriver, Selenium and ``npm ci``::

    RETINA_TUTORIAL_DATA=/path/to/DRIVE .venv/bin/python benchmarks/browser_page.py --bar
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import page_driver  # noqa: E402  (the tests' driver of the page)

from retina_tutorial import config, data, inference, metrics, pretrained, scale  # noqa: E402

TARGET_NATIVE_SECONDS = 6.0
TARGET_SECONDS = 10.0
TARGET_BYTES = 10e6
TARGET_AUC = 0.975
TARGET_AUC_GAP = 0.002


def photographs(folder: Path, test, ids, bar: bool):
    """(label, path, index) of the photographs to upload, made from DRIVE in ``folder``."""
    cases = []
    for number in ids:
        index = list(test.ids).index(number) if number in list(test.ids) else int(number) - 1
        pixels = np.round(test.images[index] * 255).astype(np.uint8)
        height, width = pixels.shape[:2]
        native = folder / f"{number}_test.png"
        Image.fromarray(pixels).save(native)
        cases.append((f"{number} native PNG", native, index))
        for factor in (2.0, 0.75) if bar else (2.0,):
            size = (round(width * factor), round(height * factor))
            path = folder / f"{number}_test_x{factor:g}.jpg"
            Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC).save(path, quality=95)
            cases.append((f"{number} x{factor:g} JPEG", path, index))
    return cases


def at_native(probabilities, shape):
    return scale.resize_image(probabilities, shape)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--images", nargs="+", default=["01"], help="DRIVE test ids")
    parser.add_argument("--bar", action="store_true", help="also 0.75x JPEG")
    parser.add_argument("--screenshot", type=Path, help="save the page after the last photograph")
    args = parser.parse_args(argv)
    why = page_driver.missing()
    location = config.data_location()
    if why or location is None:
        print(f"cannot run: {why or 'DRIVE not configured (RETINA_TUTORIAL_DATA)'}")
        return 1
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    print(f"Chromium and this script on {len(os.sched_getaffinity(0))} cores")
    test = data.load_drive(location).test
    model = pretrained.load()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        site = folder / "site"
        try_it = page_driver.try_it()
        try_it.write_site(site)
        print(f"model: {try_it.MODEL_NAME} ({try_it.PRECISION})")
        server = page_driver.StaticServer(site)
        driver = page_driver.start_chromium()
        try:
            page = page_driver.Page(driver, f"{server.url}/book/try_it.html")
            # First visit: the page, then its first photograph (the sample) loads the model.
            state, seconds = page.use_sample()
            assert state == "done", page.message()
            report_bytes(site, server.sent)
            print(f"sample (first photograph, model loading included): {seconds:.1f} s wall")
            rows = []
            for label, path, index in photographs(folder, test, args.images, args.bar):
                state, wall = page.upload(path)
                assert state == "done", page.message()
                facts = page.facts()
                browser = page.downloaded_map()
                python = inference.predict_photograph(model, inference.read_fundus(path))
                truth, fov = test.vessels[index], test.fov[index]
                shape = truth.shape
                page_auc = metrics.pixel_metrics(at_native(browser, shape), truth, fov)["roc_auc"]
                python_auc = metrics.pixel_metrics(
                    at_native(python.probabilities, shape), truth, fov
                )["roc_auc"]
                everywhere = np.ones(browser.shape, bool)
                f1 = metrics.binary_metrics(
                    browser >= 0.5, python.probabilities >= 0.5, everywhere
                )["f1"]
                rows.append((label, facts, wall, python, page_auc, python_auc, f1))
            if args.screenshot:
                page.screenshot(args.screenshot)
        finally:
            page_driver.stop_chromium(driver)
            server.close()
    print()
    print(
        f"{'photograph':<18} {'page s':>7} {'wall s':>7} {'FOV page/py':>12} "
        f"{'factor page/py':>15} {'AUC page':>9} {'AUC py':>7} {'gap':>7} {'F1 agree':>9}  result"
    )
    failed = False
    for label, facts, wall, python, page_auc, python_auc, f1 in rows:
        limit = TARGET_NATIVE_SECONDS if "native" in label else TARGET_SECONDS
        ok = (
            facts["seconds"] <= limit
            and page_auc >= TARGET_AUC
            and abs(page_auc - python_auc) <= TARGET_AUC_GAP
        )
        failed |= not ok
        diameter = scale.fov_diameter(python.fov)
        print(
            f"{label:<18} {facts['seconds']:7.2f} {wall:7.2f} "
            f"{facts['fov_diameter']:5.0f}/{diameter:<6.0f} "
            f"{facts['factor']:7.4f}/{python.factor:<7.4f} {page_auc:9.4f} {python_auc:7.4f} "
            f"{page_auc - python_auc:+7.4f} {f1:9.4f}  {'PASS' if ok else 'FAIL'}"
        )
    return 1 if failed else 0


def report_bytes(site: Path, sent: dict) -> None:
    """What the first visit fetched from the site, raw and gzip-compressed."""
    total = compressed = 0
    print("first visit (the page's own files; the book's theme adds its own):")
    for url, size in sorted(sent.items(), key=lambda item: -item[1]):
        body = (site / url.lstrip("/").split("?")[0]).read_bytes()
        packed = len(gzip.compress(body, 6))
        total += size
        compressed += packed
        print(f"  {url:<48} {size / 1e6:8.3f} MB raw {packed / 1e6:8.3f} MB gzip")
    verdict = "PASS" if total <= TARGET_BYTES else "FAIL (raw)"
    print(
        f"  total {total / 1e6:.2f} MB raw, {compressed / 1e6:.2f} MB gzip "
        f"(target <= {TARGET_BYTES / 1e6:g} MB): {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
