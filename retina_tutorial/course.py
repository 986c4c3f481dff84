"""A course kit: the book's chapters as nbgrader assignments, and student editions.

Explained in ``book/instructors.md``.

:func:`write_course` turns each chapter with exercises into an nbgrader
source notebook, ``source/<chapter>/<chapter>.ipynb``, and writes an
``nbgrader_config.py`` that works as it stands. The chapter stays as it is,
so students still read and run it; only its exercises change:

* the statement becomes a locked markdown cell;
* the answer cell holds the book's own stub (``answer = None  # your code
  here``) and, after it, the book's worked solution between nbgrader's
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers, which
  ``nbgrader generate_assignment`` removes from the student version;
* a locked, graded test cell calls the chapter's checker and fails unless
  the answer passes;
* the book's folded solution cell is left out.

The book's notebooks stay the single source: nothing here is maintained
twice. :func:`student_notebook` makes the same student version without
nbgrader, for the download on the instructors' page.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

import nbformat

#: The book's chapters, in order (the repository's book/ folder).
BOOK = Path(__file__).resolve().parents[1] / "book"
#: The book's stub line of an exercise: what a student starts from.
STUB_LINE = re.compile(r"^\w+ = None\s+# your code here")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
POINTS = 1
CONFIG = '''"""nbgrader configuration of the retina-unet-book course kit."""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (nbgrader provides it)

c.CourseDirectory.course_id = "retina-unet-book"
c.CourseDirectory.root = str(Path(__file__).resolve().parent)
# The book's stub stands above each solution, so the student version needs
# nothing in the solution's place.
c.ClearSolutions.code_stub = {{"python": ""}}
# A chapter trains and predicts: give each cell time, and the whole
# notebook more (the quick profile runs each chapter in about two minutes).
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
# nbgrader calls `alembic` by name: the environment's bin folder on PATH.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
# Grading runs the quick profile; TensorFlow's C++ log stays off stderr,
# where nbgrader would take any line for a failed test cell.
os.environ.setdefault("RETINA_TUTORIAL_PROFILE", "quick")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Data: DRIVE where RETINA_TUTORIAL_DATA points at it on the grading machine,
# otherwise the synthetic set the package makes (the checkers work on both).
'''


class CourseError(ValueError):
    """A chapter's exercises are not laid out as the kit expects."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: where its cells are and what its test calls."""

    number: int
    title: str
    statement: int
    stub: int
    solution: int
    checker: str


def chapters(book: Path = BOOK) -> list[Path]:
    """The chapter notebooks that have exercises, in order."""
    return [path for path in sorted(book.glob("[0-9][0-9]_*.ipynb")) if exercises_of(read(path))]


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(Path(path), as_version=4)


def exercises_of(notebook) -> list[Exercise]:
    """The exercises of a chapter: statement, stub and folded solution of each."""
    found = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        match = (
            re.match(r"### Exercise (\d+): (.+)", cell.source)
            if cell.cell_type == "markdown"
            else None
        )
        if not match:
            continue
        stub = _next(cells, index, lambda c: c.cell_type == "code")
        solution = _next(cells, stub, lambda c: "hide-cell" in c.metadata.get("tags", []))
        checker = re.search(r"exercises\.(check_\w+)\(", cells[stub].source)
        stub_lines = cells[stub].source.splitlines()
        if checker is None or not any(STUB_LINE.match(line) for line in stub_lines):
            raise CourseError(
                f"Exercise {match.group(1)}: its first code cell must hold a stub line such as "
                "`answer = None  # your code here` and call a checker from "
                "retina_tutorial.exercises."
            )
        found.append(
            Exercise(
                int(match.group(1)), match.group(2).strip(), index, stub, solution, checker.group(1)
            )
        )
    return found


