"""The course kit: nbgrader source notebooks from the book, student editions, real grading."""

import csv
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from retina_tutorial import cli, course

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = course.chapters()


def _grader_cells(notebook, kind):
    return [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get(kind)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_becomes_a_statement_an_answer_and_a_graded_test(chapter):
    exercises = course.exercises_of(course.read(chapter))
    source = course.source_notebook(chapter)
    answers, tests = _grader_cells(source, "solution"), _grader_cells(source, "grade")
    assert len(answers) == len(tests) == len(exercises) >= 3
    assert all(
        c.metadata["nbgrader"]["locked"] and c.metadata["nbgrader"]["points"] == 1 for c in tests
    )
    assert all(course.BEGIN in c.source and course.END in c.source for c in answers)
    for test, exercise in zip(tests, exercises):
        assert (
            f"exercises.{exercise.checker}(" in test.source
            and "assert result.passed" in test.source
        )
    ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)) == 3 * len(exercises)
    # The folded solutions are not in it; everything else of the chapter is.
    assert not any("hide-cell" in c.metadata.get("tags", []) for c in source.cells)
    assert not any(c.source.startswith("**Solution**") for c in source.cells)
    book = course.read(chapter)
    kept = [
        c.source
        for c in book.cells
        if c.cell_type == "markdown" and not c.source.startswith("**Solution**")
    ]
    assert kept == [c.source for c in source.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_versions_hold_no_solution_code(chapter):
    book = course.read(chapter)
    student = course.student_notebook(course.source_notebook(chapter))
    text = "\n".join(c.source for c in student.cells)
    assert course.BEGIN not in text and course.END not in text
    for exercise in course.exercises_of(book):
        worked = book.cells[exercise.solution].source.splitlines()
        worked = worked[: next(i for i, line in enumerate(worked) if line.startswith("result ="))]
        given = book.cells[exercise.stub].source  # setup lines students get anyway
        for line in worked:
            if line.strip() and line not in given and len(line.strip()) > 12:
                answer_cells = [c.source for c in _grader_cells(student, "solution")]
                assert not any(line in source for source in answer_cells), (chapter.stem, line)
    for cell in _grader_cells(student, "solution"):
        assert course.STUB_LINE.search(cell.source.splitlines()[-1]), cell.source


def test_the_instructors_page_lists_every_exercise_with_its_checker():
    page = (ROOT / "book" / "instructors.md").read_text()
    listed = re.findall(r"^\| (\d\d) \| (\d) \| .+ \| `(check_\w+)` \|$", page, re.MULTILINE)
    expected = [
        (r["chapter"][:2], str(r["exercise"]), r["checker"]) for r in course.exercise_table()
    ]
    assert listed == expected


def test_the_cli_writes_the_course_and_the_student_zip(tmp_path, capsys):
    out, archive = tmp_path / "course", tmp_path / "student.zip"
    assert (
        cli.main(
            ["course", "--out", str(out), "--chapters", "01", "05", "--student-zip", str(archive)]
        )
        == 0
    )
    assert "2 assignments: 01_data_preparation, 05_evaluation" in capsys.readouterr().out
    assert (out / "source" / "05_evaluation" / "05_evaluation.ipynb").is_file()
    config = (out / "nbgrader_config.py").read_text()
    assert (
        'c.ClearSolutions.code_stub = {"python": ""}' in config
        and "c.Execute.timeout = 600" in config
    )
    with zipfile.ZipFile(archive) as files:
        assert sorted(Path(n).name for n in files.namelist()) == sorted(p.name for p in CHAPTERS)
    assert cli.main(["course", "--out", str(out), "--chapters", "09"]) == 2
    assert "No chapter with exercises called '09'" in capsys.readouterr().err


# --- grading a class with nbgrader, for real --------------------------------------


def _nbgrader(course_dir, *arguments):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment["PATH"]
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments],
        cwd=course_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _submit(course_dir, assignment, student, answer_for):
    release = course_dir / "release" / assignment / f"{assignment}.ipynb"
    notebook = nbformat.read(release, as_version=4)
    for cell in _grader_cells(notebook, "solution"):
        cell.source = answer_for(cell.metadata["nbgrader"]["grade_id"], cell.source)
    folder = course_dir / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{assignment}.ipynb")


@pytest.mark.slow
def test_nbgrader_grades_a_class(tmp_path):
    pytest.importorskip("nbgrader")
    course_dir = course.write_course(tmp_path / "course", ["01", "02"])
    assignments = ["01_data_preparation", "02_unet_architecture"]
    worked = {}
    for assignment in assignments:
        _nbgrader(course_dir, "generate_assignment", assignment, "--force")
        source = nbformat.read(course_dir / "source" / assignment / f"{assignment}.ipynb", 4)
        for cell in _grader_cells(source, "solution"):
            body = cell.source.split(course.BEGIN + "\n", 1)[1].split("\n" + course.END, 1)[0]
            worked[cell.metadata["nbgrader"]["grade_id"]] = body

    def some_wrong(grade_id, stub):
        # Exercises 1 and 3 right, 2 and 4 answered wrong.
        return (
            stub
            + "\n"
            + (
                worked[grade_id]
                if grade_id.endswith(("ex1-answer", "ex3-answer"))
                else "answer = 0.5"
            )
        )

    for assignment in assignments:
        _submit(course_dir, assignment, "all_right", lambda gid, stub: stub + "\n" + worked[gid])
        _submit(course_dir, assignment, "some_wrong", some_wrong)
        _submit(course_dir, assignment, "none", lambda gid, stub: stub)
        _nbgrader(course_dir, "autograde", assignment, "--create")
    _nbgrader(course_dir, "export")
    with open(course_dir / "grades.csv", newline="") as table:
        rows = list(csv.DictReader(table))
    scores = {(row["student_id"], row["assignment"]): float(row["score"]) for row in rows}
    assert {float(row["max_score"]) for row in rows} == {4.0}
    for assignment in assignments:
        assert scores["all_right", assignment] == 4.0
        assert scores["some_wrong", assignment] == 2.0
        assert scores["none", assignment] == 0.0
    # Left as they are, the stubs run: every checker says so, and the only
    # cells that fail are the graded tests of the unanswered exercises.
    for assignment in assignments:
        graded = nbformat.read(
            course_dir / "autograded" / "none" / assignment / f"{assignment}.ipynb", 4
        )
        for cell in graded.cells:
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if cell.metadata.get("nbgrader", {}).get("grade"):
                text = "".join(
                    o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"
                )
                assert errors and "Not answered yet" in text
            else:
                assert not errors, cell.source[:200]
