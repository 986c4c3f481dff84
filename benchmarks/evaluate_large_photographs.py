"""Whether ``retina-tutorial evaluate`` gets through HRF-size photographs in time and memory.

Explained in ``book/07_your_own_data.ipynb`` (your own data, listed in a CSV).

Makes 42 synthetic fundus photographs of HRF's size, 3504 x 2336 pixels
(:func:`retina_tutorial.synthetic.make_fundus`; no real data), lists them in
a CSV as chapter 07 describes (12 training, 3 validation and 27 test rows,
45° field, FOV masks given, no 2nd observer, as in HRF), then runs
``retina-tutorial evaluate --model pretrained`` on them in a child process
and prints its wall time and peak resident memory against the targets:

* evaluate: <= 180 s;
* peak resident memory: <= 4 GB.

The child may use ``--cores`` CPU cores (default 2, the machine the targets
were set on). The photographs take a few seconds each to draw; they are kept
in ``FOLDER`` and reused by the next run, and drawing them is not timed::

    .venv/bin/python benchmarks/evaluate_large_photographs.py /tmp/large_photographs

Options: ``--test N`` test photographs (default 27; fewer for a quick look),
``--strict`` to exit with status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from retina_tutorial import synthetic

#: HRF's photographs: (height, width) in pixels.
SHAPE = (2336, 3504)
TRAIN, VALIDATION, TEST = 12, 3, 27
SEED = 26  # the issue that set the targets
TARGET_SECONDS = 180.0
TARGET_BYTES = 4e9


def write_photographs(folder: Path, splits: dict) -> Path:
    """Draw the photographs ``folder`` lacks; list them all in ``folder/photographs.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    number = 0
    for split, count in splits.items():
        for _ in range(count):
            name = f"{SEED}_{number:02d}"
            files = {kind: f"{name}_{kind}.png" for kind in ("vessels", "fov")}
            files["image"] = f"{name}.jpg"  # HRF's photographs are JPEG too
            if not all((folder / file).is_file() for file in files.values()):
                image, vessels, _, fov = synthetic.make_fundus((SEED, number), shape=SHAPE)
                rgb = np.rint(image * 255).astype(np.uint8)
                Image.fromarray(rgb).save(folder / files["image"], quality=95)
                for kind, mask in (("vessels", vessels), ("fov", fov)):
                    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / files[kind])
                print(f"  drew {files['image']}", flush=True)
            rows.append(f"{files['image']},{files['vessels']},{files['fov']},{split}")
            number += 1
    listing = folder / "photographs.csv"
    listing.write_text("# field_degrees: 45\nimage,vessels,fov,split\n" + "\n".join(rows) + "\n")
    return listing


def run_evaluate(listing: Path, cores: int) -> tuple[float, float, float, int]:
    """Wall seconds, peak resident bytes, CPU seconds and exit status of ``evaluate``."""
    usable = sorted(os.sched_getaffinity(0))[:cores]
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-m",
            "retina_tutorial.cli",
            "evaluate",
            "--model",
            "pretrained",
            "--data",
            str(listing),
            "--dataset",
            "csv",
            "--out",
            out,
        ]
        start = time.perf_counter()
        finished = subprocess.run(command, preexec_fn=lambda: os.sched_setaffinity(0, usable))
        seconds = time.perf_counter() - start
    # The largest resident set of any child waited for: here the only one.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    return seconds, peak, usage.ru_utime + usage.ru_stime, finished.returncode


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the photographs are kept between runs")
    parser.add_argument("--test", type=int, default=TEST, help="test photographs")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores evaluate may use")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    arguments = parser.parse_args(argv)

    splits = {"train": TRAIN, "validation": VALIDATION, "test": arguments.test}
    print(f"Photographs of {SHAPE[1]} x {SHAPE[0]} in {arguments.folder}: {splits}")
    listing = write_photographs(arguments.folder, splits)
    cores = min(arguments.cores, len(os.sched_getaffinity(0)))
    print(f"retina-tutorial evaluate on {cores} CPU cores, load average {os.getloadavg()[0]:.1f}")
    seconds, peak, cpu, status = run_evaluate(listing, cores)
    # Other work on the machine slows the wall time; CPU seconds say how much.
    print(f"CPU time (user + system): {cpu:.0f} s; load average after: {os.getloadavg()[0]:.1f}")
    if status != 0:
        print(f"evaluate failed with exit status {status}: see its message above.")
        return 1
    results = [verdict(seconds, TARGET_SECONDS), verdict(peak, TARGET_BYTES)]
    print(
        f"evaluate: {seconds:.0f} s  [{results[0]}: target <= {TARGET_SECONDS:.0f} s]\n"
        f"peak resident memory: {peak / 1e9:.2f} GB  "
        f"[{results[1]}: target <= {TARGET_BYTES / 1e9:.0f} GB]"
    )
    return 1 if "FAIL" in results and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