def source_notebook(path, points: int = POINTS) -> nbformat.NotebookNode:
    """The nbgrader source version of one chapter (see the module's docstring)."""
    notebook = read(path)
    chapter = Path(path).stem
    exercises = exercises_of(notebook)
    replaced: dict[int, list] = {}
    dropped: set[int] = set()
    for exercise in exercises:
        stub = notebook.cells[exercise.stub].source.splitlines()
        solution = notebook.cells[exercise.solution].source.splitlines()
        at = next(i for i, line in enumerate(stub) if STUB_LINE.match(line))
        setup, test = stub[: at + 1], stub[at + 1 :]
        call = next(i for i, line in enumerate(solution) if line.startswith("result = exercises."))
        worked = solution[:call]
        tag = f"{chapter[:2]}-ex{exercise.number}"
        statement = notebook.cells[exercise.statement]
        statement.metadata["nbgrader"] = _grader(f"{tag}-statement", locked=True)
        answer = nbformat.v4.new_code_cell("\n".join([*setup, BEGIN, *worked, END]))
        answer.metadata["nbgrader"] = _grader(f"{tag}-answer", solution=True)
        check = nbformat.v4.new_code_cell(
            "\n".join([*test, 'assert result.passed, "Not passed yet: see the feedback above."'])
        )
        check.metadata["nbgrader"] = _grader(f"{tag}-test", grade=True, locked=True, points=points)
        replaced[exercise.stub] = [answer, check]
        # The "**Solution** (folded below...)" line and the folded solution.
        dropped.update(range(exercise.stub + 1, exercise.solution + 1))
    cells = []
    for index, cell in enumerate(notebook.cells):
        if index in replaced:
            cells.extend(replaced[index])
        elif index not in dropped:
            cells.append(cell)
    notebook.cells = cells
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{chapter[:2]}-{index:03d}"
    return notebook


def student_notebook(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` gives students: every solution taken out."""
    student = nbformat.from_dict(source)
    pattern = re.compile(rf"\n{re.escape(BEGIN)}\n.*?^{re.escape(END)}$", re.DOTALL | re.MULTILINE)
    for cell in student.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = pattern.sub("", cell.source)
    return student


def write_course(out, chapter_names=None, *, timeout: int = 600, book: Path = BOOK) -> Path:
    """Write an nbgrader course folder from the book's chapters.

    Parameters
    ----------
    out : str or Path
        The course folder (created): ``nbgrader_config.py`` and
        ``source/<chapter>/<chapter>.ipynb`` for each chapter.
    chapter_names : list of str, optional
        Chapter stems (``"01_data_preparation"``) or their two-digit
        numbers; by default every chapter with exercises.
    timeout : int
        Seconds a cell may run under nbgrader.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    available = chapters(book)
    chosen = available if not chapter_names else [_find(name, available) for name in chapter_names]
    for path in chosen:
        folder = out / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(path), folder / path.name)
    (out / "nbgrader_config.py").write_text(CONFIG.format(timeout=int(timeout)))
    return out


def write_student_zip(path, *, book: Path = BOOK) -> Path:
    """A zip of every chapter's student version (no solutions), for the book's download."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for chapter in chapters(book):
            student = student_notebook(source_notebook(chapter))
            archive.writestr(f"retina-unet-book-student/{chapter.name}", nbformat.writes(student))
    return path


def exercise_table(book: Path = BOOK) -> list[dict]:
    """One row per exercise: chapter, number, title, checker and points."""
    return [
        {
            "chapter": path.stem,
            "exercise": e.number,
            "title": e.title,
            "checker": e.checker,
            "points": POINTS,
        }
        for path in chapters(book)
        for e in exercises_of(read(path))
    ]


def _grader(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    metadata = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        metadata["points"] = points
    return metadata


def _next(cells, start: int, wanted) -> int:
    for index in range(start + 1, len(cells)):
        if wanted(cells[index]):
            return index
    raise CourseError(f"cell {start}: an exercise lacks its stub or its folded solution.")


def _find(name: str, available: list[Path]) -> Path:
    for path in available:
        if name in (path.stem, path.name, path.stem[:2]):
            return path
    raise CourseError(
        f"No chapter with exercises called {name!r}: choose from "
        f"{', '.join(path.stem for path in available)}."
    )
