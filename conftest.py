"""Checks on the book's pages as nbval runs them (``make test`` runs ``book/``).

The built book's pages are these notebooks' outputs. No page may show a path
of the machine that built it: the repository, the data folder, the temporary
folder, the home folder or the Python environment.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

#: Output formats that reach a page as text.
TEXT_FORMATS = ("text/plain", "text/html", "text/markdown", "text/latex")


def machine_paths() -> list[str]:
    """The absolute paths of this machine that pages must not show, longest first."""
    places = [Path(__file__).parent, Path.home(), Path(tempfile.gettempdir()), Path(sys.prefix)]
    if os.environ.get("RETINA_TUTORIAL_DATA"):
        places.append(Path(os.environ["RETINA_TUTORIAL_DATA"]))
    found = set()
    for place in places:
        for form in (place.absolute(), place.resolve()):
            if str(form) != form.anchor:  # never the bare root
                found.add(str(form))
    return sorted(found, key=len, reverse=True)


def paths_in_outputs(outputs, paths) -> list[str]:
    """The lines of notebook ``outputs`` that show one of ``paths``."""
    pattern = re.compile("|".join(re.escape(path) + r"(?![\w.-])" for path in paths))
    shown = []
    for output in outputs or ():
        texts = [output.get("text", "")]
        texts += [output.get("data", {}).get(kind, "") for kind in TEXT_FORMATS]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else str(text)
            shown += [line.strip() for line in text.splitlines() if pattern.search(line)]
    return shown


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval for a notebook cell
    if outputs:
        shown = paths_in_outputs(outputs, machine_paths())
        if shown:
            raise AssertionError(
                "this cell prints a path of the machine that runs it, which would "
                "appear on the book's page:\n  " + "\n  ".join(shown[:5])
            )
    return result
