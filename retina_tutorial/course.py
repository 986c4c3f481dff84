"""A course kit: the book's chapters as nbgrader assignments, and student editions.

Explained in ``book/instructors.md``.

:func:`write_course` turns each chapter with exercises into an nbgrader
source notebook, ``source/<chapter>/<chapter>.ipynb``, and writes an
``nbgrader_config.py`` that works as it stands. The chapter stays as it is,
so students still read and run it, but every cell is read-only except the
answers; its exercises change:

* the statement becomes a locked markdown cell;
* the values an exercise gives (the lines above the book's stub, often
  :func:`retina_tutorial.exercises.given`) become a locked cell;
* the answer cell holds the book's stub (``answer = None  # your code
  here``) and, after it, the book's worked solution between nbgrader's
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers, which
  ``nbgrader generate_assignment`` removes from the student version;
* a locked, graded test cell calls the chapter's checker, so students can
  check their work, and hands the answer in
  (:func:`retina_tutorial.grading.hand_in`);
* the book's folded solution cell is left out;
* a written question (``### Question: ...`` and its folded rubric) becomes
  a markdown answer cell graded by hand, with the rubric in the source
  version only.

Grading is :func:`retina_tutorial.grading.grade_assignment`, not plain
``nbgrader autograde``. The book's notebooks stay the single source: nothing
here is maintained twice. :func:`student_notebook` makes the same student
version without nbgrader, for the download on the instructors' page.
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
#: Points of a written question, graded by hand with its rubric.
QUESTION_POINTS = 2
#: What a student finds in a written question's answer cell (nbgrader's own stub).
ANSWER_STUB = "YOUR ANSWER HERE"
CONFIG = '''"""nbgrader configuration of the retina-unet-book course kit."""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (nbgrader provides it)

c.CourseDirectory.course_id = {course_id!r}
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
# Late work: "none" keeps its score, "zero" gives it 0 (after the due date
# recorded in the gradebook, which students see in each notebook's first cell).
c.LateSubmissionPlugin.penalty_method = {late_penalty!r}
'''
#: Written when an exchange folder is given (JupyterHub: release, fetch, submit, collect).
EXCHANGE = "c.Exchange.root = {root!r}\n"
#: Late-work policies nbgrader 0.9 offers, as the kit words them for students.
LATE_PENALTIES = {"none": "late work is graded as usual", "zero": "late work scores 0"}


#: The first cell of every course notebook: what students need to know.
HOW_GRADED = """\
**How this notebook is graded.** Write your answer to each exercise in the
cell that holds `answer = None  # your code here`; every other cell is
read-only. Run the test cell below it to check your work as often as you
like.

Grading runs your notebook again on a subset of the images that you have not
seen, and with other values for the numbers an exercise gives you (the
variables set above each answer cell). So compute every answer with code
from the data and those variables: a typed number, or one copied from
anywhere, answers another question. Numbers pass when they agree with the
right value to 4 decimals, unless the exercise says otherwise.

