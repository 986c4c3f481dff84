"""Sphinx extension: the files the "Try it" page (book/try_it.md) runs on.

The page runs the shipped U-Net in the reader's browser. Its JavaScript is
committed in ``book/_static/tryit/``; what it needs besides is made when the
book is built, never committed:

- the model, exported to ONNX from the shipped ``.keras`` file by
  ``retina-tutorial export`` (one source of truth: a retrained model changes
  the page with the next build);
- onnxruntime-web's two runtime files, from ``node_modules`` (``npm ci``,
  pinned by ``package-lock.json``), so the built site serves its own copies
  and nothing comes from a CDN at view time;
- a sample photograph drawn by the package's synthetic generator (DRIVE may
  not be redistributed);
- ``settings.json``: the model's file name and the shipped model's validation
  threshold, the page's default.

:func:`write_assets` makes them; the book's build calls it when Sphinx has
copied the static files, and the browser tests call :func:`write_site`,
which lays out the same files with a bare page around the same widget.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The page's own JavaScript, CSS and HTML widget (committed).
STATIC = ROOT / "book" / "_static" / "tryit"
#: Where ``npm ci`` puts onnxruntime-web's files.
RUNTIME_DIR = ROOT / "node_modules" / "onnxruntime-web" / "dist"
#: The WebAssembly build (no WebGL/WebGPU code) with its loader bundled in,
#: and the SIMD WebAssembly binary it runs.
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
#: Weights stored as float16 (compute stays float32): half the download, and
#: the maps agree with the float32 model's (tests/test_browser_page.py).
PRECISION = "fp16"
MODEL_NAME = f"unet_drive_{PRECISION}.onnx"
SAMPLE_NAME = "sample.png"
#: The sample photograph's seed in the synthetic generator.
SAMPLE_SEED = 2026


class TryItError(RuntimeError):
    """Something the page needs cannot be made; the message says what to do."""


def copy_runtime(target: Path) -> list[Path]:
    """Copy onnxruntime-web's runtime files into ``target/ort``."""
    missing = [
        name for name in RUNTIME_FILES if not (RUNTIME_DIR / name).is_file()
    ]
    if missing:
        raise TryItError(
            f"onnxruntime-web's {', '.join(missing)} not found in "
            f"{RUNTIME_DIR}: run `npm ci` in the repository (Node.js 18 "
            "or newer) before building the book."
        )
    (target / "ort").mkdir(parents=True, exist_ok=True)
    return [
        Path(shutil.copyfile(RUNTIME_DIR / name, target / "ort" / name))
        for name in RUNTIME_FILES
    ]


def export_model(path: Path) -> Path:
    """The shipped model as ONNX at ``path``, exported unless up to date.

    ``retina-tutorial export`` writes it from the shipped ``.keras`` file. A
    stamp beside it records that file's SHA-256 and the precision, so a
    rebuilt book exports again only when the shipped model changes.
    """
    from retina_tutorial import pretrained

    stamp = path.with_name(path.name + ".source")
    wanted = f"{pretrained.sha256(pretrained.MODEL_FILE)} {PRECISION}\n"
    if path.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "retina_tutorial.cli", "export"]
    command += ["--model", "pretrained", "--out", str(path)]
    command += ["--precision", PRECISION]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TryItError(
            f"`{' '.join(command[2:])}` failed (exit "
            f"{done.returncode}):\n{done.stderr[-2000:]}"
        )
    stamp.write_text(wanted)
    return path


def write_sample(path: Path) -> Path:
    """The sample photograph: a synthetic fundus, DRIVE-sized, 8-bit PNG."""
    import numpy as np
    from PIL import Image

    from retina_tutorial import synthetic

    image = synthetic.make_fundus(SAMPLE_SEED)[0]
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
    return path


def validation_threshold() -> float:
    """The shipped model's threshold, chosen on DRIVE's validation images."""
    from retina_tutorial import pretrained

    return float(
        json.loads(pretrained.REPORTS["without TTA"].read_text())["threshold"]
    )


def write_assets(target) -> Path:
    """Make the page's built files in ``target`` (``_static/tryit``)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    copy_runtime(target)
    export_model(target / MODEL_NAME)
    write_sample(target / SAMPLE_NAME)
    settings = {
        "model": MODEL_NAME,
        "precision": PRECISION,
        "threshold": round(validation_threshold(), 4),
        "sample": SAMPLE_NAME,
    }
    (target / "settings.json").write_text(
        json.dumps(settings, indent=1) + "\n"
    )
    return target


def write_site(site) -> Path:
    """A bare site holding just the page, laid out as in the built book.

    ``site/book/try_it.html`` wraps the same widget the book's page includes,
    and ``site/_static/tryit`` holds the committed scripts and
    :func:`write_assets`'s files. Returns the page's path.
    """
    site = Path(site)
    target = site / "_static" / "tryit"
    shutil.copytree(STATIC, target, dirs_exist_ok=True)
    write_assets(target)
    page = site / "book" / "try_it.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    widget = (STATIC / "widget.html").read_text()
    page.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Try it</title></head>\n<body>\n" + widget + "</body></html>\n"
    )
    return page


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        write_assets(Path(app.outdir) / "_static" / "tryit")


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
