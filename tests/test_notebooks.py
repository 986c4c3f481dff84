"""The book's notebooks: listed, clean, one skeleton, a safe Colab cell, real exercises.

These tests read the notebooks; they do not run them (``make test`` runs
every notebook with nbval, and ``make book`` runs them for the book).
"""

import ast
import importlib.util
import pkgutil
import re
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import nbformat
import pytest
import yaml

import retina_tutorial
from retina_tutorial import exercises

ROOT = Path(__file__).resolve().parents[1]
#: The first lines of every notebook's first code cell, exactly.
COLAB_CELL = """import sys

if "google.colab" in sys.modules:  # Colab only: install the book's package
    import subprocess

    repository = "https://github.com/retina-unet-book/retina-unet-book"
    package = f"retina-tutorial @ git+{repository}@main"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    subprocess.run([*pip, package], check=True)
    from retina_tutorial import environment

    environment.install_requirements()  # upgrades what is too old, says so
"""
#: Markers of the chapter skeleton, in the order they must appear.
SKELETON = (
    "## Overview",
    "## Prerequisites",
    "| Concepts | Importance | Notes |",
    "**Time to learn**",
    "## Summary",
    "## What's next?",
    "## Exercises",
    "## Resources and references",
)
MAX_CODE_LINES = 20
#: Longest line of code a book page shows without scrolling.
MAX_LINE_LENGTH = 79


def _toc_files(entries):
    for entry in entries or ():
        if "file" in entry:
            yield entry["file"]
        for key in ("chapters", "sections", "parts"):
            yield from _toc_files(entry.get(key))


def toc_documents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [
        toc["root"],
        *_toc_files([{"chapters": toc.get("chapters"), "parts": toc.get("parts")}]),
    ]


def _document_path(name):
    candidates = [ROOT / f"{name}{suffix}" for suffix in ("", ".ipynb", ".md")]
    return next((path for path in candidates if path.is_file()), None)


NOTEBOOKS = [
    path
    for path in map(_document_path, toc_documents())
    if path is not None and path.suffix == ".ipynb"
]


def _read(path):
    return nbformat.read(path, as_version=4)


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_every_document_in_the_toc_exists():
    documents = toc_documents()
    assert documents[0] == "book/intro"
    missing = [name for name in documents if _document_path(name) is None]
    assert not missing, f"_toc.yml lists documents that do not exist: {missing}"
    assert NOTEBOOKS, "the table of contents lists no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    notebook = _read(path)
    nbformat.validate(notebook)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_skeleton(path):
    notebook = _read(path)
    fences = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)  # code examples are not headings
    markdown = [
        fences.sub("", cell.source) for cell in notebook.cells if cell.cell_type == "markdown"
    ]
    titles = [line for text in markdown for line in text.splitlines() if re.match(r"# \S", line)]
    assert len(titles) == 1 and notebook.cells[0].source.startswith("# "), (
        f"{path.name}: one '# ' title, in the first cell; found {titles}"
    )
    text = "\n".join(markdown)
    positions = [text.find(marker) for marker in SKELETON]
    absent = [marker for marker, at in zip(SKELETON, positions) if at < 0]
    assert not absent, f"{path.name}: missing {absent}"
    assert positions == sorted(positions), f"{path.name}: skeleton out of order: {SKELETON}"
    assert re.search(r"\*\*Time to learn\*\*: \d+ minutes", text), f"{path.name}: give minutes"
    overview = text[positions[0] : positions[1]]
    assert re.search(r"^1\. ", overview, re.MULTILINE), f"{path.name}: Overview is a numbered list"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_on_colab_then_shows_profile_and_data(path):
    source = _code_cells(_read(path))[0].source
    assert source.startswith(COLAB_CELL), (
        f"{path.name}: first code cell must start with the Colab cell"
    )
    for line in (
        "profile = config.get_profile()",
        "print(profile)",
        "dataset = data.load_dataset()",
    ):
        assert line in source, f"{path.name}: first code cell lacks `{line}`"
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
    modules = {module.name for module in pkgutil.iter_modules(retina_tutorial.__path__)}
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "retina_tutorial"
        for alias in node.names
    ]
    assert imported and set(imported) <= modules, (
        f"{path.name}: import the package's modules, not objects; got {imported}"
    )


