"""What ``make book`` reads: the chapters, never a virtual environment in the tree.

``make test-lowest`` makes ``.venv-lowest`` beside ``.venv`` (and ``make
test-without-tensorflow`` ``.venv-onnx``), and the packages in them ship
notebooks of their own (matplotlib's ``nbagg_uat.ipynb``). Sphinx would read
them as pages of the book, and fail on them, unless ``_config.yml`` excludes
them.
"""

import re
from pathlib import Path

import yaml
from jupyter_book.config import get_final_config
from sphinx.project import Project

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".md": "myst-nb", ".ipynb": "myst-nb"}


def makefile_environments() -> list[str]:
    """The virtual environment folders the Makefile creates in the tree."""
    makefile = (ROOT / "Makefile").read_text()
    return re.findall(r"^(?:[A-Z]+_)?VENV \?= (\S+)$", makefile, re.MULTILINE)


def book_pages(source: Path) -> set[str]:
    """The documents Sphinx finds under ``source`` with the book's exclusions."""
    settings, _ = get_final_config(
        user_yaml=yaml.safe_load((ROOT / "_config.yml").read_text()),
        cli_config={"latex_individualpages": False},
        sourcedir=source,
    )
    return Project(str(source), SUFFIXES).discover(settings["exclude_patterns"])


def test_the_book_reads_no_notebook_inside_a_virtual_environment(tmp_path):
    environments = makefile_environments()
    assert environments == [".venv", ".venv-lowest", ".venv-onnx"]
    page = tmp_path / "book" / "chapter.ipynb"
    page.parent.mkdir()
    page.write_text("{}")
    shipped = "lib/python3.11/site-packages/matplotlib/backends/web_backend/nbagg_uat.ipynb"
    for environment in environments:
        inside = tmp_path / environment / shipped
        inside.parent.mkdir(parents=True)
        inside.write_text("{}")
    assert book_pages(tmp_path) == {"book/chapter"}
