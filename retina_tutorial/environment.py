"""Bring a ready-made Python environment (Colab's) up to what the package needs.

Explained in ``book/intro.md``; every chapter's first cell calls it on Colab.

pip leaves an installed package alone when it satisfies a requirement, and a
Colab image holds whatever TensorFlow and Keras its makers chose. The
chapters' first cell therefore installs the package without its dependencies
and then calls :func:`install_requirements`, which asks pip for all of them at
once, says which ones it changed, and stops the notebook with the fix when a
changed package was already imported (the old one would stay in memory until
the runtime restarts).

This module imports nothing that the package depends on, so it runs before
they are installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

DISTRIBUTION = "retina-tutorial"
#: The module each dependency is imported as, where it differs from its name.
MODULE_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL"}
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9.]*)$")


class RestartNeeded(RuntimeError):
    """pip replaced a package that this Python process had already imported."""


#: The extras the chapters need besides the core: Keras (they train and predict)
#: and ONNX (chapter 06 exports the model).
BOOK_EXTRAS = ("keras", "onnx")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def requirements() -> dict:
    """What the chapters need: the package's dependencies and its :data:`BOOK_EXTRAS`,
    as ``{name: lowest version}``."""
    found = {}
    for requirement in metadata.requires(DISTRIBUTION) or ():
        extra = _EXTRA.search(requirement)
        if extra is not None and extra.group(1) not in BOOK_EXTRAS:
            continue
        match = _REQUIREMENT.match(requirement.split(";")[0].strip())
        if match is None:
            raise ValueError(f"{DISTRIBUTION} declares {requirement!r}; expected 'name>=version'.")
        found[match.group(1).lower()] = match.group(2)
    return found


def installed_version(name: str) -> str | None:
    """The installed version of the distribution ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version_tuple(version: str) -> tuple:
    """``'3.14.1rc0'`` -> ``(3, 14, 1)``: the release numbers, for comparing."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("rc")[0].split("+")[0])[:3])


def unmet() -> dict:
    """Dependencies missing or older than required, as ``{name: installed or None}``."""
    return {
        name: installed_version(name)
        for name, lowest in requirements().items()
        if installed_version(name) is None
        or version_tuple(installed_version(name)) < version_tuple(lowest)
    }


def install_requirements(run=subprocess.run) -> list:
    """Install or upgrade the dependencies that do not meet the package's needs.

    Parameters
    ----------
    run : callable
        ``subprocess.run`` (tests pass a stand-in).

    Returns
    -------
    list of str
        One line per package pip changed, e.g.
        ``'keras 3.10.0 -> 3.15.1 (needs >= 3.14)'``; also printed.

    Raises
    ------
    RestartNeeded
        When a changed package was imported before: the message says to
        restart the runtime and run the cell again.
    """
    needed = requirements()
    before = {name: installed_version(name) for name in needed}
    if unmet():
        specifiers = [f"{name}>={lowest}" for name, lowest in needed.items()]
        run([sys.executable, "-m", "pip", "install", "-q", *specifiers], check=True)
    changed = {
        name: (before[name] or "absent", installed_version(name))
        for name in needed
        if installed_version(name) != before[name]
    }
    changes = [
        f"{name} {old} -> {new} (needs >= {needed[name]})" for name, (old, new) in changed.items()
    ]
    for line in changes:
        print(f"Upgraded for the book: {line}")
    if not changes:
        print("This environment already has what the book needs.")
    stale = [name for name in changed if MODULE_NAMES.get(name, name) in sys.modules]
    if stale:
        raise RestartNeeded(
            f"{', '.join(stale)} changed after Python had imported the old version. Restart the "
            "runtime (Colab: Runtime > Restart session), then run this cell again; it will "
            "install nothing more."
        )
    return changes