Calling the checkers yourself (beyond the book's line `result =
exercises.check_...(answer, ...)` after your answer), changing modules, the
kernel or files, or reading the grading's files scores 0 on that exercise
and every later one; your teacher sees why."""
#: The course version of the chapter's "## Exercises" paragraph.
EXERCISES_HEADING = """\
## Exercises

Each exercise has a statement, a cell for your answer and a read-only test
cell that checks it and hands it in. Left as it is, the test cell says that
the exercise is not answered yet."""


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
        setup, test = stub[:at], stub[at + 1 :]
        call = next(i for i, line in enumerate(solution) if line.startswith("result = exercises."))
        worked = solution[:call]
        tag = f"{chapter[:2]}-ex{exercise.number}"
        statement = notebook.cells[exercise.statement]
        statement.metadata["nbgrader"] = _grader(f"{tag}-statement", locked=True)
        cells = []
        if setup:
            given = nbformat.v4.new_code_cell("\n".join(setup))
            given.metadata["nbgrader"] = _grader(f"{tag}-setup", locked=True)
            cells.append(given)
        answer = nbformat.v4.new_code_cell("\n".join([stub[at], BEGIN, *worked, END]))
        answer.metadata["nbgrader"] = _grader(f"{tag}-answer", solution=True)
        check = nbformat.v4.new_code_cell(
            "\n".join(
                [
                    "from retina_tutorial import grading",
                    *test,
                    f"grading.hand_in({tag!r}, answer)",
                    'assert result.passed, "Not passed yet: see the feedback above."',
                ]
            )
        )
        check.metadata["nbgrader"] = _grader(f"{tag}-test", grade=True, locked=True, points=points)
        replaced[exercise.stub] = [*cells, answer, check]
        # The "**Solution** (folded below...)" line and the folded solution.
        dropped.update(range(exercise.stub + 1, exercise.solution + 1))
    for number, (statement, rubric) in enumerate(questions_of(notebook), 1):
        tag = f"{chapter[:2]}-q{number}"
        notebook.cells[statement].metadata["nbgrader"] = _grader(f"{tag}-statement", locked=True)
        answer = nbformat.v4.new_markdown_cell(_rubric(notebook.cells[rubric].source))
        answer.metadata["nbgrader"] = _grader(
            f"{tag}-answer", grade=True, solution=True, points=QUESTION_POINTS
        )
        replaced[rubric] = [answer]
    cells = [_how_graded()]
    for index, cell in enumerate(notebook.cells):
        if index in replaced:
            cells.extend(replaced[index])
        elif index not in dropped:
            if cell.cell_type == "markdown" and cell.source.startswith("## Exercises"):
                cell.source = EXERCISES_HEADING
            cells.append(cell)
    notebook.cells = cells
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{chapter[:2]}-{index:03d}"
        # Every cell but the answers is read-only: nbgrader restores it before
        # grading, so a slip in a chapter cell costs no later exercise.
        if "nbgrader" not in cell.metadata:
            cell.metadata["nbgrader"] = _grader(f"{chapter[:2]}-cell{index:03d}", locked=True)
    return notebook


def questions_of(notebook) -> list[tuple[int, int]]:
    """The written questions of a chapter: (statement, rubric) cell indices of each.

    A question is a ``### Question: title`` markdown cell followed by a
    ``<details>`` cell, "What a good answer says", that holds its rubric.
    """
    found = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and cell.source.startswith("### Question:"):
            following = cells[index + 1] if index + 1 < len(cells) else None
            if following is None or not following.source.startswith("<details>"):
                raise CourseError(
                    f"cell {index}: a written question must be followed by its rubric, a "
                    "markdown cell that starts with <details>."
                )
            found.append((index, index + 1))
    return found


def _rubric(details: str) -> str:
    """The rubric for graders: the folded cell's points, without the HTML around them."""
    lines = [
        line
        for line in details.splitlines()
        if not line.strip().startswith(("<details>", "</details>", "<summary>"))
    ]
    return "**Rubric** (graded by hand):\n\n" + "\n".join(lines).strip()


def checker_call(test_source: str) -> list[str]:
    """The lines of a graded test cell that call the checker (they set ``result``)."""
    return [
        line
        for line in test_source.splitlines()
        if not line.startswith(("from retina_tutorial import grading", "grading.hand_in("))
        and not line.startswith("assert result.passed")
    ]


def _how_graded() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(HOW_GRADED)
    cell.metadata["nbgrader"] = _grader("how-graded", locked=True)
    return cell


def student_notebook(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` gives students: every solution taken out."""
    student = nbformat.from_dict(source)
    pattern = re.compile(rf"\n{re.escape(BEGIN)}\n.*?^{re.escape(END)}$", re.DOTALL | re.MULTILINE)
    for cell in student.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            if cell.cell_type == "code":
                cell.source = pattern.sub("", cell.source)
            else:
                cell.source = ANSWER_STUB
    return student


def write_course(
    out,
    chapter_names=None,
    *,
    timeout: int = 600,
    book: Path = BOOK,
    course_id: str = "retina-unet-book",
    exchange=None,
    due: str | None = None,
    late_penalty: str = "none",
) -> Path:
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
    course_id : str
        The course's id, which JupyterHub's exchange files assignments under.
    exchange : str or Path, optional
        The exchange folder for ``nbgrader release_assignment`` and
        ``collect`` (nbgrader's default, ``/srv/nbgrader/exchange``, if None).
    due : str, optional
        Due date of every chapter written, e.g. ``"2026-12-18 17:00 UTC"``:
        recorded in the gradebook (nbgrader marks later submissions late) and
        shown in each notebook's first cell.
    late_penalty : {'none', 'zero'}
        What a late submission scores.

    Returns
    -------
    Path
        ``out``.
    """
    if late_penalty not in LATE_PENALTIES:
        raise CourseError(
            f"late_penalty={late_penalty!r}: choose one of {', '.join(LATE_PENALTIES)}."
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", course_id):
        raise CourseError(
            f"course_id={course_id!r}: use letters, digits, '.', '_' and '-' (a folder name)."
        )
    deadline = _due_date(due) if due else None
    out = Path(out)
    available = chapters(book)
    chosen = available if not chapter_names else [_find(name, available) for name in chapter_names]
    for path in chosen:
        folder = out / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        notebook = source_notebook(path)
        if deadline:
            notebook.cells[
                0
            ].source += (
                f"\n\n**Due {deadline:%Y-%m-%d %H:%M} UTC**; {LATE_PENALTIES[late_penalty]}."
            )
        nbformat.write(notebook, folder / path.name)
    config = CONFIG.format(timeout=int(timeout), course_id=course_id, late_penalty=late_penalty)
    if exchange is not None:
        config += EXCHANGE.format(root=str(Path(exchange).resolve()))
    (out / "nbgrader_config.py").write_text(config)
    if deadline:
        with gradebook(out) as book_of_grades:
            for path in chosen:
                book_of_grades.update_or_create_assignment(path.stem, duedate=deadline)
    return out


def gradebook(course_dir):
    """The course's nbgrader gradebook (a context manager), created if missing."""
    import os
    import sys

    from nbgrader.api import Gradebook

    # nbgrader runs `alembic` by name to create the database.
    folder = os.path.dirname(sys.executable)
    if folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}")


def _due_date(text: str):
    """``text`` as a UTC datetime without time zone, as nbgrader's gradebook keeps it."""
    from datetime import UTC, datetime

    cleaned = text.strip().removesuffix("UTC").strip()
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise CourseError(
            f"due={text!r}: write the date as 2026-12-18 17:00 UTC (year-month-day hour:minute)."
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


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
