"""Checks on the book's pages as nbval runs them (``make test`` runs ``book/``).

The built book's pages are these notebooks' outputs. No page may show a path
of the machine that built it: the repository, the data folder, the temporary
folder, the home folder or the Python environment. And no sentence may state
a number that its page does not show: every decimal in a chapter's markdown
must be one of its outputs (to the digits the sentence gives), a constant of
the method (:data:`PROSE_CONSTANTS`), or sit in a paragraph labelled as the
shipped model's DRIVE figures ("on DRIVE") and be one of those, read from
the files shipped with the model. ``make test`` runs it on DRIVE, ``make
test-synthetic`` on the synthetic set that an unconfigured build publishes.
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

#: Decimals a chapter may state without printing them: settings and facts of
#: the method, not measurements. Each with the reason it is not measured.
PROSE_CONSTANTS = {
    "0.3": "an example probability",
    "0.5": "the default threshold",
    "0.25": "the threshold the explorer's figure is drawn at",
    "0.01": "the smoothing constant of soft Dice",
    "1.2": "the zoom factor of the augmentation",
    "1.5": "45 degrees / 30 degrees, CHASE_DB1's field against DRIVE's",
    "1.6": "RETFound's millions of pretraining images, as published",
    "0.906": "565 -> 512 columns",
    "0.877": "584 -> 512 rows",
    "2.5": "the lower percentile of a 95 % interval",
    "97.5": "the upper percentile of a 95 % interval",
}
#: A decimal in prose: not part of a word, a version (3.11.7) or a longer number.
PROSE_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.]*\d)(\s?%)?")
#: Software named before a version number, which is not a measurement.
SOFTWARE = re.compile(
    r"(Python|Keras|TensorFlow|NumPy|nbgrader|Pillow|matplotlib|ipywidgets|opset)\s*$",
    re.IGNORECASE,
)
#: A paragraph that quotes the shipped model's DRIVE figures says so.
DRIVE_LABEL = re.compile(r"\bon DRIVE\b", re.IGNORECASE)


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


def output_text(outputs) -> str:
    """All text of notebook ``outputs`` that reaches a page."""
    texts = []
    for output in outputs or ():
        texts.append(output.get("text", ""))
        texts += [output.get("data", {}).get(kind, "") for kind in TEXT_FORMATS]
    return "\n".join("".join(text) if isinstance(text, list) else str(text) for text in texts)


def prose_paragraphs(markdown: str) -> list[str]:
    """A markdown cell's paragraphs as a reader sees them, without code, links or references."""
    markdown = markdown.split("## Resources and references")[0]
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"`[^`]*`", " ", markdown)
    markdown = re.sub(r"\]\([^)]*\)", "]", markdown)
    return [part for part in re.split(r"\n\s*\n", markdown) if part.strip()]


def prose_numbers(paragraph: str) -> list[tuple[str, bool]]:
    """``(number, is_percent)`` for each decimal a paragraph states (not versions)."""
    found = []
    for match in PROSE_NUMBER.finditer(paragraph):
        if SOFTWARE.search(paragraph[: match.start()]):
            continue
        found.append((match.group(1), bool(match.group(2))))
    return found


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``."""
    return [float(value) for value in re.findall(r"\d+(?:\.\d+)?", text)]


def shown_in(number: str, percent: bool, shown: list[float]) -> bool:
    """Whether ``number``, to the digits it is written with, is one of ``shown``."""
    value = float(number)
    half_step = 0.5 * 10.0 ** -len(number.split(".")[1]) + 1e-12
    candidates = shown + ([100 * x for x in shown] if percent else [])
    return any(abs(candidate - value) <= half_step for candidate in candidates)


def shipped_drive_figures() -> list[float]:
    """Every number in the files shipped with the model: its reports and model card."""
    weights = Path(__file__).parent / "retina_tutorial" / "weights"
    figures = []
    for path in sorted(weights.iterdir()):
        if path.suffix in (".json", ".md", ".csv"):
            figures += numbers_in(path.read_text())
    return figures


def unbacked_prose(cells, outputs_text: str, drive_figures: list[float]) -> list[str]:
    """Sentences of markdown ``cells`` whose numbers their page does not back.

    A number is backed when the page's outputs show it, when it is one of
    :data:`PROSE_CONSTANTS`, or when its paragraph is labelled "on DRIVE"
    and the shipped model's files hold it.
    """
    shown = numbers_in(outputs_text)
    problems = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"]
        source = "".join(source) if isinstance(source, list) else source
        for paragraph in prose_paragraphs(source):
            labelled = bool(DRIVE_LABEL.search(paragraph))
            for number, percent in prose_numbers(paragraph):
                if number in PROSE_CONSTANTS or shown_in(number, percent, shown):
                    continue
                if labelled and shown_in(number, percent, drive_figures):
                    continue
                where = " ".join(paragraph.split())
                problems.append(f"{number}{' %' if percent else ''} in: {where[:160]}")
    return problems


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
    notebook = getattr(item.parent, "nb", None)
    if notebook is not None and hasattr(item, "cell"):
        _check_prose_when_done(item, notebook, outputs)
    return result


def _check_prose_when_done(item, notebook, outputs) -> None:
    """After a notebook's last code cell: does its prose state only what it shows?"""
    seen = item.parent.__dict__.setdefault("_page_outputs", [])
    seen.append(output_text(outputs))
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if item.cell is not code_cells[-1]:
        return
    problems = unbacked_prose(notebook.cells, "\n".join(seen), shipped_drive_figures())
    if problems:
        raise AssertionError(
            "the prose of this page states numbers its outputs do not show (print them, "
            "write the sentence from them with retina_tutorial.prose, or label it as the "
            "shipped model's figures 'on DRIVE'):\n  " + "\n  ".join(problems)
        )


def pytest_collection_modifyitems(config, items):
    """Long files first, so that none of them starts last and runs on alone.

    pytest-xdist (``--dist loadfile --no-loadscope-reorder``, as ``make``
    runs it) hands each worker a whole file at a time, in this order. The
    notebooks come first, later chapters (the longest) before earlier ones,
    then the files with tests marked ``slow``, then the rest as collected;
    a file's own tests and cells keep their order.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item):
        if item.path.suffix == ".ipynb":
            chapter = item.path.name[:2]
            return (0, -int(chapter) if chapter.isdigit() else 0)
        return (1 if item.path in slow_files else 2, 0)

    items.sort(key=rank)
