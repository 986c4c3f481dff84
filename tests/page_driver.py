"""Drive the book's "Try it" page in headless Chromium (tests and benchmark).

The page's files are laid out by ``book/_ext/try_it.py`` (the book's build
makes the same), served by a plain static server in a thread, and opened in
the system's Chromium through Selenium and the system's chromedriver: no
browser is downloaded, and nothing outside this machine is reached.
"""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import io
import os
import shutil
import tempfile
import threading
import time
import typing
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: Chromium must never phone home or share state between runs.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1800",
)


@functools.cache
def try_it():
    """``book/_ext/try_it.py``, the page's build, as a module."""
    spec = importlib.util.spec_from_file_location("try_it", ROOT / "book/_ext/try_it.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The browser: Debian's Chromium, or Google Chrome (GitHub's runners have it).
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    """The Chromium (or Chrome) program found on PATH, or None."""
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def chromedriver() -> str | None:
    """chromedriver on PATH, or where GitHub's runners keep it ($CHROMEWEBDRIVER)."""
    folder = os.environ.get("CHROMEWEBDRIVER")
    return shutil.which("chromedriver") or (folder and shutil.which("chromedriver", path=folder))


def missing() -> str | None:
    """Why the page cannot be driven here, or None when it can."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[test]')"
    if browser() is None:
        return "no Chromium found (Debian: apt-get install chromium chromium-driver)"
    if chromedriver() is None:
        return "chromedriver not found (Debian: apt-get install chromium-driver)"
    runtime = try_it().RUNTIME_DIR
    if not runtime.is_dir():
        return f"onnxruntime-web not installed in {runtime.parents[1]}: run `npm ci`"
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # .mjs must be served as JavaScript for module workers to load it.
    extensions_map: typing.ClassVar = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }

    def log_message(self, format, *args):
        pass


class StaticServer:
    """``python -m http.server`` for ``folder``, in a thread, on a free port.

    Counts the bytes it sends, so the benchmark can say what a first visit
    downloads.
    """

    def __init__(self, folder):
        server = self

        class Handler(_QuietHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def copyfile(self, source, outputfile):
                start = source.tell()
                super().copyfile(source, outputfile)
                server.sent[self.path] = source.tell() - start

        self.sent = {}
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_chromium():
    """A headless Chromium under Selenium, with a fresh profile folder."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = browser()
    profile = tempfile.mkdtemp(prefix="tryit-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=chromedriver())
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_script_timeout(120)
    driver.profile_folder = profile
    return driver


def stop_chromium(driver):
    profile = driver.profile_folder
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The "Try it" page open in ``driver``."""

    def __init__(self, driver, url):
        self.driver = driver
        driver.get(url)
        self.wait_for(("idle",), timeout=30)

    def state(self) -> str:
        return self.driver.execute_script("return document.getElementById('tryit').dataset.state")

    def wait_for(self, states, timeout=120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state in states:
                return state
            time.sleep(0.05)
        raise TimeoutError(f"the page stayed {self.state()!r}, not {states}, for {timeout} s")

    def role(self, name):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, f'#tryit [data-role="{name}"]')

    def _run(self, start) -> tuple[str, float]:
        # Marked first, so a result of the photograph before is not taken for this one's.
        self.driver.execute_script("document.getElementById('tryit').dataset.state = 'sent'")
        began = time.monotonic()
        start()
        state = self.wait_for(("done", "error"))
        return state, time.monotonic() - began

    def upload(self, path, field_degrees=None) -> tuple[str, float]:
        """Choose ``path`` in the file input; the final state and the seconds it took."""
        if field_degrees is not None:
            field = self.role("field")
            field.clear()
            field.send_keys(str(field_degrees))
        return self._run(lambda: self.role("file").send_keys(str(Path(path).resolve())))

    def use_sample(self) -> tuple[str, float]:
        return self._run(lambda: self.role("sample").click())

    def message(self) -> str:
        return self.role("message").text

    def facts(self) -> dict:
        """What the page reports: FOV diameter, factor, seconds, size."""
        values = self.driver.execute_script("return {...document.getElementById('tryit').dataset}")
        return {
            "fov_diameter": float(values["fovDiameter"]),
            "factor": float(values["factor"]),
            "seconds": float(values["seconds"]),
            "shape": (int(values["height"]), int(values["width"])),
        }

    def downloaded_map(self) -> np.ndarray:
        """The map behind the page's download link, read as the reader would save it."""
        encoded = self.driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const link = document.querySelector('#tryit [data-role="download"]');
            fetch(link.href).then((r) => r.arrayBuffer()).then((buffer) => {
              const bytes = new Uint8Array(buffer);
              let text = "";
              for (let i = 0; i < bytes.length; i += 32768) {
                text += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
              }
              done(btoa(text));
            });
            """
        )
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as picture:
            return np.asarray(picture).astype(np.float32) / np.float32(65535.0)

    def screenshot(self, path):
        self.driver.save_screenshot(str(path))