def _run_colab_guard(monkeypatch, calls, *, on_colab):
    def fake_run(*args, **kwargs):
        calls.append(args)
        if not on_colab:
            raise AssertionError("the Colab cell installed something outside Colab")
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(COLAB_CELL, "<colab cell>", "exec"), {})


def test_colab_cell_does_nothing_outside_colab(monkeypatch):
    calls = []
    _run_colab_guard(monkeypatch, calls, on_colab=False)
    assert calls == []


def test_colab_cell_installs_the_package_then_checks_its_requirements(monkeypatch, capsys):
    calls = []
    _run_colab_guard(monkeypatch, calls, on_colab=True)
    # This environment meets every requirement: pip runs once, for the package.
    ((command,),) = calls
    assert command[:6] == [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    assert command[6].startswith("retina-tutorial @ git+https://github.com/")
    assert "already has what the book needs" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    # The first cell is exempt: its Colab block alone takes 7 of the lines.
    lengths = [len(cell.source.splitlines()) for cell in _code_cells(_read(path))[1:]]
    long = [n for n in lengths if n > MAX_CODE_LINES]
    assert not long, (
        f"{path.name}: code cells of {long} lines (> {MAX_CODE_LINES}); move code to the package"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_a_book_page(path):
    # A book page shows about 80 characters of code before it scrolls; the
    # box of a folded solution a few less.
    long = []
    for cell in _code_cells(_read(path)):
        folded = "hide-cell" in cell.metadata.get("tags", [])
        limit = MAX_LINE_LENGTH - 3 if folded else MAX_LINE_LENGTH
        long += [line for line in cell.source.splitlines() if len(line) > limit]
    assert not long, f"{path.name}: lines too long for a book page: {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_call_real_checkers_and_have_hidden_solutions(path):
    cells = _read(path).cells
    text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    after = text[text.find("## Exercises") :]
    assert len(re.findall(r"^### Exercise \d+", after, re.MULTILINE)) >= 3, (
        f"{path.name}: 3+ exercises"
    )
    calls = {
        name
        for cell in cells
        if cell.cell_type == "code"
        for name in re.findall(r"exercises\.(check_\w+)\(", cell.source)
    }
    unknown = sorted(name for name in calls if not callable(getattr(exercises, name, None)))
    assert not unknown, f"{path.name}: calls checkers that exercises.py lacks: {unknown}"
    assert len(calls) >= 3, f"{path.name}: at least 3 different checkers, found {sorted(calls)}"
    learner = [
        c
        for c in cells
        if c.cell_type == "code" and "= None" in c.source and "exercises.check_" in c.source
    ]
    solutions = [
        c
        for c in cells
        if c.cell_type == "code"
        and "hide-cell" in c.metadata.get("tags", ())
        and "exercises.check_" in c.source
    ]
    assert len(learner) >= 3, f"{path.name}: exercise cells should start from `answer = None`"
    assert len(solutions) >= len(learner), f"{path.name}: each exercise needs a hidden solution"


def _root_conftest():
    spec = importlib.util.spec_from_file_location("book_checks", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pages_may_not_show_the_machines_paths():
    checks = _root_conftest()
    paths = checks.machine_paths()
    temporary = tempfile.gettempdir()
    assert str(ROOT) in paths and tempfile.gettempdir() in paths
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": f"Data: DRIVE from {ROOT}/data\n"},
        {
            "output_type": "display_data",
            "data": {"text/plain": ["saved to ", f"{temporary}/x1/best"]},
        },
        {"output_type": "stream", "name": "stdout", "text": "Data: DRIVE from the folder 'DRIVE'"},
        {"output_type": "stream", "name": "stdout", "text": f"{temporary}ish /"},
    ]
    shown = checks.paths_in_outputs(outputs, paths)
    assert shown == [f"Data: DRIVE from {ROOT}/data", f"saved to {temporary}/x1/best"]


def _markdown(text):
    return {"cell_type": "markdown", "source": text}


def test_prose_numbers_must_be_shown_constant_or_labelled_drive_figures():
    checks = _root_conftest()
    cells = [
        _markdown("The threshold chosen here is 0.581, and 0.5 is the default."),
        _markdown("Sensitivity 48.7 % of the pixels; Keras 3.14 and Python 3.11 are versions."),
        _markdown("On DRIVE, shipped model: F1 0.8180 and ROC AUC 0.9806."),
        _markdown("Its ECE is about 0.005."),  # typed, neither shown nor labelled
        _markdown("Shipped F1 0.8180 without a label."),
        _markdown("## Resources and references\n\n- Journal 23(4), 501.509, 2004, 1.2345"),
        _markdown("Code `x = 0.123` and [a link](https://example.org/0.77) are not prose."),
        {"cell_type": "code", "source": "print(0.9999)"},
    ]
    shown = "threshold 0.5810\nvessel share 0.4871"
    problems = checks.unbacked_prose(cells, shown, drive_figures=[0.81802, 0.98061])
    assert [problem.split(" in: ")[0] for problem in problems] == ["0.005", "0.8180"]
    assert "Its ECE is about 0.005." in problems[0]


def test_prose_number_matches_to_the_digits_written():
    checks = _root_conftest()
    assert checks.shown_in("0.72", False, [0.7195])
    assert not checks.shown_in("0.72", False, [0.7149])
    assert checks.shown_in("48.7", True, [0.4871])  # a share printed as a fraction
    assert not checks.shown_in("48.7", False, [0.4871])
    assert checks.shipped_drive_figures(), "the shipped model's reports are missing"


def test_every_page_carries_a_banner_naming_its_data(monkeypatch):
    spec = importlib.util.spec_from_file_location("data_banner", ROOT / "book/_ext/data_banner.py")
    banner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(banner)
    assert "Synthetic build" in banner.banner("synthetic")
    assert 'href="intro.html#getting-drive"' in banner.banner("synthetic")
    assert "DRIVE build" in banner.banner("drive")
    assert "CHASE_DB1 build" in banner.banner("chase_db1")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"] == {
        "data_banner": "book/_ext",
        "try_it": "book/_ext",
    }
    connected = []
    banner.setup(types.SimpleNamespace(connect=lambda *handler: connected.append(handler)))
    assert connected == [("config-inited", banner.announce)]
    monkeypatch.delenv("RETINA_TUTORIAL_DATA", raising=False)
    settings = types.SimpleNamespace(html_theme_options={"logo": {}})
    banner.announce(None, settings)
    assert settings.html_theme_options["announcement"] == banner.banner("synthetic")
    assert settings.html_theme_options["logo"] == {}
    heading = "## Getting DRIVE"
    assert heading in (ROOT / "book/intro.md").read_text(), "the banner links to this section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_read_right_in_jupyterlab_and_colab(path):
    """No MyST-only markup in markdown; solutions folded there too; live widgets not redrawn."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"^(:::|```)\{", cell.source, re.M), (
                f"{path.name}: a MyST directive shows as raw text in JupyterLab and Colab; "
                "use markdown all three render (a > quote for a note)"
            )
        if "hide-cell" in cell.metadata.get("tags", ()):
            assert cell.metadata.get("jupyter") == {
                "source_hidden": True,
                "outputs_hidden": True,
            }, f"{path.name}: a folded solution must be folded in JupyterLab too"
        assert not re.search(r"\bexplorer\.update\(", cell.source), (
            f"{path.name}: redrawing the live explorer changes the reader's widget; "
            "draw the book's figure with a second explorer"
        )
