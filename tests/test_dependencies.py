"""environment.yml (conda) and pyproject.toml (pip) must declare the same set."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _parse(requirement: str):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement.strip()).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_parse(r) for r in requirements)


def environment_requirements() -> dict:
    found = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        item = line.strip()
        if not item.startswith("- ") or item.endswith(":") or item.startswith("- -e"):
            continue
        name, spec = _parse(item[2:])
        if name not in ("python", "pip"):
            found[name] = spec
    return found


def test_environment_and_pyproject_declare_the_same_dependencies():
    assert environment_requirements() == pyproject_requirements()


def test_both_files_are_really_read():
    for requirements in (pyproject_requirements(), environment_requirements()):
        assert requirements["tensorflow"] == ">=2.17.0"
        assert requirements["keras"] == ">=3.14.0"
        assert requirements["jupyter-book"] == ">=1,<2"
        assert "nbval" in requirements


def lowest_pins() -> dict:
    pins = {}
    for line in (ROOT / ".ci" / "lowest-requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


#: The extras that hold the package's runtime (its two engines): pinned low too.
RUNTIME_EXTRAS = ("keras", "onnx")


def test_the_lowest_environment_pins_every_dependency_at_its_declared_lower_bound():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        declared += project["optional-dependencies"][extra]
    runtime = dict(_parse(r) for r in declared)
    assert all(spec.startswith(">=") and "," not in spec for spec in runtime.values()), runtime
    assert lowest_pins() == {name: spec[2:] for name, spec in runtime.items()}


def test_ci_runs_the_lowest_environment_after_the_readme_command():
    # A command may run through the script's `stage` timer.
    lines = [
        line.strip().removeprefix("stage ")
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
    ]
    assert lines.index("make test") < lines.index("make test-lowest")
    makefile = (ROOT / "Makefile").read_text()
    assert (
        "-c $(LOWEST_PINS)" in makefile and "LOWEST_PINS := .ci/lowest-requirements.txt" in makefile
    )


def test_package_and_pyproject_state_the_same_version():
    import retina_tutorial

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == retina_tutorial.__version__


def test_changelog_and_citation_name_the_packages_version():
    import retina_tutorial

    newest = re.search(r"^## (\S+) ", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert newest and newest.group(1) == retina_tutorial.__version__, "add a CHANGELOG.md entry"
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == retina_tutorial.__version__
    assert citation["license"] == "MIT" and citation["references"][0]["year"] == 2004


def test_the_licence_is_an_spdx_string_with_its_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
