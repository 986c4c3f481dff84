"""The book's "Try it" page, driven in headless Chromium, against the package.

The page (``book/try_it.md``) runs the pipeline of
:func:`retina_tutorial.inference.predict_photograph` in JavaScript, with the
shipped model exported to ONNX, in the reader's browser. Here its files are
built as the book builds them (``book/_ext/try_it.py``), served by a plain
static server, and photographs are uploaded as a reader would: the map behind
the page's download link must agree with the package's map of the same file
(same FOV and resize factor to 1 %, F1 at 0.5 of one against the other
>= 0.98, and on DRIVE ROC AUC against the 1st manual within 0.002 of the
package's). Bad files must give a clear message and leave the page usable.

Skipped, saying why, without Chromium, chromedriver, Selenium or ``npm ci``'s
onnxruntime-web; the DRIVE cases also without DRIVE. CI has them all.
"""

import numpy as np
import page_driver
import pytest
from PIL import Image

from retina_tutorial import config, data, inference, metrics, pretrained, scale

pytestmark = pytest.mark.skipif(
    page_driver.missing() is not None, reason=f"browser page not testable: {page_driver.missing()}"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    page_driver.try_it().write_site(folder)
    server = page_driver.StaticServer(folder)
    server.folder = folder
    yield server
    server.close()


@pytest.fixture(scope="module")
def page(site):
    driver = page_driver.start_chromium()
    yield page_driver.Page(driver, f"{site.url}/book/try_it.html")
    page_driver.stop_chromium(driver)


@pytest.fixture(scope="module")
def model():
    return pretrained.load()


@pytest.fixture(scope="module")
def drive_photograph(tmp_path_factory):
    """DRIVE's test image 01 as PNG and enlarged 2x as JPEG, with its manual and mask."""
    location = config.data_location()
    if location is None:
        pytest.skip(f"DRIVE not available: set {config.DATA_VARIABLE} to run this test")
    test = data.load_drive(location).test
    folder = tmp_path_factory.mktemp("drive_copies")  # made from DRIVE: never kept
    pixels = np.round(test.images[0] * 255).astype(np.uint8)
    native = folder / "01_test.png"
    Image.fromarray(pixels).save(native)
    height, width = pixels.shape[:2]
    enlarged = folder / "01_test_x2.jpg"
    Image.fromarray(pixels).resize((2 * width, 2 * height), Image.Resampling.BICUBIC).save(
        enlarged, quality=95
    )
    return {"native": native, "enlarged": enlarged, "truth": test.vessels[0], "fov": test.fov[0]}


def agrees_with_the_package(page, model, path):
    """The page's map of ``path`` (just computed) against predict_photograph's."""
    browser = page.downloaded_map()
    facts = page.facts()
    python = inference.predict_photograph(model, inference.read_fundus(path))
    assert browser.shape == python.probabilities.shape == facts["shape"]
    assert facts["fov_diameter"] == pytest.approx(scale.fov_diameter(python.fov), rel=0.01)
    assert facts["factor"] == pytest.approx(python.factor, rel=0.01)
    everywhere = np.ones(browser.shape, bool)
    agreement = metrics.binary_metrics(browser >= 0.5, python.probabilities >= 0.5, everywhere)
    assert agreement["f1"] >= 0.98, agreement
    return browser, python.probabilities


def test_the_sample_photograph_gives_the_packages_map(page, model, site):
    state, _ = page.use_sample()
    assert state == "done", page.message()
    agrees_with_the_package(page, model, site.folder / "_static/tryit/sample.png")


@pytest.mark.drive
@pytest.mark.parametrize("kind", ["native", "enlarged"])
def test_a_drive_photograph_scores_as_the_packages_map(page, model, drive_photograph, kind):
    path = drive_photograph[kind]
    state, _ = page.upload(path)
    assert state == "done", page.message()
    browser, python = agrees_with_the_package(page, model, path)
    truth, fov = drive_photograph["truth"], drive_photograph["fov"]
    if kind == "enlarged":
        truth, fov = (scale.resize_mask(mask, browser.shape) for mask in (truth, fov))
    page_auc = metrics.pixel_metrics(browser, truth, fov)["roc_auc"]
    python_auc = metrics.pixel_metrics(python, truth, fov)["roc_auc"]
    assert abs(page_auc - python_auc) <= 0.002, (page_auc, python_auc)
    assert page_auc >= 0.975


def _bad_files(folder):
    text = folder / "notes.png"
    text.write_text("not a photograph, whatever its name says")
    grey = folder / "grey.png"
    Image.new("L", (565, 584), 120).save(grey)
    tiny = folder / "tiny.png"
    Image.new("RGB", (24, 24), (200, 90, 60)).save(tiny)
    dark = folder / "dark.png"  # a photograph of nothing: no lit retina in it
    noise = np.random.default_rng(0).integers(0, 5, (584, 565, 3), dtype=np.uint8)
    Image.fromarray(noise).save(dark)
    tiff = folder / "photo.tif"
    Image.new("RGB", (565, 584), (200, 90, 60)).save(tiff)
    return {
        text: "cannot be read as an image",
        grey: "greyscale",
        tiny: "too small",
        dark: "no field of view",
        tiff: "TIFF",
    }


def test_bad_files_give_a_clear_message_and_leave_the_page_usable(page, tmp_path):
    for path, words in _bad_files(tmp_path).items():
        state, _ = page.upload(path)
        assert state == "error", path.name
        assert words in page.message(), (path.name, page.message())
        assert path.name in page.message()
        # No result of an earlier photograph is left on show beside the message.
        assert not page.role("results").is_displayed()
    # Still usable: the sample runs, and the message is gone.
    state, _ = page.use_sample()
    assert state == "done", page.message()
    assert page.message() == ""
