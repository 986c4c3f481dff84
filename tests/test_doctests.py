"""The package's docstring examples run with the tests (``pytest --doctest-modules``)."""

import doctest
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import retina_tutorial

ROOT = Path(__file__).resolve().parents[1]
#: One example starts at each prompt; its continuation lines start with "...".
PROMPT = re.compile(r"^\s*>>> ", re.MULTILINE)


def package_modules():
    """Every module of the package, subpackages included, imported."""
    names = [
        info.name for info in pkgutil.walk_packages(retina_tutorial.__path__, "retina_tutorial.")
    ]
    return [retina_tutorial, *(importlib.import_module(name) for name in names)]


def test_pytest_collects_the_packages_doctests():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "retina_tutorial" in options["testpaths"]


def test_every_example_written_is_one_doctest_finds():
    # An example doctest cannot reach (in a comment, a nested function, a
    # docstring that is not the first statement) would never run.
    finder = doctest.DocTestFinder()
    for module in package_modules():
        written = len(PROMPT.findall(Path(module.__file__).read_text()))
        found = sum(len(test.examples) for test in finder.find(module))
        assert found == written, f"{module.__name__}: {written} examples written, {found} run"
